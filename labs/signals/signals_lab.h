#pragma once
// Lab `signals` — handlers, the self-pipe trick, reaping, signals as
// messages, masks, SIGPIPE, EINTR, and cleanup on termination.
//
// A signal is the smallest message one process can send another: a number,
// sent with kill() or sigqueue(), or by the kernel itself (SIGCHLD when a
// child ends, SIGPIPE when a pipe has no reader left). It is delivered
// *asynchronously*: the kernel interrupts the process wherever it is, runs
// the handler installed for that signal, then lets the process go on. In this
// lab you build, each declared below:
//
//   1. SignalFlag                    — a handler that only sets a flag;
//   2. EventLoop                     — the self-pipe trick: signals as events;
//   3. reap_children, ChildReaper    — reaping on SIGCHLD, no zombie left;
//   4. SignalBlock, wait_for_signal  — the signal mask, and waiting for a signal;
//   5. send_values, receive_values   — real-time signals as messages;
//   6. write_unless_closed           — SIGPIPE and EPIPE;
//   7. read_retrying                 — EINTR;
//   8. run_server                    — a server that cleans up when told to stop.
//
// Implement them in signals_lab.cpp. This header is the contract the tests
// use: do not change it.
//
// Facts you will need (man 7 signal, man 7 signal-safety, man 2 sigaction):
//   * A handler can interrupt ANY code, even the middle of malloc or printf.
//     So it may only call async-signal-safe functions (write, read, waitpid,
//     kill, ...: the list is in `man 7 signal-safety`; printf, malloc, new
//     and anything that allocates, such as std::string, are NOT on it) and
//     store to `volatile sig_atomic_t` variables. And it must leave errno as
//     it found it: the code it interrupted may be about to read errno.
//   * Standard signals (1 to 31: SIGINT, SIGTERM, SIGCHLD, SIGUSR1, ...) do
//     not queue: while one is pending, more of the same number are merged
//     into it. Real-time signals (SIGRTMIN to SIGRTMAX) queue: every one sent
//     is delivered, in the order sent, with the value sigqueue() gave it.
//   * The signal mask (sigprocmask) holds signals back: a blocked signal stays
//     pending, and is delivered the moment it is unblocked.
//   * A blocking call (read, write, waitpid, ...) interrupted by a handler
//     either resumes by itself, when the handler was installed with
//     SA_RESTART, or fails with errno EINTR. poll() always fails with EINTR.
//   * Default actions: SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE and the
//     real-time signals end the process; SIGCHLD is ignored.
//   * sigaction() returns the action it replaces: keep it, and put it back
//     when you are done, so the rest of the program finds what it left.

