#pragma once
// Names for IPC objects and scratch files that no other test process can be
// using: they carry this process's pid, a per-process counter and a random
// part, so parallel runs of the suite (and re-runs after a crash) never meet.
//
//   const std::string queue = ipclab::unique_ipc_name("requests");
//   // "/ipclab-4711-1-3fa9c2-requests": a valid POSIX IPC name
//
//   ipclab::ScratchDir dir;             // a fresh directory, removed with its contents
//   auto fifo = dir.path() / "control";

#include <filesystem>
#include <string>
#include <string_view>

namespace ipclab {

// A POSIX IPC name: one leading '/', no other '/', well under NAME_MAX.
[[nodiscard]] std::string unique_ipc_name(std::string_view tag);

class ScratchDir {
 public:
  ScratchDir();  // under $TMPDIR, or /tmp
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir();

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ipclab
