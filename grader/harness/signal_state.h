#pragma once
// What the kernel says about a process's signals, read from outside through
// /proc/PID/status, so a test can see what the process itself cannot show:
// a signal that was sent but is held back by the mask stays *pending*.
//
//   auto state = ipclab::signal_state(child.pid());
//   CHECK_MESSAGE(state && state->is_pending(SIGUSR1), ipclab::describe(*state));
//
// "Pending" here is the union of the thread's own pending set (SigPnd:
// raise(), pthread_kill()) and the process-wide one (ShdPnd: kill(),
// sigqueue()).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace ipclab {

struct SignalState {
  std::uint64_t pending = 0;  // sent, not yet delivered (SigPnd | ShdPnd)
  std::uint64_t blocked = 0;  // the mask (SigBlk)
  std::uint64_t ignored = 0;  // action SIG_IGN (SigIgn)
  std::uint64_t caught = 0;   // a handler is installed (SigCgt)

  [[nodiscard]] bool is_pending(int signo) const { return contains(pending, signo); }
  [[nodiscard]] bool is_blocked(int signo) const { return contains(blocked, signo); }
  [[nodiscard]] bool is_ignored(int signo) const { return contains(ignored, signo); }
  [[nodiscard]] bool is_caught(int signo) const { return contains(caught, signo); }

  // Bit signo-1 of a /proc signal set.
  [[nodiscard]] static bool contains(std::uint64_t set, int signo);
};

// One reading of /proc/PID/status; nullopt once the process is gone.
[[nodiscard]] std::optional<SignalState> signal_state(pid_t pid);

// "SIGUSR1 SIGRTMIN+1", or "none".
[[nodiscard]] std::string signal_names(std::uint64_t set);
// "pending: SIGUSR1; blocked: SIGUSR1 SIGCHLD; ignored: none; caught: SIGTERM".
[[nodiscard]] std::string describe(const SignalState& state);

// Catches `signo` in this process with a handler that does nothing, installed
// without SA_RESTART: a blocking call the signal interrupts then fails with
// EINTR instead of being restarted by the kernel. How tests check that code
// retries what a signal interrupts.
void interrupt_on(int signo);

}  // namespace ipclab
