#pragma once
// Snapshots of what a piece of IPC code can leave behind, and the sentences
// that name a leak:
//
//   auto before = ipclab::IpcObjects::now();
//   ... run the code under test ...
//   auto leaks = ipclab::IpcObjects::now().created_since(before);
//   CHECK_MESSAGE(leaks.empty(), ipclab::leak_report("IPC objects left behind", leaks));
//
// IPC objects: POSIX shared memory and named semaphores live in /dev/shm
// ("sem.NAME" for a semaphore), POSIX message queues in /dev/mqueue, FIFOs
// are nodes in a directory.

#include <sys/types.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace ipclab {

// Entry names of a directory; empty when it does not exist.
[[nodiscard]] std::set<std::string> entries_of(const std::filesystem::path& dir);

struct IpcObjects {
  std::set<std::string> shm;     // names in /dev/shm
  std::set<std::string> mqueue;  // names in /dev/mqueue

  [[nodiscard]] static IpcObjects now();
  // Paths of objects present now but not in `before`, e.g. "/dev/mqueue/ipclab-12-1-q".
  [[nodiscard]] std::vector<std::string> created_since(const IpcObjects& before) const;
};

// FIFO nodes directly inside `dir`, as paths.
[[nodiscard]] std::set<std::string> fifo_nodes(const std::filesystem::path& dir);

// Open descriptor numbers of a process (default: this one).
[[nodiscard]] std::set<int> open_descriptors(pid_t pid = 0);

struct ChildProcess {
  pid_t pid = 0;
  char state = '?';  // 'Z' for a zombie: exited, never reaped
  std::string command;
};
// Direct children of a process (default: this one), zombies included.
[[nodiscard]] std::vector<ChildProcess> children_of(pid_t pid = 0);

// "IPC objects left behind: /dev/shm/x, /dev/mqueue/y", or "" when none.
[[nodiscard]] std::string leak_report(const std::string& what, const std::vector<std::string>& items);
// The same for a set, as entries_of and fifo_nodes give them:
//   CHECK_MESSAGE(left.empty(), ipclab::leak_report("FIFO nodes left behind", left));
[[nodiscard]] std::string leak_report(const std::string& what, const std::set<std::string>& items);
// "children still present: 4012 (sleep, zombie — never reaped by waitpid)", or "".
[[nodiscard]] std::string leak_report(const std::vector<ChildProcess>& children);
// "descriptors open: 0 1 2 5".
[[nodiscard]] std::string describe(const std::set<int>& descriptors);

}  // namespace ipclab
