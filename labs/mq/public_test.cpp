// Lab `mq`: the public tests. Each test case is one graded behaviour; its
// points and hint are in lab.toml. Run them with `./grade mq`.
//
// The student's code always runs in child processes; where a test needs the
// other side of a queue, it uses its own TestQueue (mq_test_support.h).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <vector>

#include "grader/harness/child.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "labs/mq/mq_lab.h"
#include "labs/mq/mq_test_support.h"

using ipclab::Outcome;
using mqlab::Message;
using mqlab::MessageQueue;
using namespace mqlab::testing;

namespace {

std::string show(const Message& m) { return m.data + "@" + std::to_string(m.priority); }

// The order a queue must hand out `sent`: highest priority first, and the
// order of sending within one priority.
std::string expected_order(const std::vector<Message>& sent) {
  std::vector<Message> sorted = sent;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Message& a, const Message& b) { return a.priority > b.priority; });
  std::string order;
  for (const auto& m : sorted) order += show(m) + " ";
  return order;
}

std::vector<Message> numbered(const std::string& prefix, const std::vector<unsigned>& priorities) {
  std::vector<Message> messages;
  for (std::size_t i = 0; i < priorities.size(); ++i) {
    messages.push_back({prefix + std::to_string(i), priorities[i]});
  }
  return messages;
}

// Sends each message with the student's send on a user handle, in a child.
Outcome send_from_child(const std::string& name, const std::vector<Message>& messages) {
  return ipclab::run_in_child(
      [&] {
        MessageQueue queue(name);
        for (const auto& m : messages) queue.send(m.data, m.priority);
        return std::string();
      },
      kDeadline);
}

// Receives `count` messages with the student's receive on a user handle, in a child.
Outcome receive_in_child(const std::string& name, std::size_t count) {
  return ipclab::run_in_child(
      [&] {
        MessageQueue queue(name);
        std::string order;
        for (std::size_t i = 0; i < count; ++i) order += show(queue.receive()) + " ";
        return order;
      },
      kDeadline);
}

// How the first of `children` that has ended ended.
std::string first_failure(ipclab::Children& children) {
  for (std::size_t i = 0; i < children.size(); ++i) {
    if (children[i].has_ended()) return children[i].finish(kDeadline).describe();
  }
  return "none of them ended";
}

}  // namespace

TEST_SUITE("mq") {

// ---- Ordering -------------------------------------------------------------------

TEST_CASE("a message sent is received") {
  const std::string name = ipclab::unique_ipc_name("mq");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(name, 4, 256);
        mailbox.send("hello, mailbox");
        return show(mailbox.receive());
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "hello, mailbox@0");
}

TEST_CASE("higher priorities are received first and equal priorities in FIFO order") {
  const std::string name = ipclab::unique_ipc_name("mq");
  const auto sent = numbered("m", {2, 0, 5, 2, 9, 0, 5, 2, 1, 9});
  Outcome outcome = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(name, mqlab::kMaxCapacity, 64);
        for (const auto& m : sent) mailbox.send(m.data, m.priority);
        std::string order;
        for (std::size_t i = 0; i < sent.size(); ++i) order += show(mailbox.receive()) + " ";
        return order;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == expected_order(sent));
}

TEST_CASE("priorities order messages sent by different processes") {
  TestQueue queue(9, 64);
  std::vector<Message> all;
  for (const auto& batch : {numbered("a", {1, 7, 1}), numbered("b", {7, 0, 3}), numbered("c", {3, 1, 7})}) {
    Outcome sent = send_from_child(queue.name(), batch);
    REQUIRE_RETURNED(sent, "a sender: ");
    all.insert(all.end(), batch.begin(), batch.end());
  }
  Outcome received = receive_in_child(queue.name(), all.size());
  REQUIRE_RETURNED(received, "the receiver: ");
  CHECK(received.value == expected_order(all));
}

// ---- Message boundaries -----------------------------------------------------------

