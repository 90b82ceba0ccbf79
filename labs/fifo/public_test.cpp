// Lab `fifo`: the public tests. Each test case is one graded behaviour; its
// points and hint are in lab.toml. Run them with `./grade fifo`.
//
// The student's code always runs in child processes; the test process plays
// the other side with its own open/read/write, so a test never depends on
// the code it grades for its half of a conversation.
#include <doctest/doctest.h>
#include <fcntl.h>

#include <fstream>
#include <set>
#include <stdexcept>
#include <system_error>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/snapshot.h"
#include "grader/harness/verdict.h"
#include "labs/fifo/fifo_lab.h"
#include "labs/fifo/fifo_test_support.h"

using ipclab::Outcome;
using namespace fifolab::testing;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string uppercase(std::string_view text) {
  std::string upper(text);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

// What constructing a FifoNode at `path` throws, as "EEXIST: <what()>".
std::string error_creating_node(const fs::path& path) {
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          fifolab::FifoNode node(path);
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::file_exists ? "EEXIST: " : "another errno: ") + e.what();
        }
        return std::string("no exception");
      },
      kDeadline);
  return outcome.ok() ? outcome.value : outcome.describe();
}

// Writer `tag`'s message number `index`: the tag, the index, then bytes that
// tell this message from every other; at most kMaxAtomicMessage bytes.
std::string tagged_message(char tag, std::uint32_t index) {
  const std::size_t size = 5 + (index * 2654435761u) % (fifolab::kMaxAtomicMessage - 4);
  std::string message(1, tag);
  message.append(reinterpret_cast<const char*>(&index), sizeof index);
  return message + ipclab::pattern(size - message.size(), index * 2 + (tag == 'A' ? 0 : 1));
}

constexpr std::uint32_t kPerWriter = 1500;

// More memory than a reader of short messages can need (MiB of peak RSS).
constexpr std::uint64_t kHugeBufferMib = 256;

// Receives until end-of-stream; "" when each writer's messages arrived whole
// and in order, else the first problem.
std::string check_tagged_messages(const fs::path& path) {
  fifolab::FifoReader reader(path);
  std::uint32_t next[2] = {0, 0};
  while (const auto got = reader.receive()) {
    const int writer = !got->empty() && (*got)[0] == 'B' ? 1 : 0;
    const char tag = writer == 0 ? 'A' : 'B';
    const std::string expected = tagged_message(tag, next[writer]);
    if (*got != expected) {
      return "writer " + std::string(1, tag) + "'s message " + std::to_string(next[writer]) +
             " arrived damaged or mixed with another message: " + ipclab::first_difference(expected, *got);
    }
    ++next[writer];
  }
  if (next[0] != kPerWriter || next[1] != kPerWriter) {
    return "got " + std::to_string(next[0]) + " and " + std::to_string(next[1]) + " messages, expected " +
           std::to_string(kPerWriter) + " from each writer";
  }
  return "";
}

}  // namespace

