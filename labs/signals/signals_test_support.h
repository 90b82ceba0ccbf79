#pragma once
// What the signals lab's tests share: a deadline, a "ready" handshake with a
// child, the tests' own signal set-up (so that a test of one part never
// depends on the student's code for another), and a running server's names.
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/deadline.h"
#include "grader/harness/fd.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/snapshot.h"
#include "labs/signals/signals_lab.h"

namespace siglab::testing {

using namespace std::chrono_literals;

// Reaching it means a hang: usually a wait for a signal that never comes.
using ipclab::kDeadline;

// For waiting on another process's progress (children to end, a server to
// create its objects): only a process that never gets there makes the test
// wait the whole patience.
using ipclab::eventually;

// A child tells the test it has done its set-up (installed handlers, blocked
// signals) before the test sends it anything.
class Ready {
 public:
  // In the child.
  void signal() { ipclab::write_fully(pipe_.write.get(), "R"); }
  // In the test: "" once `child` says it is ready; if it ends or the
  // deadline passes first, how it ended (it is then finished).
  [[nodiscard]] std::string wait(ipclab::Child& child) {
    pollfd ready{pipe_.read.get(), POLLIN, 0};
    const bool said = eventually([&] { return ::poll(&ready, 1, 0) == 1 || child.has_ended(); }, kDeadline) &&
                      ::poll(&ready, 1, 0) == 1;
    return said ? "" : "the child never got ready: it " + child.finish(kDeadline).describe();
  }

 private:
  ipclab::Pipe pipe_;
};

// Lines a child's callbacks write as they run, read by the test one at a
// time: the test sees each step happen before it causes the next one.
class Reports {
 public:
  // In the child.
  void say(const std::string& line) { ipclab::write_fully(pipe_.write.get(), line + "\n"); }
  // In the test: the next line; "" if `child` ends or the deadline passes first.
  [[nodiscard]] std::string next(const ipclab::Child& child) {
    std::string line;
    pollfd readable{pipe_.read.get(), POLLIN, 0};
    for (char c = 0; c != '\n';) {
      if (!eventually([&] { return ::poll(&readable, 1, 0) == 1 || child.has_ended(); }, kDeadline) ||
          ::poll(&readable, 1, 0) != 1 || ::read(pipe_.read.get(), &c, 1) != 1) {
        return "";
      }
      if (c != '\n') line += c;
    }
    return line;
  }

 private:
  ipclab::Pipe pipe_;
};

inline sigset_t set_of(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : signals) sigaddset(&set, signo);
  return set;
}

// The tests' own sigprocmask, used to set the scene.
inline void block(std::initializer_list<int> signals) {
  const sigset_t set = set_of(signals);
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
}

// Which of `signals` are blocked now: "SIGUSR1 SIGUSR2", or "none".
inline std::string blocked_among(std::initializer_list<int> signals) {
  sigset_t mask;
  ::sigprocmask(SIG_BLOCK, nullptr, &mask);
  std::string names;
  for (int signo : signals) {
    if (sigismember(&mask, signo)) {
      names += (names.empty() ? "SIG" : " SIG") + std::string(::sigabbrev_np(signo));
    }
  }
  return names.empty() ? "none" : names;
}

// The tests' own handler: it counts deliveries.
inline volatile sig_atomic_t deliveries = 0;
inline void count_delivery(int) { deliveries = deliveries + 1; }

// Installs count_delivery for `signo`; flags 0 means no SA_RESTART, so a
// blocking call it interrupts fails with EINTR.
inline void install_counter(int signo, int flags = 0) {
  struct sigaction action {};
  action.sa_handler = count_delivery;
  action.sa_flags = flags;
  sigemptyset(&action.sa_mask);
  ::sigaction(signo, &action, nullptr);
}

// The action installed for `signo`, in words.
inline std::string action_of(int signo) {
  struct sigaction action {};
  ::sigaction(signo, nullptr, &action);
  if (action.sa_handler == SIG_DFL) return "default";
  if (action.sa_handler == SIG_IGN) return "ignored";
  if (action.sa_handler == count_delivery) return "the test's handler";
  return "another handler";
}

// "3 -7 12" and back.
inline std::string joined(const std::vector<int>& values) {
  std::string text;
  for (int value : values) text += (text.empty() ? "" : " ") + std::to_string(value);
  return text;
}
inline std::vector<int> split(const std::string& text) {
  std::vector<int> values;
  std::istringstream in(text);
  for (int value; in >> value;) values.push_back(value);
  return values;
}

