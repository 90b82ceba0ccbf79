// Lab `pipe`: your implementation. Read pipe_lab.h first: it says exactly
// what each function must do. Replace each `throw` below with your code.
//
// Check your work with:   ./grade pipe
//
// Headers you will likely want: <unistd.h> (pipe, fork, read, write, close,
// dup2, execvp, _exit), <sys/wait.h> (waitpid, WIFEXITED, ...), <cerrno>,
// <system_error>, <stdexcept>.

#include "labs/pipe/pipe_lab.h"

#include <stdexcept>

namespace pipelab {

void write_all(int /*fd*/, std::string_view /*data*/) {
  // TODO: call write() until every byte is written; retry EINTR; throw
  // std::system_error(errno, std::generic_category(), "write") on failure.
  throw std::logic_error("not implemented: write_all (pipe_lab.cpp)");
}

std::string read_all(int /*fd*/) {
  // TODO: call read() into a buffer until it returns 0 (end-of-file),
  // appending what each call returns.
  throw std::logic_error("not implemented: read_all (pipe_lab.cpp)");
}

std::string ask_child(std::string_view /*request*/, const std::function<std::string(std::string_view)>& /*serve*/) {
  // TODO: two pipes, fork; in the child: close the ends it does not use,
  // read the request, write the answer, _exit(0). In the parent: close the
  // ends it does not use, send the request, close, read the answer, waitpid.
  throw std::logic_error("not implemented: ask_child (pipe_lab.cpp)");
}

int run_pipeline(const std::vector<std::vector<std::string>>& /*stages*/) {
  // TODO: one pipe between each pair of neighbouring stages; fork each
  // stage, dup2 its ends onto 0 and 1, close every pipe descriptor, execvp.
  // The parent closes all pipe ends, then reaps every stage.
  throw std::logic_error("not implemented: run_pipeline (pipe_lab.cpp)");
}

}  // namespace pipelab