TEST_SUITE("fifo") {

// ---- Part 1: the node ---------------------------------------------------------

TEST_CASE("FifoNode creates a FIFO and its destructor removes it") {
  ipclab::ScratchDir dir;
  const fs::path path = dir.path() / "control";
  Outcome inside = ipclab::run_in_child(
      [&] {
        fifolab::FifoNode node(path);
        const auto nodes = ipclab::fifo_nodes(dir.path());
        return std::string(nodes.count(path.string()) ? "a FIFO" : "no FIFO at the path");
      },
      kDeadline);
  REQUIRE_RETURNED(inside);
  CHECK_MESSAGE(inside.value == "a FIFO", "while the FifoNode exists, ", path.string(), " should be a FIFO");
  const auto left = ipclab::entries_of(dir.path());
  CHECK_MESSAGE(left.empty(), "the node must be gone (unlink) once the FifoNode is destroyed; left behind: ",
                ipclab::leak_report("FIFO nodes left behind", left));
}

TEST_CASE("FifoNode refuses a path that exists and is not a FIFO") {
  ipclab::ScratchDir dir;
  const fs::path file = dir.path() / "notes.txt";
  std::ofstream(file) << "precious";
  const std::string refused = error_creating_node(file);
  CHECK_MESSAGE(contains(refused, "EEXIST: "), "expected std::system_error with errno EEXIST, got: ", refused);
  CHECK_MESSAGE(contains(refused, file.string()), "the error should name the path: ", refused);
  std::ifstream still(file);
  std::string content;
  std::getline(still, content);
  CHECK_MESSAGE(content == "precious", "the existing file must be left untouched");

  const fs::path directory = dir.path() / "a-directory";
  fs::create_directory(directory);
  const std::string refused_dir = error_creating_node(directory);
  CHECK_MESSAGE(contains(refused_dir, "EEXIST: "), "a directory: expected EEXIST, got: ", refused_dir);
  CHECK(fs::is_directory(directory));
}

TEST_CASE("FifoNode removes its node when an exception unwinds the stack") {
  ipclab::ScratchDir dir;
  Outcome outcome = ipclab::run_in_child(
      [&]() -> std::string {
        fifolab::FifoNode node(dir.path() / "control");
        throw std::runtime_error("leaving by an exception");
      },
      kDeadline);
  REQUIRE_MESSAGE(contains(outcome.value, "leaving by an exception"), outcome.describe());
  const auto left = ipclab::fifo_nodes(dir.path());
  CHECK_MESSAGE(left.empty(), ipclab::leak_report("FIFO nodes left behind", left));
}

// ---- Part 2: opening ----------------------------------------------------------

TEST_CASE("opening a FifoReader blocks until a writer opens the FIFO") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Child reader([&] {
    fifolab::FifoReader end(path);
    return std::string("opened");
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(reader.pid());
  CHECK_MESSAGE(blocked.yes, "with no writer yet, opening for reading must wait in open(): ", blocked.evidence);
  ipclab::Fd writer = open_writer_for(path, reader);
  Outcome opened = reader.finish(kDeadline);
  REQUIRE_RETURNED(opened);
  CHECK(opened.value == "opened");
}

TEST_CASE("a non-blocking FifoWriter with no reader fails with ENXIO") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          fifolab::FifoWriter end(path, fifolab::Open::nonblocking);
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::no_such_device_or_address ? "ENXIO: " : "another errno: ") +
                 e.what();
        }
        return std::string("no exception: the open succeeded with no reader");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(contains(outcome.value, "ENXIO: "), "expected std::system_error with errno ENXIO, got: ",
                outcome.value);
  CHECK_MESSAGE(contains(outcome.value, path.string()), "the error should name the FIFO: ", outcome.value);
}

// ---- Part 2: messages ---------------------------------------------------------

TEST_CASE("send and receive carry one message") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Child writer([&] {
    fifolab::FifoWriter(path).send("hello, fifo");
    return std::string();
  });
  // The writer waits in open() for a reader: let it get there before the
  // reader starts, so which child the scheduler runs first never decides
  // this test, on which five others depend. A reader whose open() does not
  // wait for a writer is the business of "opening a FifoReader blocks until
  // a writer opens the FIFO".
  (void)ipclab::wait_until_blocked(writer.pid());
  ipclab::Child reader([&] {
    const auto got = fifolab::FifoReader(path).receive();
    return got ? "[" + *got + "]" : std::string("end-of-stream");
  });
  const Deadline deadline;
  Outcome received = reader.finish(deadline.left());
  Outcome sent = writer.finish(deadline.left());
  REQUIRE_RETURNED(sent, "the writer: ");
  REQUIRE_RETURNED(received, "the reader: ");
  if (received.value == "end-of-stream") {
    // The writer sent its message, yet the reader saw no writer: it read
    // before the writer had opened, which its own open() should prevent.
    ipclab::verdict::observed("the reader read before a writer opened");
  }
  CHECK_MESSAGE(received.value == "[hello, fifo]", "the writer sent \"hello, fifo\"; the reader got ",
                received.value);
}

