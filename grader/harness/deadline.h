#pragma once
// Waiting for another process, with one deadline for the whole test.
//
// A test that waits for several things (a child to create its FIFO, then to
// answer, then to end) must not wait kDeadline for each: a hang would cost
// the test many deadlines, and the grader's timeout would fire first with a
// message that says nothing. One Deadline, made when the waiting starts,
// gives each wait what is left of it:
//
//   const ipclab::Deadline deadline;            // kDeadline from now
//   Outcome read = reader.finish(deadline.left());
//   Outcome wrote = writer.finish(deadline.left());
//
// And a wait for a condition another process brings about, checked every few
// milliseconds, that gives up at the deadline:
//
//   REQUIRE_MESSAGE(ipclab::eventually([&] { return fifo_exists(path); }),
//                   "the server never created its FIFO");

#include <time.h>

#include <chrono>
#include <functional>

namespace ipclab {

// Long enough for a loaded 2-core machine; correct code takes milliseconds,
// so reaching it means a hang (a write end left open, a missing V(), a wait
// for a signal that never comes).
inline constexpr std::chrono::milliseconds kDeadline = std::chrono::seconds(10);

// A moment in the future, and what is left until it.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds budget = kDeadline);

  // What is left of it, never negative: 0 ms once it has passed.
  [[nodiscard]] std::chrono::milliseconds left() const;
  [[nodiscard]] bool passed() const { return left().count() == 0; }
  // The same moment on CLOCK_REALTIME, as mq_timedsend and sem_timedwait
  // want it.
  [[nodiscard]] timespec realtime() const;

 private:
  std::chrono::steady_clock::time_point until_;
};

// Checks `condition` every few milliseconds until it holds (true) or
// `deadline` passes (false). Only a process that never gets there makes it
// wait the whole deadline; the condition is checked once more at the end, so
// a condition that holds at the last moment counts.
[[nodiscard]] bool eventually(const std::function<bool()>& condition, const Deadline& deadline);
// The same with a deadline of `patience` from now.
[[nodiscard]] bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds patience = kDeadline);

}  // namespace ipclab
