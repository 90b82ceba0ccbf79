// Lab `mq`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <mqueue.h>

#include <stdexcept>
#include <string>
#include <system_error>

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

// How many messages the queue `name` holds, asked with the POSIX calls.
std::string pending_in(const std::string& name) {
  const mqd_t queue = ::mq_open(name.c_str(), O_RDONLY);
  if (queue == static_cast<mqd_t>(-1)) return "cannot open the queue";
  mq_attr attributes{};
  ::mq_getattr(queue, &attributes);
  ::mq_close(queue);
  return std::to_string(attributes.mq_curmsgs);
}

}  // namespace

TEST_SUITE("mq (hidden)") {

TEST_CASE("a queue created again after unlink is fresh and empty") {
  const std::string name = ipclab::unique_ipc_name("mq");
  Outcome first = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(name, 4, 64);
        for (const char* m : {"old", "older", "oldest"}) mailbox.send(m);
        return std::string();
      },
      kDeadline);
  REQUIRE_RETURNED(first, "the first owner: ");
  Outcome second = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(name, 2, 128);
        return pending_in(name) + " messages, capacity " + std::to_string(mailbox.capacity()) + ", message size " +
               std::to_string(mailbox.message_size());
      },
      kDeadline);
  REQUIRE_RETURNED(second, "the second owner: ");
  CHECK(second.value == "0 messages, capacity 2, message size 128");
}

TEST_CASE("creating a queue whose name is taken fails with EEXIST") {
  TestQueue taken(4, 64);
  REQUIRE(taken.send("already here"));
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          MessageQueue mailbox(taken.name(), 4, 64);
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::file_exists ? "EEXIST" : e.what());
        }
        return std::string("no exception: the existing queue was taken over");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "EEXIST");
  CHECK_MESSAGE(taken.pending() == 1, "the existing queue and its message must be left alone");
}

TEST_CASE("receive_for returns a message that arrives while it waits") {
  TestQueue queue(4, 64);
  ipclab::Child receiver([&] {
    const auto got = MessageQueue(queue.name()).receive_for(8000ms);
    return got ? got->data : std::string("nothing");
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(receiver.pid());
  CHECK_MESSAGE(blocked.yes, blocked.evidence);
  REQUIRE(queue.send("in time"));
  Outcome got = receiver.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK(got.value == "in time");
}

TEST_CASE("opening a queue reads its capacity and message size") {
  TestQueue queue(3, 777);
  const std::string message = ipclab::pattern(777, 3);
  REQUIRE(queue.send(message));
  Outcome outcome = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(queue.name());
        const std::string sizes = std::to_string(mailbox.capacity()) + " " + std::to_string(mailbox.message_size());
        return sizes + " " + ipclab::first_difference(message, mailbox.receive().data);
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "3 777 ");
}

TEST_CASE("a queue user's handle does not remove the queue") {
  const std::string name = ipclab::unique_ipc_name("mq");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        MessageQueue owner(name, 4, 64);
        {
          MessageQueue user(name);
          user.send("from a user");
        }
        if (!queue_exists(name)) return std::string("gone once the user's handle was destroyed");
        MessageQueue later(name);
        return later.receive().data;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "from a user");
  CHECK_MESSAGE(!queue_exists(name), "/dev/mqueue", name, " is left behind after its owner is gone");
}

TEST_CASE("invalid capacity and message sizes are refused") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        std::string transcript;
        for (const auto& [capacity, size] : {std::pair<std::size_t, std::size_t>{0, 64},
                                             {mqlab::kMaxCapacity + 1, 64},
                                             {4, 0},
                                             {4, mqlab::kMaxMessageSize + 1}}) {
          try {
            MessageQueue mailbox(ipclab::unique_ipc_name("mq"), capacity, size);
            transcript += "accepted; ";
          } catch (const std::invalid_argument&) {
            transcript += "invalid_argument; ";
          }
        }
        MessageQueue largest(ipclab::unique_ipc_name("mq"), mqlab::kMaxCapacity, mqlab::kMaxMessageSize);
        return transcript + "largest ok";
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "invalid_argument; invalid_argument; invalid_argument; invalid_argument; largest ok");
}

TEST_CASE("a thousand messages of every size up to the limit arrive intact") {
  constexpr std::size_t kCount = 1000;
  auto size_of = [](std::size_t i) { return i * mqlab::kMaxMessageSize / (kCount - 1); };  // 0 .. 8192
  TestQueue queue(mqlab::kMaxCapacity, mqlab::kMaxMessageSize);
  ipclab::Child sender([&] {  // the test's own sender
    for (std::size_t i = 0; i < kCount; ++i) {
      if (!queue.send(ipclab::pattern(size_of(i), static_cast<std::uint32_t>(i)))) return std::string("stuck");
    }
    return std::string();
  });
  Outcome received = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(queue.name());
        for (std::size_t i = 0; i < kCount; ++i) {
          const std::string expected = ipclab::pattern(size_of(i), static_cast<std::uint32_t>(i));
          const std::string got = mailbox.receive().data;
          if (got != expected) return "message " + std::to_string(i) + ": " + ipclab::first_difference(expected, got);
        }
        return std::string();
      },
      kDeadline);
  REQUIRE_RETURNED(received, "the receiver: ");
  REQUIRE_MESSAGE(received.value == "", received.value);
  Outcome sent = sender.finish(kDeadline);  // only now: a failed receiver leaves it waiting for room
  CHECK_MESSAGE(sent.ok(), "the test's sender: ", sent.describe());
}

}  // TEST_SUITE