TEST_CASE("thousands of messages of mixed sizes arrive whole and in order") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  const auto sizes = mixed_sizes(3000);
  ipclab::Child writer([&] {
    fifolab::FifoWriter end(path);
    for (std::size_t i = 0; i < sizes.size(); ++i) end.send(message_number(i, sizes[i]));
    return std::string();
  });
  // As in "send and receive carry one message": the writer waits in open()
  // before the reader starts, so the scheduler's order never decides this.
  (void)ipclab::wait_until_blocked(writer.pid());
  ipclab::Child reader([&] { return receive_and_compare(path, sizes); });
  const Deadline deadline;
  Outcome received = reader.finish(deadline.left());
  Outcome sent = writer.finish(deadline.left());
  REQUIRE_RETURNED(received, "the reader: ");
  CHECK_MESSAGE(received.value == "", received.value);
  CHECK_MESSAGE(sent.ok(), "the writer: ", sent.describe());
}

TEST_CASE("two writers with messages up to PIPE_BUF never interleave") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  // The test holds the FIFO open both ways: no open() waits, and the reader
  // sees end-of-stream only when the test closes it after both writers.
  const int keeper_fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(keeper_fd >= 0);
  ipclab::Fd keeper(keeper_fd);
  ipclab::Child reader([&] {
    keeper.reset();  // the reader's inherited copy would be a writer that never closes
    return check_tagged_messages(path);
  });
  auto writer_body = [&](char tag) {
    return [&path, tag] {
      fifolab::FifoWriter end(path);
      for (std::uint32_t i = 0; i < kPerWriter; ++i) end.send(tagged_message(tag, i));
      return std::string();
    };
  };
  ipclab::Child writer_a(writer_body('A'));
  ipclab::Child writer_b(writer_body('B'));
  // The test closes its end once both writers are done — or as soon as the
  // reader has stopped (it found a damaged message): then the writers, left
  // with no reader, end too (SIGPIPE) instead of waiting for the deadline.
  const Deadline deadline;
  while (!(has_ended(writer_a.pid()) && has_ended(writer_b.pid())) && !has_ended(reader.pid()) &&
         !deadline.passed()) {
    std::this_thread::sleep_for(5ms);
  }
  keeper.reset();
  Outcome received = reader.finish(deadline.left());
  Outcome a = writer_a.finish(deadline.left());
  Outcome b = writer_b.finish(deadline.left());
  REQUIRE_RETURNED(received, "the reader: ");
  REQUIRE_MESSAGE(received.value == "", received.value);
  CHECK_MESSAGE(a.ok(), "writer A: ", a.describe());
  CHECK_MESSAGE(b.ok(), "writer B: ", b.describe());
}

// ---- Part 2: end-of-stream and blocking -----------------------------------------