TEST_CASE("each receive returns exactly one message") {
  const std::string name = ipclab::unique_ipc_name("mq");
  const std::vector<std::string> sent = {"a", "", "bb", std::string("x\0y", 3), ipclab::pattern(256, 5)};
  Outcome outcome = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(name, 8, 256);
        for (const auto& m : sent) mailbox.send(m);
        std::string problems;
        for (std::size_t i = 0; i < sent.size(); ++i) {
          const std::string got = mailbox.receive().data;
          if (got != sent[i]) problems += "message " + std::to_string(i) + ": " + ipclab::first_difference(sent[i], got) + "; ";
        }
        return problems;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "", "messages are bytes, '\\0' included, of any length from 0: ", outcome.value);
}

TEST_CASE("receive takes a message as large as the queue allows") {
  TestQueue queue(2, mqlab::kMaxMessageSize);
  const std::string largest = ipclab::pattern(mqlab::kMaxMessageSize, 8);
  REQUIRE(queue.send(largest));
  REQUIRE(queue.send("small"));
  Outcome outcome = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(queue.name());
        const std::string first = mailbox.receive().data;
        const std::string second = mailbox.receive().data;
        return ipclab::first_difference(largest, first) + "|" + second;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "|small", outcome.value);
}

// ---- Errors -------------------------------------------------------------------

TEST_CASE("a message larger than the queue's message size is refused with EMSGSIZE") {
  const std::string name = ipclab::unique_ipc_name("mq");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(name, 4, 100);
        std::string transcript;
        try {
          mailbox.send(std::string(101, 'x'));
          transcript = "101 bytes sent; ";
        } catch (const std::system_error& e) {
          transcript = e.code() == std::errc::message_size ? "EMSGSIZE; " : std::string("threw ") + e.what() + "; ";
        }
        mailbox.send(std::string(100, 'y'));
        return transcript + "then " + std::to_string(mailbox.receive().data.size()) + " bytes";
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "EMSGSIZE; then 100 bytes",
                "101 bytes must be refused with std::system_error(EMSGSIZE), 100 bytes accepted");
}

TEST_CASE("invalid queue names are refused with a clear error") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        std::string transcript;
        for (const std::string& bad : {std::string("no-slash"), std::string(), std::string("/"), std::string("/a/b"),
                                       "/" + std::string(mqlab::kMaxNameLength + 1, 'n')}) {
          try {
            MessageQueue mailbox(bad, 4, 64);
            transcript += "accepted \"" + bad.substr(0, 20) + "\"; ";
          } catch (const std::invalid_argument& e) {
            const bool named = std::string(e.what()).find(bad.substr(0, 20)) != std::string::npos;
            transcript += named ? "invalid_argument; " : "invalid_argument without the name; ";
          }
        }
        try {
          MessageQueue user("no-slash");
          transcript += "opened \"no-slash\"; ";
        } catch (const std::invalid_argument&) {
          transcript += "invalid_argument; ";
        }
        // The longest valid name works.
        const std::string unique = ipclab::unique_ipc_name("long");
        MessageQueue longest(unique + std::string(mqlab::kMaxNameLength + 1 - unique.size(), 'k'), 4, 64);
        return transcript + "longest name ok";
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  std::string expected;
  for (int i = 0; i < 6; ++i) expected += "invalid_argument; ";
  CHECK(outcome.value == expected + "longest name ok");
}

TEST_CASE("opening a queue that does not exist fails with ENOENT and creates none") {
  const std::string name = ipclab::unique_ipc_name("missing");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          MessageQueue user(name);
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::no_such_file_or_directory ? "ENOENT" : e.what());
        }
        return std::string("no exception");
      },
      kDeadline);
  const bool created = queue_exists(name);
  if (created) ::mq_unlink(name.c_str());  // the test's own cleanup: this failure is reported below, once
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(!created, "opening the queue ", name, " as a user, while no such queue existed, created it in ",
                "/dev/mqueue: only the owner's constructor creates (O_CREAT); a user opens an existing queue ",
                "or fails with ENOENT");
  CHECK_MESSAGE(outcome.value == "ENOENT", "expected std::system_error with errno ENOENT, got: ", outcome.value);
}

// ---- Blocking -----------------------------------------------------------------

