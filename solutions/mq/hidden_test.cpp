// Lab `mq`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>

#include "grader/harness/child.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/signal_state.h"
#include "grader/harness/snapshot.h"
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

std::string shown(const Message& m) { return m.data + "@" + std::to_string(m.priority); }


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

TEST_CASE("the owner's own handle blocks in receive on an empty queue") {
  const std::string name = ipclab::unique_ipc_name("mq");
  // The owner is killed at the deadline if it never returns: its
  // destructor cannot run then, so the test removes the queue itself.
  struct RemovedAtTheEnd {
    const std::string& name;
    ~RemovedAtTheEnd() { ::mq_unlink(name.c_str()); }
  } removed{name};
  ipclab::Child owner([&] {
    MessageQueue mailbox(name, 4, 64);
    const Message got = mailbox.receive();
    return got.data;
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(owner.pid());
  if (!blocked.yes) {
    const Outcome early = owner.finish(kDeadline);
    FAIL("receive on the owner's empty queue should wait (", blocked.evidence, "), but it ", early.describe(),
         ": a queue is created blocking (no O_NONBLOCK)");
  }
  const mqd_t queue = ::mq_open(name.c_str(), O_WRONLY);
  REQUIRE_MESSAGE(queue != static_cast<mqd_t>(-1), "the test could not open the owner's queue ", name);
  ::mq_send(queue, "hello", 5, 0);
  ::mq_close(queue);
  Outcome got = owner.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), got.describe());
  CHECK(got.value == "hello");
}

TEST_CASE("the smallest queue is accepted: a one-character name with capacity 1 and message size 1") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        // A one-character name cannot be unique to this test: take the first free one.
        for (char c = 'a'; c <= 'z'; ++c) {
          try {
            MessageQueue mailbox(std::string("/") + c, 1, 1);
            mailbox.send("x");
            return "received " + mailbox.receive().data;
          } catch (const std::system_error& e) {
            if (e.code() != std::errc::file_exists) throw;
          } catch (const std::invalid_argument& e) {
            return std::string("refused: ") + e.what();
          }
        }
        return std::string("every one-character name was taken");
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe());
  CHECK_MESSAGE(outcome.value == "received x", "a name of 1 character after '/', a capacity of 1 and a message ",
                "size of 1 are all valid: ", outcome.value);
}

TEST_CASE("send goes on waiting after a signal interrupts it") {
  TestQueue queue(1, 64);
  REQUIRE(queue.send("filled by the test"));
  ipclab::Child sender([&] {
    ipclab::interrupt_on(SIGUSR1);
    MessageQueue(queue.name()).send("sent after the signal");
    return std::string("sent");
  });
  ipclab::Blocked before = ipclab::wait_until_blocked(sender.pid());
  if (!before.yes) {
    const Outcome early = sender.finish(kDeadline);
    FAIL("send on a full queue should wait (", before.evidence, "), but it ", early.describe());
  }
  ::kill(sender.pid(), SIGUSR1);
  ipclab::Blocked after = ipclab::wait_until_blocked(sender.pid());
  if (!after.yes) {
    const Outcome early = sender.finish(kDeadline);
    FAIL("a signal handler interrupted send's mq_send on a full queue (it returned -1 with errno EINTR); send ",
         "should call it again and wait, but it ", early.describe());
  }
  const auto first = queue.take();
  Outcome sent = sender.finish(kDeadline);
  REQUIRE_MESSAGE(sent.ok(), sent.describe());
  const auto second = queue.take();
  CHECK((first && first->data == "filled by the test"));
  CHECK_MESSAGE((second && second->data == "sent after the signal"), "the message sent after the signal is missing");
}

// Runs `call` in a child with SIGUSR1 interrupting it while it waits on an
// empty queue, then sends one message; what the child returned.
Outcome interrupted_while_receiving(TestQueue& queue, const std::string& call,
                                     const std::function<std::string(MessageQueue&)>& receive) {
  ipclab::Child receiver([&] {
    ipclab::interrupt_on(SIGUSR1);
    MessageQueue mailbox(queue.name());
    return receive(mailbox);
  });
  ipclab::Blocked before = ipclab::wait_until_blocked(receiver.pid());
  if (!before.yes) {
    const Outcome early = receiver.finish(kDeadline);
    FAIL(call, " on an empty queue should wait (", before.evidence, "), but it ", early.describe());
  }
  ::kill(receiver.pid(), SIGUSR1);
  ipclab::Blocked after = ipclab::wait_until_blocked(receiver.pid());
  if (!after.yes) {
    const Outcome early = receiver.finish(kDeadline);
    FAIL("a signal handler interrupted ", call, " on an empty queue (the call returned -1 with errno EINTR); it ",
         "should call it again and wait, but it ", early.describe());
  }
  REQUIRE(queue.send("sent after the signal", 1));
  return receiver.finish(kDeadline);
}

