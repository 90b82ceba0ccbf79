#pragma once
// Observe, from outside, whether a process is blocked: asleep in the kernel,
// using no CPU and not being woken up. Tests use this instead of sleeping and
// hoping, so a verdict on "read() blocks on an empty pipe" is the same on an
// idle machine and on one with both cores busy.
//
//   ipclab::Child reader([&] { return pipelab::read_all(read_end); });
//   ipclab::Blocked blocked = ipclab::wait_until_blocked(reader.pid());
//   CHECK_MESSAGE(blocked.yes, blocked.evidence);
//
// A process counts as blocked when, across a quiet window, every sample shows
// it sleeping (state S or D in /proc/PID/stat) and neither its CPU time
// (/proc/PID/schedstat, in nanoseconds) nor its context-switch count moved.
// A busy-wait (O_NONBLOCK and EAGAIN in a loop) runs and is rescheduled all
// the time, and a poll-and-sleep loop is woken at every tick; both fail.
// So does a process filling a huge allocation, whose page faults use CPU: its
// minor faults (/proc/PID/stat) tell that apart (Blocked::growing_memory).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace ipclab {

struct ProcessSample {
  char state = '?';                    // R running, S sleeping, D disk sleep, Z zombie, ...
  std::uint64_t cpu_ns = 0;            // time spent on a CPU
  std::uint64_t context_switches = 0;  // voluntary + involuntary
  std::string wait_channel;            // kernel function it sleeps in, when the kernel tells
  std::uint64_t minor_faults = 0;      // pages it has touched for the first time, and the like
  std::uint64_t peak_rss_kib = 0;      // the most memory it has held at once (VmHWM)
};

// Whether the sample shows a process asleep in open() of a FIFO, waiting for
// a process to open the other end: the kernel's wait channel names it.
[[nodiscard]] bool in_fifo_open(const ProcessSample& sample);

// One reading of /proc/PID; nullopt once the process is gone (or reaped).
[[nodiscard]] std::optional<ProcessSample> sample_process(pid_t pid);

// Whether `pid` has ended: a zombie, or gone. For any process; for a Child,
// Child::has_ended says the same without reading /proc.
[[nodiscard]] bool has_ended(pid_t pid);

struct Blocked {
  bool yes = false;
  std::string evidence;  // one sentence either way, for the failure message
  // It never blocked, and its CPU went into page faults of memory it kept
  // growing (a huge allocation being filled), not into polling.
  bool growing_memory = false;
  explicit operator bool() const { return yes; }
};

// Waits up to `patience` for `pid` to stay blocked for a whole `quiet` window.
[[nodiscard]] Blocked wait_until_blocked(pid_t pid, std::chrono::milliseconds patience = std::chrono::seconds(5),
                                         std::chrono::milliseconds quiet = std::chrono::milliseconds(300));

}  // namespace ipclab
