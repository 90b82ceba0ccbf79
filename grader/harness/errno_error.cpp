#include "grader/harness/errno_error.h"

#include <cerrno>
#include <system_error>

namespace ipclab {

void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

}  // namespace ipclab