#include <signal.h>
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace siglab {

// ---- Part 1: a handler that only sets a flag ------------------------------

// Catches the signal `signo` for as long as it lives.
//
// The constructor installs, with sigaction, a handler that does nothing but
// set a flag for `signo` (a `volatile sig_atomic_t`: a handler gets no
// pointer to any object, so the flags live in a global array indexed by
// signal number). It keeps the action it replaced; the destructor restores it.
//
// The handler is installed WITHOUT SA_RESTART: a blocking call in progress
// when the signal arrives then fails with EINTR, which gives the program the
// chance to look at the flag instead of sleeping on. It stays installed after
// it has run, however many signals arrive (no SA_RESETHAND).
//
// One SignalFlag per signal number at a time. Throws std::system_error if
// sigaction fails (for example for SIGKILL, which cannot be caught).
class SignalFlag {
 public:
  explicit SignalFlag(int signo);
  ~SignalFlag();
  SignalFlag(const SignalFlag&) = delete;
  SignalFlag& operator=(const SignalFlag&) = delete;

  // True if the signal was caught since the last call (or since the
  // constructor); clears the flag. Several signals caught in between count
  // as one: a flag, unlike a counter, is honest about standard signals,
  // which do not queue.
  [[nodiscard]] bool take();

 private:
  int signo_;
  struct sigaction previous_ {};  // what the destructor puts back
};

// ---- Part 2: the self-pipe trick -------------------------------------------

// A loop that waits, in one blocking poll(), for descriptors to become
// readable AND for signals: a signal becomes one more event.
//
// The trick: the loop owns a pipe, the self-pipe. The handler installed by
// on_signal only notes which signal arrived and writes one byte to the
// pipe's write end (set O_NONBLOCK: a handler must never block, and if the
// pipe is full, a wake-up is already waiting). The read end is one of the
// descriptors poll() waits on, so a signal wakes the loop. The loop then
// drains the pipe and calls the signal's callback — from run(), as ordinary
// code, where it may do anything (printf, malloc, throw) a handler must not.
//
// At most one EventLoop exists at a time: a handler has no argument through
// which to find "its" loop, so it finds the self-pipe through a global.
class EventLoop {
 public:
  using Callback = std::function<void()>;

  EventLoop();   // creates the self-pipe
  ~EventLoop();  // restores every signal action it replaced; closes the self-pipe
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // From now on, run() calls `callback` after `signo` has arrived. The
  // handler is installed at once (sigaction, with SA_RESTART so that other
  // blocking calls are not disturbed), so a signal that arrives before run()
  // is not lost: run() handles it first thing. Arrivals of a standard signal
  // between two wake-ups may be merged into one call.
  void on_signal(int signo, Callback callback);

  // From now on, run() calls `callback` whenever `fd` is readable; the
  // callback does the reading. The loop does not own `fd`.
  void on_readable(int fd, Callback callback);

  // Makes run() return as soon as the callback that called stop() returns.
  void stop();

  // Waits without using the CPU (poll with no timeout) and calls callbacks
  // until one of them calls stop(). A poll() interrupted by a signal (EINTR)
  // is not an error: it is how the signal's byte announces itself. Throws
  // std::system_error on any other error; what a callback throws passes through.
  void run();

 private:
  struct State;  // yours to define in signals_lab.cpp
  std::unique_ptr<State> state_;
};

// ---- Part 3: reaping on SIGCHLD --------------------------------------------

// Reaps every child process that has already ended — however many — and
// returns how many it reaped. Never waits for a child that is still running:
// waitpid(-1, &status, WNOHANG) in a loop, until it returns 0 (children
// remain, none has ended) or fails with ECHILD (no children at all); EINTR
// is retried.
//
// Async-signal-safe: it calls nothing but waitpid, and leaves errno as it
// found it, so a SIGCHLD handler can call it.
int reap_children();

// Reaps children as they end, for as long as it lives: installs a SIGCHLD
// handler (sigaction, SA_RESTART | SA_NOCLDSTOP) that calls reap_children();
// the destructor restores the previous action.
//
// SIGCHLD is a standard signal: ten children ending at once may raise it
// ONCE, so the handler reaps every ended child, never one per signal.
// SA_RESTART, because a child's end must not make the program's blocking
// calls fail with EINTR.
class ChildReaper {
 public:
  ChildReaper();
  ~ChildReaper();
  ChildReaper(const ChildReaper&) = delete;
  ChildReaper& operator=(const ChildReaper&) = delete;

 private:
  struct sigaction previous_ {};
};

// ---- Part 4: masks and waiting ---------------------------------------------

// Blocks `signals` for as long as it lives (sigprocmask): a blocked signal is
// not lost, it stays pending and is delivered when the block ends.
// The destructor restores the mask exactly as it was before — it does not
// just unblock `signals`: an enclosing SignalBlock may have blocked one of
// them too, and must find it still blocked.
class SignalBlock {
 public:
  explicit SignalBlock(std::initializer_list<int> signals);
  ~SignalBlock();
  SignalBlock(const SignalBlock&) = delete;
  SignalBlock& operator=(const SignalBlock&) = delete;

 private:
  sigset_t previous_{};
};

// Waits for one of `signals`, which the caller has blocked (SignalBlock),
// takes it, and returns its number. Sleeps in the kernel, using no CPU, until
// one arrives; returns at once if one is already pending — including one
// that arrived before the call. (sigwaitinfo does exactly this; so does
// sigsuspend with a handler. Unblocking and then calling pause() does not:
// a signal arriving in between is handled, and pause() waits forever.)
// Retries EINTR.
int wait_for_signal(std::initializer_list<int> signals);

// ---- Part 5: signals as messages -------------------------------------------

// Sends each of `values`, in order, to process `pid` as one signal `signo`
// carrying that value (sigqueue: kill sends no value). Throws
// std::system_error if a signal cannot be sent.
void send_values(pid_t pid, int signo, const std::vector<int>& values);

// Receives `count` values sent with send_values and returns them in the
// order they arrived. `signo` must be a real-time signal, which the caller
// has blocked (so that values queue up instead of ending the process). Waits
// without using the CPU while none is pending; a handler for another signal
// that interrupts the wait (EINTR) is no error, and it waits on.
//
// Throws std::invalid_argument, without waiting, if `signo` is a standard
// signal: those do not queue, so `count` of them may well arrive as one, and
// the call would wait forever for the rest.
std::vector<int> receive_values(int signo, std::size_t count);

// ---- Part 6: SIGPIPE and EPIPE ---------------------------------------------

// Writes every byte of `data` to `fd` (a pipe or a FIFO) and returns true —
// or returns false if the reading side is gone (write fails with EPIPE).
//
// A write to a pipe with no reader raises SIGPIPE, whose default action ends
// the process; write fails with EPIPE only when SIGPIPE is ignored. So
// SIGPIPE is ignored while this function writes, and its previous action is
// restored before it returns. Short writes and EINTR are retried; any other
// error throws std::system_error.
bool write_unless_closed(int fd, std::string_view data);

// ---- Part 7: EINTR ---------------------------------------------------------

// One read() of at most `max` bytes from `fd`, returned as a string ("" at
// end-of-file). When a handler installed without SA_RESTART (such as
// SignalFlag's) runs during the read, read() fails with EINTR: that is not
// an error, so the read is simply started again. Any other error throws
// std::system_error.
std::string read_retrying(int fd, std::size_t max);

// ---- Part 8: cleanup on termination ----------------------------------------

// The size of one message in the server's queue (its mq_msgsize); the queue
// holds at most 10 messages (mq_maxmsg).
inline constexpr long kServerMessageSize = 1024;

// What the server keeps in its shared-memory object, so that a client can
// find out which process to signal.
struct ServerInfo {
  pid_t pid;
};

// The names of the three IPC objects a server owns.
struct ServerNames {
  std::filesystem::path fifo;  // a FIFO node: clients write requests into it
  std::string queue;           // a POSIX message queue, "/name": the server forwards requests into it
  std::string shm;             // a POSIX shared-memory object, "/name": one ServerInfo
};

// Runs a small server until it receives SIGTERM or SIGINT, then removes
// every IPC object it created and returns normally (so that the program can
// exit with status 0).
//
// In order:
//   1. Arranges to be told about SIGTERM and SIGINT before it creates
//      anything, so that a stop request can never leave an object behind.
//   2. Creates the three objects, each failing if the name already exists:
//      the FIFO (mkfifo, mode 0600); the queue (mq_open with O_CREAT |
//      O_EXCL, mq_maxmsg 10, mq_msgsize kServerMessageSize); the
//      shared-memory object (shm_open with O_CREAT | O_EXCL, ftruncate to
//      sizeof(ServerInfo)), holding this process's pid.
//   3. Serves: whatever one read() of at most kServerMessageSize bytes gets
//      from the FIFO is sent to the queue as one message. Open the FIFO
//      O_RDWR: the server is then one of its writers, so it never sees
//      end-of-file when clients come and go, and open() does not block.
//      While no request is there, the server waits without using the CPU.
//   4. On SIGTERM or SIGINT: stops serving, and removes the names (unlink,
//      mq_unlink, shm_unlink) and closes what it opened.
//
// Throws std::system_error if something cannot be created — after removing
// whatever it had created already.
void run_server(const ServerNames& names);

}  // namespace siglab
