#include "grader/harness/child.h"

#include "grader/harness/errno_error.h"
#include "grader/harness/leaks.h"
#include "grader/harness/observe.h"
#include "grader/harness/verdict.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cxxabi.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <system_error>
#include <typeinfo>

namespace ipclab {
namespace {

// The first byte on the result pipe says how the body ended.
constexpr char kReturned = 'R';
constexpr char kThrew = 'T';

// Exit status of a process that ran past the body in a grandchild: a student's
// forked child that returned into the test instead of calling _exit.
constexpr int kStrayChildStatus = 70;

void write_result(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // the parent is gone; nobody is left to tell
    done += static_cast<size_t>(n);
  }
}

void report_leaks(const std::string& records) {
  std::size_t from = 0;
  for (std::size_t end; (end = records.find('\n', from)) != std::string::npos; from = end + 1) {
    verdict::send(std::string_view(records).substr(from, end - from));
  }
}

// Tells the grader that the test killed a process of the code under test at
// its deadline: what that process would have cleaned up at its end, it
// never could, so the grader does not charge it as a leak.
void report_killed_at_deadline(pid_t pid) {
  verdict::send(R"({"event":"killed at deadline","pid":)" + std::to_string(pid) + "}");
}

std::string demangled(const char* name) {
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string text = status == 0 ? readable : name;
  std::free(readable);
  return text;
}

std::string exception_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return demangled(typeid(e).name()) + ": " + e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

// The test binary's signal handlers (doctest's crash reporting) and mask must
// not leak into the code under test: it starts as a fresh process would.
void reset_signals() {
  for (int signal = 1; signal < NSIG; ++signal) ::signal(signal, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  stack_t no_stack{};
  no_stack.ss_flags = SS_DISABLE;
  ::sigaltstack(&no_stack, nullptr);
}

// The result pipe carries: one tag byte, the value's length (8 bytes), the
// value, then the leak lines found when the body ended.
std::string result_message(char tag, const std::string& value, const std::string& leaks) {
  const std::uint64_t length = value.size();
  return tag + std::string(reinterpret_cast<const char*>(&length), sizeof length) + value + leaks;
}

[[noreturn]] void run_body(const Child::Body& body, int result_fd) {
  reset_signals();
  const pid_t self = ::getpid();
  const ProcessResources before = ProcessResources::now();
  char tag = kReturned;
  std::string value;
  try {
    value = body();
  } catch (...) {
    tag = kThrew;
    value = exception_text();
  }
  // A fork inside the body whose child did not _exit() comes back here too;
  // only the process we started may report a result.
  if (::getpid() != self) ::_exit(kStrayChildStatus);
  std::string leaks;
  for (const auto& finding : leaks_since(before)) leaks += leak_record(finding);
  write_result(result_fd, result_message(tag, value, leaks));
  std::fflush(nullptr);
  ::_exit(0);
}

// Reads whatever is available on a non-blocking descriptor.
void drain(int fd, std::string& into) {
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      into.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return;  // EOF, EAGAIN (nothing more for now) or an error
  }
}

std::string seconds_text(milliseconds ms) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return text;
}

}  // namespace

std::string Outcome::describe() const {
  switch (kind) {
    case Kind::returned: return "returned normally";
    case Kind::threw: return "threw " + value;
    case Kind::exited:
      return "the process exited with status " + std::to_string(code) +
             " before the code under test returned (exit() called inside it?)";
    case Kind::signaled:
      return "the process was killed by signal " + std::to_string(code) + " (" + ::strsignal(code) + ")";
    case Kind::timed_out:
      return "timed out after " + seconds_text(elapsed) + " (the whole process group was killed)" +
             (blocked_in_fifo_open ? ", blocked in open() of a FIFO, waiting for a process to open its other end" : "");
  }
  return "ended in an unknown way";
}

Child::Child(const Body& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2(result pipe)");
  std::fflush(nullptr);  // so buffered output is not written twice
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw_errno("fork");
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);
    // The test binary is not dumpable (verdict.cpp); the parent observes
    // this child through /proc (wchan, descriptors), which needs it to be.
    ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    ::close(fds[0]);
    run_body(body, fds[1]);
  }
  // Set the group from both sides so kill_group() works even if we are first.
  ::setpgid(pid_, pid_);
  ::close(fds[1]);
  result_fd_ = fds[0];
  ::fcntl(result_fd_, F_SETFL, O_NONBLOCK);
  started_ = std::chrono::steady_clock::now();
}

Child::~Child() {
  if (!reaped_) {
    kill_group();
    ::waitpid(pid_, nullptr, 0);
  }
  if (result_fd_ >= 0) ::close(result_fd_);
}

bool Child::has_ended() const {
  siginfo_t info{};
  // WNOWAIT leaves the child a zombie, so its pid stays ours until reaped.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
  return info.si_pid == pid_;
}

void Child::kill_group() {
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);  // in case it left the group
}

Outcome Child::finish(milliseconds deadline) {
  using clock = std::chrono::steady_clock;
  const auto until = clock::now() + deadline;
  std::string received;
  Outcome outcome;
  int status = 0;
  for (;;) {
    pollfd waiting{result_fd_, POLLIN, 0};
    ::poll(&waiting, 1, 10);
    drain(result_fd_, received);
    if (has_ended()) break;
    if (clock::now() >= until) {
      // Before the kill, while the kernel can still say where it sleeps.
      const auto last_seen = sample_process(pid_);
      outcome.blocked_in_fifo_open = last_seen && in_fifo_open(*last_seen);
      kill_group();
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      report_killed_at_deadline(pid_);
      outcome.kind = Outcome::Kind::timed_out;
      outcome.elapsed = std::chrono::duration_cast<milliseconds>(clock::now() - started_);
      return outcome;
    }
  }
  // Whatever the body left running in its group dies with it. The child is
  // not reaped yet, so its group id cannot have been reused.
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
  // The body's processes may have held the pipe open, so do not wait for EOF:
  // whatever the child wrote before it exited is already in the pipe.
  drain(result_fd_, received);
  outcome.elapsed = std::chrono::duration_cast<milliseconds>(clock::now() - started_);
  if (WIFSIGNALED(status)) {
    outcome.kind = Outcome::Kind::signaled;
    outcome.code = WTERMSIG(status);
  } else if (received.empty()) {
    outcome.kind = Outcome::Kind::exited;
    outcome.code = WEXITSTATUS(status);
  } else {
    outcome.kind = received[0] == kReturned ? Outcome::Kind::returned : Outcome::Kind::threw;
    std::uint64_t length = 0;
    received.copy(reinterpret_cast<char*>(&length), sizeof length, 1);
    outcome.value = received.substr(1 + sizeof length, length);
    outcome.leaks = received.substr(1 + sizeof length + length);
    // The grader deducts for these as lab.toml says; the test's own
    // verdict does not change.
    report_leaks(outcome.leaks);
  }
  return outcome;
}

Outcome run_in_child(const Child::Body& body, milliseconds deadline) {
  Child child(body);
  return child.finish(deadline);
}

}  // namespace ipclab