TEST_CASE("receive blocks on an empty queue without using the CPU") {
  TestQueue queue(4, 64);
  ipclab::Child receiver([&] { return show(MessageQueue(queue.name()).receive()); });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(receiver.pid());
  CHECK_MESSAGE(blocked.yes, blocked.evidence);
  REQUIRE(queue.send("wake up", 2));
  Outcome got = receiver.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK(got.value == "wake up@2");
}

TEST_CASE("send blocks on a full queue until a message is received") {
  TestQueue queue(2, 64);
  ipclab::Child sender([&] {
    MessageQueue mailbox(queue.name());
    for (const char* m : {"one", "two", "three"}) mailbox.send(m);
    return std::string("sent");
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(sender.pid());
  CHECK_MESSAGE(blocked.yes, "the queue holds 2 messages, so the third send must wait: ", blocked.evidence);
  std::string received = queue.take().value_or(Message{"nothing", 0}).data;
  Outcome sent = sender.finish(kDeadline);
  REQUIRE_RETURNED(sent);
  while (const auto m = queue.take()) received += " " + m->data;
  CHECK_MESSAGE(received == "one two three", "every message must arrive, in order");
}

TEST_CASE("receive_for gives up after its timeout") {
  TestQueue queue(4, 64);
  ipclab::Child receiver([&] {
    MessageQueue mailbox(queue.name());
    const auto started = std::chrono::steady_clock::now();
    const auto got = mailbox.receive_for(3000ms);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return (got ? "a message: " + got->data : std::string("nothing")) + " after " + std::to_string(waited.count()) + " ms";
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(receiver.pid());
  CHECK_MESSAGE(blocked.yes, "receive_for must wait in the kernel, not poll: ", blocked.evidence);
  Outcome got = receiver.finish(kDeadline);
  REQUIRE_RETURNED(got);
  const std::string prefix = "nothing after ";
  REQUIRE_MESSAGE(got.value.rfind(prefix, 0) == 0, got.value);
  const long waited = std::stol(got.value.substr(prefix.size()));
  CHECK_MESSAGE(waited >= 2900, "receive_for(3000ms) returned after ", waited, " ms");
}

// ---- Non-blocking calls -----------------------------------------------------------

TEST_CASE("try_receive on an empty queue returns nothing at once") {
  TestQueue queue(4, 64);
  ipclab::Child receiver([&] {
    MessageQueue mailbox(queue.name());
    if (const auto got = mailbox.try_receive()) return "try_receive returned " + show(*got);
    return "nothing, then " + show(mailbox.receive());
  });
  // try_receive must return; then receive (a blocking call again) must wait.
  ipclab::Blocked blocked = ipclab::wait_until_blocked(receiver.pid());
  // Checked before the REQUIREs: a receive that fails with EAGAIN instead of
  // waiting ends the receiver, and this sentence is what explains why.
  CHECK_MESSAGE(blocked.yes, "after try_receive, receive must block again: ", blocked.evidence);
  REQUIRE(queue.send("later", 1));
  Outcome got = receiver.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == "nothing, then later@1",
                "try_receive returns std::nullopt on an empty queue, and receive blocks afterwards");
}

TEST_CASE("try_send on a full queue returns false at once") {
  TestQueue queue(2, 64);
  REQUIRE(queue.send("a"));
  REQUIRE(queue.send("b"));
  ipclab::Child sender([&] {
    MessageQueue mailbox(queue.name());
    const bool sent = mailbox.try_send("c");
    mailbox.send("d");
    return std::string(sent ? "true" : "false") + ", then sent";
  });
  // try_send must return; then send (a blocking call again) must wait.
  ipclab::Blocked blocked = ipclab::wait_until_blocked(sender.pid());
  // Before the REQUIRE, which a send failing with EAGAIN stops at.
  CHECK_MESSAGE(blocked.yes, "after try_send, send must block again: ", blocked.evidence);
  std::string received = queue.take().value_or(Message{"nothing", 0}).data;
  Outcome got = sender.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == "false, then sent", "try_send returns false on a full queue");
  while (const auto m = queue.take()) received += " " + m->data;
  CHECK_MESSAGE(received == "a b d", "the queue should have carried a, b and d, not c");
}

// ---- Stress ---------------------------------------------------------------------

TEST_CASE("several senders and receivers deliver every message exactly once") {
  constexpr int kSenders = 3, kReceivers = 3, kEach = 300;
  TestQueue queue(mqlab::kMaxCapacity, 64);
  StartLine senders_start, receivers_start;
  ipclab::Children senders, receivers;
  for (int s = 0; s < kSenders; ++s) {
    senders.start([&, s] {
      MessageQueue mailbox(queue.name());
      senders_start.arrive();
      senders_start.wait_for_go();
      for (int i = 0; i < kEach; ++i) mailbox.send("s" + std::to_string(s) + "-" + std::to_string(i), i % 3);
      return std::string();
    });
  }
  for (int r = 0; r < kReceivers; ++r) {
    receivers.start([&] {
      MessageQueue mailbox(queue.name());
      receivers_start.arrive();
      receivers_start.wait_for_go();
      std::string got;
      for (std::string m; (m = mailbox.receive().data) != "stop";) got += m + "\n";
      return got;
    });
  }
  // Everybody has the queue open before anything is sent; the senders fill
  // the queue before the receivers start, so sends must wait for room.
  REQUIRE_MESSAGE(senders_start.all_arrived(senders), "a sender could not open the queue: ", first_failure(senders));
  REQUIRE_MESSAGE(receivers_start.all_arrived(receivers), "a receiver could not open the queue: ",
                  first_failure(receivers));
  senders_start.go(kSenders);
  for (const pid_t sender : senders.pids()) (void)ipclab::wait_until_blocked(sender);
  receivers_start.go(kReceivers);

  const Deadline deadline;
  const std::string senders_failed = senders.finish_all(deadline.left());
  REQUIRE_MESSAGE(senders_failed.empty(), "a sender, ", senders_failed);
  for (int r = 0; r < kReceivers; ++r) REQUIRE(queue.send("stop", 0, deadline));
  const std::string receivers_failed = receivers.finish_all(deadline.left());
  REQUIRE_MESSAGE(receivers_failed.empty(), "a receiver, ", receivers_failed);
  std::map<std::string, int> delivered;
  for (const Outcome& got : receivers.outcomes()) {
    std::istringstream lines(got.value);
    for (std::string line; std::getline(lines, line);) ++delivered[line];
  }
  std::string problems;
  for (int s = 0; s < kSenders; ++s) {
    for (int i = 0; i < kEach; ++i) {
      const std::string m = "s" + std::to_string(s) + "-" + std::to_string(i);
      const int times = delivered.count(m) ? delivered[m] : 0;
      if (times != 1 && problems.size() < 400) problems += m + " delivered " + std::to_string(times) + " times; ";
    }
  }
  CHECK_MESSAGE(problems.empty(), problems);
  CHECK_MESSAGE(delivered.size() == static_cast<std::size_t>(kSenders * kEach), delivered.size(), " distinct messages delivered");
}

// ---- Cleanup ------------------------------------------------------------------

TEST_CASE("no queue is left in /dev/mqueue once the owner is gone") {
  const std::string name = ipclab::unique_ipc_name("mq");
  Outcome inside = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(name, 4, 64);
        mailbox.send("left in the queue");
        return std::string(queue_exists(name) ? "exists" : "not in /dev/mqueue");
      },
      kDeadline);
  REQUIRE_RETURNED(inside);
  CHECK_MESSAGE(inside.value == "exists", "while its owner exists, the queue is in /dev/mqueue");
  CHECK_MESSAGE(!queue_exists(name), "/dev/mqueue", name, " is left behind after its owner is gone");

  const std::string unwound = ipclab::unique_ipc_name("mq");
  Outcome thrown = ipclab::run_in_child(
      [&]() -> std::string {
        MessageQueue mailbox(unwound, 4, 64);
        throw std::runtime_error("leaving by an exception");
      },
      kDeadline);
  REQUIRE_MESSAGE(thrown.value.find("leaving by an exception") != std::string::npos, thrown.describe());
  CHECK_MESSAGE(!queue_exists(unwound), "/dev/mqueue", unwound, " is left behind after an exception");
}

}  // TEST_SUITE
