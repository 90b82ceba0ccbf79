#pragma once
// What tests of shared memory and semaphores need on the test's own side:
//
// Shared<T>: memory the test shares with every process it forks (and every
// process those fork), for the test's own bookkeeping — an event log, a
// counter — that all of them must see, whatever the code under test does.
//
//   ipclab::Shared<Log> log;                 // MAP_SHARED | MAP_ANONYMOUS
//   ipclab::Child child([&] { log->record(1); return std::string(); });
//
// Flag: a one-shot notice between processes of one test, over a pipe, so a
// process waiting for it sleeps instead of polling.
//
//   ipclab::Flag created;                     // before forking
//   ... in one child:   created.raise();
//   ... in another:     if (!created.wait(kDeadline)) return "never created";
//
// mappings_containing: what a process still has mapped, to tell whether code
// under test unmapped what it mapped (munmap, sem_close).
//
//   auto left = ipclab::mappings_containing("/dev/shm/sem.");
//
// private_dev_shm: a /dev/shm of the test's own, for tests that count the
// objects in it (IpcObjects) and would otherwise take objects made by
// anything running beside them for leaks.
//
//   ipclab::private_dev_shm();             // first, before anything is made
//   const auto before = ipclab::IpcObjects::now();

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "grader/harness/fd.h"

namespace ipclab {

// size bytes of zeroed memory shared with processes forked later; throws
// std::system_error if it cannot be mapped.
[[nodiscard]] void* map_shared_anonymous(std::size_t size);
void unmap_shared(void* at, std::size_t size);

template <class T>
class Shared {
  // Nothing runs a destructor in the processes that share it, and a heap
  // pointer would mean a different thing in each of them.
  static_assert(std::is_trivially_destructible_v<T>,
                "a Shared<T> holds plain data and std::atomic only: no destructor, no heap");

 public:
  Shared() : object_(new (map_shared_anonymous(sizeof(T))) T()) {}
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  ~Shared() { unmap_shared(object_, sizeof(T)); }

  T* operator->() const { return object_; }
  T& operator*() const { return *object_; }

 private:
  T* object_;
};

class Flag {
 public:
  Flag() = default;  // a close-on-exec pipe; throws std::system_error
  // Lets one wait() through (each raise() lets one more through).
  void raise();
  // Waits until raised, up to `patience`; false if it never was.
  [[nodiscard]] bool wait(std::chrono::milliseconds patience);

 private:
  Pipe pipe_;
};

// Moves this process, and the processes it forks from now on, into a mount
// namespace of its own with a fresh, empty tmpfs on /dev/shm. The grader's
// sandbox gives every test that already; this is for runs without it, such
// as `bazel test`, where test binaries run side by side and share the
// machine's /dev/shm. Where the process may not do this (no privilege), it
// changes nothing and returns false: the test then runs as before.
bool private_dev_shm();

// Paths (the last field of /proc/PID/maps) of the mappings whose path contains
// `needle`, e.g. "/dev/shm/sem.x (deleted)"; pid 0 is this process.
[[nodiscard]] std::vector<std::string> mappings_containing(std::string_view needle, pid_t pid = 0);

}  // namespace ipclab