TEST_CASE("receive goes on waiting after a signal interrupts it") {
  TestQueue queue(4, 64);
  Outcome got = interrupted_while_receiving(queue, "receive", [](MessageQueue& q) { return shown(q.receive()); });
  REQUIRE_MESSAGE(got.ok(), got.describe());
  CHECK(got.value == "sent after the signal@1");
}

TEST_CASE("receive_for goes on waiting after a signal interrupts it") {
  TestQueue queue(4, 64);
  Outcome got = interrupted_while_receiving(queue, "receive_for", [](MessageQueue& q) {
    const auto m = q.receive_for(std::chrono::milliseconds(kDeadline));
    return m ? shown(*m) : std::string("timed out");
  });
  REQUIRE_MESSAGE(got.ok(), got.describe());
  CHECK(got.value == "sent after the signal@1");
}

TEST_CASE("receive_for returns an empty message") {
  TestQueue queue(4, 64);
  REQUIRE(queue.send("", 3));
  Outcome got = ipclab::run_in_child(
      [&] {
        const auto m = MessageQueue(queue.name()).receive_for(std::chrono::milliseconds(kDeadline));
        return m ? "[" + shown(*m) + "]" : std::string("timed out");
      },
      kDeadline + kDeadline);
  REQUIRE_MESSAGE(got.ok(), got.describe());
  CHECK_MESSAGE(got.value == "[@3]", "a message of 0 bytes is a message: ", got.value);
}

TEST_CASE("the owner's destructor returns normally when the queue's name is gone already") {
  const std::string name = ipclab::unique_ipc_name("mq");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        {
          MessageQueue mailbox(name, 4, 64);
          mailbox.send("still in the queue");
          // Another process removed the name: the owner's own mq_unlink now
          // fails (ENOENT), and its destructor must still return.
          if (::mq_unlink(name.c_str()) != 0) return std::string("the test could not remove ") + name;
        }
        return std::string("destroyed");
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), "the owner's destructor, once somebody else had removed the queue's name: ",
                  outcome.describe(), " — a destructor must not throw (a throw out of it ends the process)");
  CHECK(outcome.value == "destroyed");
}

TEST_CASE("try_send refuses a message longer than the queue's message size with EMSGSIZE") {
  TestQueue queue(4, 100);
  Outcome outcome = ipclab::run_in_child(
      [&] {
        MessageQueue mailbox(queue.name());
        try {
          return std::string(mailbox.try_send(std::string(101, 'x')) ? "true" : "false");
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::message_size ? "EMSGSIZE" : e.what());
        }
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "EMSGSIZE", "try_send of 101 bytes to an empty queue of 100-byte messages: its ",
                "errors other than a full queue are as for send(), std::system_error with EMSGSIZE; got: ",
                outcome.value);
  CHECK_MESSAGE(queue.pending() == 0, "a message that is too long must not be sent, not even cut short");
}

TEST_CASE("receive reports a failure with std::system_error and its errno") {
  TestQueue queue(4, 64);
  REQUIRE(queue.send("never received"));
  Outcome outcome = ipclab::run_in_child(
      [&] {
        const std::set<int> before = ipclab::open_descriptors();
        MessageQueue mailbox(queue.name());
        std::set<int> opened;
        for (const int fd : ipclab::open_descriptors()) {
          if (before.count(fd) == 0) opened.insert(fd);
        }
        if (opened.size() != 1) return "the handle opened " + ipclab::describe(opened) + ", not one descriptor";
        // Put the same queue, opened write-only, in place of the handle's
        // descriptor: mq_getattr still works on it, mq_receive fails (EBADF).
        const mqd_t write_only = ::mq_open(queue.name().c_str(), O_WRONLY);
        if (write_only == static_cast<mqd_t>(-1) || ::dup2(write_only, *opened.begin()) < 0) {
          return std::string("the test could not replace the handle's descriptor");
        }
        ::mq_close(write_only);
        try {
          return "receive returned " + shown(mailbox.receive());
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::bad_file_descriptor ? "EBADF" : e.what());
        }
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "EBADF", "mq_receive failed with EBADF (its descriptor was not open for ",
                "reading): receive must throw std::system_error carrying that errno; got: ", outcome.value);
  CHECK_MESSAGE(queue.pending() == 1, "the message in the queue should still be there");
}

}  // TEST_SUITE