TEST_CASE("receive reports end-of-stream when the last writer closes") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Child reader([&] {
    fifolab::FifoReader end(path);
    std::string transcript;
    for (int i = 0; i < 10; ++i) {  // three messages are sent; ten is plenty
      const auto got = end.receive();
      if (!got) return transcript + "end-of-stream";
      transcript += "[" + *got + "]";
    }
    return transcript + "... (no end-of-stream)";
  });
  ipclab::Fd writer = open_writer_for(path, reader);
  ipclab::write_unless_reader_ended(writer.get(), frame("first") + frame("") + frame("last"));
  ipclab::Blocked waiting = ipclab::wait_until_blocked(reader.pid());
  // Three short messages need a few KiB. A reader that took a length from
  // the wrong bytes fills a buffer of up to 4 GiB, whose page faults look
  // like busy-waiting while they last: tell the two apart, whichever the
  // blocking check saw (on an idle machine the filling may be over by then).
  const auto after = ipclab::sample_process(reader.pid());
  const std::uint64_t peak_mib = after ? after->peak_rss_kib / 1024 : 0;
  const bool huge_buffer = waiting.growing_memory || peak_mib >= kHugeBufferMib;
  if (huge_buffer) ipclab::verdict::observed("a buffer sized from the wrong bytes");
  CHECK_MESSAGE(!huge_buffer, "receive grew to ", peak_mib, " MiB of memory for three messages of at most 5 bytes");
  CHECK_MESSAGE((waiting.yes || huge_buffer),
                "after three messages, with a writer still open, receive must wait for more: ", waiting.evidence);
  writer.reset();
  Outcome got = reader.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == "[first][][last]end-of-stream",
                "an empty message is a message, and end-of-stream comes once the last writer closes");
}

TEST_CASE("receive blocks on an empty FIFO without using the CPU") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Child reader([&] {
    fifolab::FifoReader end(path);
    const auto got = end.receive();
    return got ? *got : std::string("end-of-stream");
  });
  ipclab::Fd writer = open_writer_for(path, reader);
  ipclab::Blocked blocked = ipclab::wait_until_blocked(reader.pid());
  CHECK_MESSAGE(blocked.yes, blocked.evidence);
  ipclab::write_unless_reader_ended(writer.get(), frame("wake up"));
  Outcome got = reader.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK(got.value == "wake up");
}

TEST_CASE("send blocks on a full FIFO and resumes when it is drained") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  const std::string big = ipclab::pattern(1 << 20, 11);
  ipclab::Child writer([&] {
    fifolab::FifoWriter end(path);
    end.send(big);
    end.send("after");
    return std::string("sent");
  });
  ipclab::Pipe go;
  ipclab::Child drain([&] { return drain_when_told(path, go, big, "after"); });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(writer.pid());
  CHECK_MESSAGE(blocked.yes, "1 MiB cannot fit in a 64 KiB FIFO, so send must wait: ", blocked.evidence);
  ipclab::write_fully(go.write.get(), "go");
  const Deadline deadline;
  Outcome sent = writer.finish(deadline.left());
  REQUIRE_RETURNED(sent);
  Outcome drained = drain.finish(deadline.left());
  REQUIRE_RETURNED(drained, "the test's reader: ");
  CHECK_MESSAGE(drained.value == "", drained.value);
}

// ---- Part 3: request and reply -------------------------------------------------

TEST_CASE("ask returns the server's reply and serve ends when the client closes") {
  Conversation run = converse(uppercase, [](const fs::path& base) {
    fifolab::RequestClient client(base);
    const std::string first = client.ask("hello");
    const std::string second = client.ask("");
    return first + "|" + second + "|" + client.ask("third request");
  });
  REQUIRE_RETURNED(run.client, "the client: ");
  CHECK(run.client.value == "HELLO||THIRD REQUEST");
  REQUIRE_RETURNED(run.server, "the server: ");
  CHECK_MESSAGE(run.server.value == "served 3", "once the client closes, serve returns how many it answered");
}