// "" when equal; otherwise what went wrong with the values, in words.
inline std::string values_difference(const std::vector<int>& sent, const std::vector<int>& got) {
  if (sent == got) return "";
  bool all_zero = !got.empty();
  for (int value : got) all_zero = all_zero && value == 0;
  if (all_zero) return "every value arrived as 0: kill() sends no value, sigqueue() carries one";
  std::string text = "sent " + std::to_string(sent.size()) + " values, received " + std::to_string(got.size());
  for (std::size_t i = 0; i < sent.size() && i < got.size(); ++i) {
    if (sent[i] != got[i]) {
      return text + "; value #" + std::to_string(i) + " should be " + std::to_string(sent[i]) + ", got " +
             std::to_string(got[i]);
    }
  }
  return text;
}

// Children of this process, counted by state.
inline int zombie_children() {
  int zombies = 0;
  for (const auto& child : ipclab::children_of()) zombies += child.state == 'Z';
  return zombies;
}

// Reaps whatever children the test itself started and left (the test's
// own cleanup, whatever the code under test did), waiting for each.
inline void reap_for_the_test() {
  while (::waitpid(-1, nullptr, 0) > 0 || errno == EINTR) {
  }
}

// A server's three names, unique to this test, and whatever is left of them
// removed when the test ends (a failing server must not leave them around).
class ServerUnderTest {
 public:
  ServerUnderTest()
      : names_{dir_.path() / "requests", ipclab::unique_ipc_name("server-queue"),
               ipclab::unique_ipc_name("server-info")} {}
  ~ServerUnderTest() {
    ::unlink(names_.fifo.c_str());
    ::mq_unlink(names_.queue.c_str());
    ::shm_unlink(names_.shm.c_str());
  }
  ServerUnderTest(const ServerUnderTest&) = delete;
  ServerUnderTest& operator=(const ServerUnderTest&) = delete;

  [[nodiscard]] const ServerNames& names() const { return names_; }

  // Which of the three objects exist now, as paths ("" when none).
  [[nodiscard]] std::vector<std::string> existing() const {
    std::vector<std::string> found;
    for (const auto& fifo : ipclab::fifo_nodes(dir_.path())) found.push_back(fifo + " (FIFO)");
    if (std::filesystem::exists("/dev/mqueue" + names_.queue)) found.push_back("/dev/mqueue" + names_.queue);
    if (std::filesystem::exists("/dev/shm" + names_.shm)) found.push_back("/dev/shm" + names_.shm);
    return found;
  }

  // "" once the server has created all three objects: it has then arranged
  // to be told about SIGTERM and SIGINT, and it is fair to send it a request
  // or a signal. Gives it a moment more to settle into its wait (a server
  // that never sleeps is the blocking tests' business, not this). If the
  // objects do not appear, what happened instead (the server is then finished).
  [[nodiscard]] std::string wait_until_serving(ipclab::Child& server) const {
    const auto created = [&] { return existing().size() == 3; };
    if (eventually([&] { return created() || server.has_ended(); }, kDeadline) && created()) {
      (void)ipclab::wait_until_blocked(server.pid());
      return "";
    }
    const std::string found = ipclab::leak_report("objects found", existing());
    return "the server never had all of its FIFO, queue and shared-memory object (" +
           (found.empty() ? "objects found: none" : found) + "); it " + server.finish(kDeadline).describe();
  }

 private:
  ipclab::ScratchDir dir_;
  ServerNames names_;
};

// The body of a child that runs the student's run_server on `server`'s
// names: ipclab::Child child(serving(server));
inline ipclab::Child::Body serving(const ServerUnderTest& server) {
  return [&server] {
    siglab::run_server(server.names());
    return std::string("returned");
  };
}

// The pid a server published in its shared-memory object, or -1.
inline pid_t published_pid(const std::string& shm) {
  ipclab::Fd fd(::shm_open(shm.c_str(), O_RDONLY, 0));
  if (fd.get() < 0) return -1;
  ServerInfo info{-1};
  if (::pread(fd.get(), &info, sizeof info, 0) != static_cast<ssize_t>(sizeof info)) return -1;
  return info.pid;
}

// Receives one message from `queue`, waiting at most the deadline; a text
// in brackets when none came.
inline std::string receive_from(mqd_t queue) {
  mq_attr attributes{};
  ::mq_getattr(queue, &attributes);
  std::string buffer(static_cast<std::size_t>(attributes.mq_msgsize), '\0');
  const timespec until = ipclab::Deadline().realtime();
  const ssize_t n = ::mq_timedreceive(queue, buffer.data(), buffer.size(), nullptr, &until);
  if (n < 0) return std::string("[no message: ") + ::strerror(errno) + "]";
  buffer.resize(static_cast<std::size_t>(n));
  return buffer;
}

}  // namespace siglab::testing
