#include "grader/harness/helper.h"

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>

#include "grader/harness/fd.h"
#include "grader/harness/snapshot.h"

namespace ipclab {
namespace {

constexpr const char* kFlag = "--ipclab-helper";

int echo_fds() {
  // Listing first: the copy below must not hide a descriptor the stage got.
  const std::string fds = describe(open_descriptors());
  write_fully(STDOUT_FILENO, read_until_eof(STDIN_FILENO));
  write_fully(STDOUT_FILENO, "fds:" + fds.substr(fds.find(':') + 1) + "\n");
  return 0;
}

// Registered by static initializers, so a function-local static: it exists
// before the first registration whatever the order of initialization.
std::map<std::string, HelperMain, std::less<>>& registered() {
  static std::map<std::string, HelperMain, std::less<>> helpers;
  return helpers;
}

}  // namespace

HelperRegistration::HelperRegistration(std::string_view name, HelperMain main) {
  registered().emplace(std::string(name), main);
}

std::vector<std::string> helper_command(std::string_view helper) {
  return {std::filesystem::read_symlink("/proc/self/exe").string(), kFlag, std::string(helper)};
}

int run_helper_if_asked(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[1], kFlag) != 0) return -1;
  if (std::strcmp(argv[2], "echo-fds") == 0) return echo_fds();
  if (const auto found = registered().find(std::string_view(argv[2])); found != registered().end()) {
    return found->second(argc - 2, argv + 2);
  }
  return 2;
}

}  // namespace ipclab