TEST_CASE("replies are matched to their requests") {
  ipclab::ScratchDir dir;
  const fs::path base = dir.path() / "control";
  make_fifo(fifolab::requests_path(base));
  make_fifo(fifolab::replies_path(base));
  // The test's server reads three requests, then answers them last to first.
  // It opens the reply FIFO first, O_RDWR (which never waits), so a writer is
  // there before the client can read: whether a client that reads without
  // waiting for a writer wins its race never decides this test.
  ipclab::Child server([&] {
    ipclab::Fd replies = open_blocking(fifolab::replies_path(base), O_RDWR);
    ipclab::Fd requests = open_blocking(fifolab::requests_path(base), O_RDONLY);
    std::vector<std::string> received;
    std::set<fifolab::RequestId> ids;
    for (int i = 0; i < 3; ++i) {
      const auto request = read_frame(requests.get());
      if (!request) return std::string("the client sent fewer than three requests");
      received.push_back(*request);
      ids.insert(id_of(*request));
    }
    for (auto it = received.rbegin(); it != received.rend(); ++it) {
      ipclab::write_fully(replies.get(), frame(with_id(id_of(*it), "reply to " + it->substr(fifolab::kIdSize))));
    }
    return std::to_string(ids.size()) + " distinct ids";
  });
  ipclab::Child client([&] {
    fifolab::RequestClient channel(base);
    const auto one = channel.send_request("one");
    const auto two = channel.send_request("two");
    const auto three = channel.send_request("three");
    const std::string second = channel.await_reply(two);
    const std::string first = channel.await_reply(one);
    return second + " | " + first + " | " + channel.await_reply(three);
  });
  const Deadline deadline;
  Outcome asked = client.finish(deadline.left());
  Outcome answered = server.finish(deadline.left());
  REQUIRE_RETURNED(asked, "the client: ");
  CHECK_MESSAGE(asked.value == "reply to two | reply to one | reply to three",
                "replies came back last to first; each await_reply must return the reply to ITS request");
  CHECK_MESSAGE(answered.value == "3 distinct ids", "the test's server: ", answered.ok() ? answered.value : answered.describe());
}

TEST_CASE("send_request numbers requests 1 2 3 in the order they are sent") {
  ipclab::ScratchDir dir;
  const fs::path base = dir.path() / "control";
  make_fifo(fifolab::requests_path(base));
  make_fifo(fifolab::replies_path(base));
  // The test's server lists the ids the requests carry, until the client
  // closes. It is waiting in open() before the client starts, and opens the
  // reply FIFO O_RDWR (which never waits), so it never depends on how long
  // the client stays.
  ipclab::Child server([&] {
    ipclab::Fd requests = open_blocking(fifolab::requests_path(base), O_RDONLY);
    ipclab::Fd replies = open_blocking(fifolab::replies_path(base), O_RDWR);
    std::string carried;
    while (const auto request = read_frame(requests.get())) {
      carried += (carried.empty() ? "" : " ") + std::to_string(id_of(*request));
    }
    return carried;
  });
  (void)ipclab::wait_until_blocked(server.pid());
  ipclab::Child client([&] {
    fifolab::RequestClient channel(base);
    std::string returned;
    for (const char* text : {"one", "two", "three", "four"}) {
      returned += (returned.empty() ? "" : " ") + std::to_string(channel.send_request(text));
    }
    return returned;
  });
  const Deadline deadline;
  Outcome sent = client.finish(deadline.left());
  Outcome received = server.finish(deadline.left());
  REQUIRE_RETURNED(sent, "the client: ");
  REQUIRE_MESSAGE(received.ok(), "the test's server, reading the client's requests as frames (Part 2): ",
                  received.describe());
  CHECK_MESSAGE(sent.value == "1 2 3 4", "a new client's send_request returned the ids ", sent.value,
                " for its first four requests: ids are 1, 2, 3, ... in the order requests are sent, "
                "so the first request is 1");
  CHECK_MESSAGE(received.value == sent.value, "send_request returned the ids ", sent.value,
                " but the requests carried the ids ", received.value,
                ": each request must carry the id send_request returns for it");
}

TEST_CASE("RequestServer removes both FIFOs even when its handler throws") {
  Conversation run = run_failing_server();
  CHECK_MESSAGE(contains(run.server.value, "the handler failed on purpose"),
                "serve should pass the handler's exception on; the server ", run.server.describe());
  CHECK_MESSAGE(run.nodes_left.empty(),
                ipclab::leak_report("FIFO nodes left behind", run.nodes_left));
}

}  // TEST_SUITE
