#pragma once
// What the mq lab's tests share: the test's own queue (made with the POSIX
// calls directly, so a test never depends on the code it grades for its side
// of a conversation), shared deadlines, and a start line for many processes.
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/children.h"
#include "grader/harness/deadline.h"
#include "grader/harness/errno_error.h"
#include "grader/harness/fd.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/snapshot.h"
#include "labs/mq/mq_lab.h"

namespace mqlab::testing {

using namespace std::chrono_literals;

// Reaching it means a hang: usually a call that waits for a message or for
// room that never comes.
using ipclab::kDeadline;
// What is left of a deadline shared by the processes of one test, so that
// waiting for several of them costs at most kDeadline in all; realtime() is
// the same moment as mq_timedsend wants it.
using ipclab::Deadline;
using ipclab::has_ended;

// A queue the test creates and removes itself, with the POSIX calls.
class TestQueue {
 public:
  TestQueue(std::size_t capacity, std::size_t message_size) : name_(ipclab::unique_ipc_name("mq")) {
    mq_attr attributes{};
    attributes.mq_maxmsg = static_cast<long>(capacity);
    attributes.mq_msgsize = static_cast<long>(message_size);
    queue_ = ::mq_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attributes);
    if (queue_ == static_cast<mqd_t>(-1)) ipclab::throw_errno("the test's mq_open " + name_);
  }
  ~TestQueue() {
    ::mq_close(queue_);
    ::mq_unlink(name_.c_str());  // may be gone already if the code under test removed it
  }
  TestQueue(const TestQueue&) = delete;
  TestQueue& operator=(const TestQueue&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }

  // Sends, waiting for room until the test's deadline; false when there was none.
  bool send(std::string_view message, unsigned priority = 0, const Deadline& deadline = Deadline()) {
    const timespec until = deadline.realtime();
    return ::mq_timedsend(queue_, message.data(), message.size(), priority, &until) == 0;
  }

  // The next message, without waiting; nullopt when the queue is empty.
  std::optional<Message> take() {
    std::vector<char> buffer(static_cast<std::size_t>(attributes().mq_msgsize));
    unsigned priority = 0;
    const timespec already_passed{};  // the epoch: mq_timedreceive returns at once
    const ssize_t n = ::mq_timedreceive(queue_, buffer.data(), buffer.size(), &priority, &already_passed);
    if (n < 0) return std::nullopt;
    return Message{std::string(buffer.data(), static_cast<std::size_t>(n)), priority};
  }

  [[nodiscard]] long pending() const { return attributes().mq_curmsgs; }

 private:
  mq_attr attributes() const {
    mq_attr attributes{};
    if (::mq_getattr(queue_, &attributes) != 0) ipclab::throw_errno("the test's mq_getattr");
    return attributes;
  }

  std::string name_;
  mqd_t queue_;
};

// Whether a queue named `name` exists (in this IPC namespace's /dev/mqueue).
inline bool queue_exists(const std::string& name) {
  return ipclab::entries_of("/dev/mqueue").count(name.substr(1)) > 0;
}

// A start line for several processes: each one calls arrive() when it is
// ready, then waits in wait_for_go(); the test calls all_arrived(them), then
// go(n). Runs on pipes, so nothing of the code under test is involved.
class StartLine {
 public:
  void arrive() const { ipclab::write_fully(ready_.write.get(), "r"); }
  void wait_for_go() const {
    char byte;
    while (::read(go_.read.get(), &byte, 1) < 0 && errno == EINTR) {
    }
  }
  // Waits until every one of `children` has arrived; false as soon as one of
  // them has ended instead, or at the deadline.
  bool all_arrived(const ipclab::Children& children) const {
    const std::vector<pid_t> pids = children.pids();
    std::size_t arrived = 0;
    const auto take_arrivals = [&] {
      pollfd ready{ready_.read.get(), POLLIN, 0};
      char bytes[16];
      while (arrived < pids.size() && ::poll(&ready, 1, 0) > 0) {
        const ssize_t n = ::read(ready_.read.get(), bytes, std::min(sizeof bytes, pids.size() - arrived));
        if (n <= 0) return;
        arrived += static_cast<std::size_t>(n);
      }
    };
    const auto all_or_one_ended = [&] {
      take_arrivals();
      return arrived == pids.size() || std::any_of(pids.begin(), pids.end(), has_ended);
    };
    return ipclab::eventually(all_or_one_ended) && arrived == pids.size();
  }
  void go(std::size_t count) const { ipclab::write_fully(go_.write.get(), std::string(count, 'g')); }

 private:
  ipclab::Pipe ready_;
  ipclab::Pipe go_;
};

}  // namespace mqlab::testing
