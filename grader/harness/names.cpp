#include "grader/harness/names.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <system_error>

namespace ipclab {
namespace fs = std::filesystem;
namespace {

std::string random_part() {
  static std::mt19937 engine{std::random_device{}()};
  char text[8];
  std::snprintf(text, sizeof text, "%06x", static_cast<unsigned>(engine() & 0xffffff));
  return text;
}

std::string next_stem() {
  static std::atomic<unsigned> counter{0};
  return "ipclab-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" + random_part();
}

}  // namespace

std::string unique_ipc_name(std::string_view tag) { return "/" + next_stem() + "-" + std::string(tag); }

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  path_ = fs::path(tmp && *tmp ? tmp : "/tmp") / next_stem();
  fs::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;  // a destructor must not throw; a leftover is harmless
  fs::remove_all(path_, ignored);
}

}  // namespace ipclab
