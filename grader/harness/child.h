#pragma once
// Run a piece of student code in a child process, so that a hang, a crash or
// a stray exit() costs one test its verdict instead of taking the test binary
// (and every other test in it) down.
//
//   ipclab::Outcome outcome = ipclab::run_in_child(
//       [&] { return pipelab::read_all(read_end); }, std::chrono::seconds(3));
//   REQUIRE_RETURNED(outcome);   // checks.h: else it says how the body ended
//   CHECK(outcome.value == "hello");
//
// The body returns a std::string (its result, carried back over a pipe that is
// close-on-exec, so exec'd programs never see it). The child leads its own
// process group; when the deadline passes, the whole group is killed and the
// child reaped, so a test never leaves its processes behind.
//
// When the body ends, the child checks what it left behind compared with
// when it started (leaks.h) and reports it.
//
// Do not use doctest assertions inside a body: they would be counted in the
// child's copy of doctest and lost. Return what you want to check instead.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

namespace ipclab {

using std::chrono::milliseconds;

// How a body run in a child process ended.
struct Outcome {
  enum class Kind {
    returned,   // the body returned; `value` holds its result
    threw,      // the body threw; `value` holds the exception's text
    exited,     // the process called exit()/_exit() before the body returned
    signaled,   // the process was killed by signal `code`
    timed_out,  // the deadline passed; the process group was killed
  };
  Kind kind = Kind::returned;
  std::string value;
  int code = 0;  // exit status (exited) or signal number (signaled)
  // Leak lines (leaks.h) for what the body left behind when it ended:
  // descriptors, mappings, children. Also written to standard output.
  std::string leaks;
  milliseconds elapsed{0};
  // timed_out: the child was asleep in open() of a FIFO when its deadline
  // came, waiting for a process to open the other end (a deadlock of opens).
  bool blocked_in_fifo_open = false;

  [[nodiscard]] bool ok() const { return kind == Kind::returned; }
  // One sentence for a failure message, e.g.
  // "timed out after 3.0 s (the whole process group was killed)".
  [[nodiscard]] std::string describe() const;
};

// A body running in a forked child. Destroying a Child that has not been
// finished kills its process group and reaps it.
class Child {
 public:
  using Body = std::function<std::string()>;

  explicit Child(const Body& body);
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  [[nodiscard]] pid_t pid() const { return pid_; }

  // Waits up to `deadline` (counted from now) for the body to end.
  [[nodiscard]] Outcome finish(milliseconds deadline);

  // Whether the child has ended (it may not be finished yet): for a wait
  // that should give up as soon as the process it waits for is gone.
  [[nodiscard]] bool has_ended() const;

 private:
  void kill_group();

  pid_t pid_ = -1;
  int result_fd_ = -1;
  bool reaped_ = false;
  std::chrono::steady_clock::time_point started_;
};

// Starts `body` in a child and waits for it: the common case in one call.
[[nodiscard]] Outcome run_in_child(const Child::Body& body, milliseconds deadline);

}  // namespace ipclab
