// Lab `fifo`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <system_error>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/signal_state.h"
#include "grader/harness/snapshot.h"
#include "labs/fifo/fifo_lab.h"
#include "labs/fifo/fifo_test_support.h"

using ipclab::Outcome;
using namespace fifolab::testing;

namespace {

// Interrupts `child`, which must be waiting, with SIGUSR1, and checks that
// it waits again afterwards; on failure says how the child ended.
void interrupt_while_waiting(ipclab::Child& child, const std::string& call) {
  ipclab::Blocked before = ipclab::wait_until_blocked(child.pid());
  if (!before.yes) {
    const Outcome early = child.finish(kDeadline);
    FAIL(call, " should wait here (", before.evidence, "), but it ", early.describe());
  }
  ::kill(child.pid(), SIGUSR1);
  ipclab::Blocked after = ipclab::wait_until_blocked(child.pid());
  if (!after.yes) {
    const Outcome early = child.finish(kDeadline);
    FAIL("a signal handler interrupted ", call, " while it waited (the system call returned -1 with errno EINTR); ",
         "it should retry and wait again, but it ", early.describe());
  }
}

}  // namespace

TEST_SUITE("fifo (hidden)") {

TEST_CASE("FifoNode takes over a FIFO left behind by an earlier run") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "control");
  Outcome inside = ipclab::run_in_child(
      [&] {
        fifolab::FifoNode node(path);
        return std::string(ipclab::fifo_nodes(dir.path()).count(path.string()) ? "a FIFO" : "no FIFO");
      },
      kDeadline);
  REQUIRE_RETURNED(inside, "a FIFO already at the path is taken over, not refused: ");
  CHECK(inside.value == "a FIFO");
  const auto left = ipclab::fifo_nodes(dir.path());
  CHECK_MESSAGE(left.empty(), ipclab::leak_report("FIFO nodes left behind", left));
}

TEST_CASE("a FifoWriter blocks in open until a reader opens the FIFO") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Child writer([&] {
    fifolab::FifoWriter end(path);
    return std::string("opened");
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(writer.pid());
  CHECK_MESSAGE(blocked.yes, "with no reader yet, opening for writing must wait in open(): ", blocked.evidence);
  // A read-only open never waits, so the test can make it in its own process.
  ipclab::Fd reader = open_end(path, O_RDONLY, writer.pid());
  Outcome opened = writer.finish(kDeadline);
  REQUIRE_RETURNED(opened);
  CHECK(opened.value == "opened");
}

TEST_CASE("a non-blocking FifoWriter sends large messages once a reader is there") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  const std::string big = ipclab::pattern(1 << 20, 17);
  ipclab::Pipe go;
  ipclab::Child drain([&] { return drain_when_told(path, go, big, "after"); });
  ipclab::Child writer([&] {
    // The test's reader may not have opened yet: try until it has.
    for (;;) {
      try {
        fifolab::FifoWriter end(path, fifolab::Open::nonblocking);
        end.send(big);
        end.send("after");
        return std::string("sent");
      } catch (const std::system_error& e) {
        if (e.code() != std::errc::no_such_device_or_address) throw;
      }
    }
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(writer.pid());
  CHECK_MESSAGE(blocked.yes,
                "once open, the descriptor must be blocking again, so send waits on a full FIFO: ", blocked.evidence);
  ipclab::write_fully(go.write.get(), "go");
  const Deadline deadline;
  Outcome sent = writer.finish(deadline.left());
  REQUIRE_RETURNED(sent);
  Outcome drained = drain.finish(deadline.left());
  REQUIRE_RETURNED(drained, "the test's reader: ");
  CHECK_MESSAGE(drained.value == "", drained.value);
}

TEST_CASE("a message cut short by the writer's exit is reported as an error") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Child reader([&] {
    fifolab::FifoReader end(path);
    std::string transcript;
    try {
      for (int i = 0; i < 3; ++i) {
        const auto got = end.receive();
        if (!got) return transcript + "end-of-stream";
        transcript += "[" + *got + "]";
      }
    } catch (const std::runtime_error&) {
      return transcript + "runtime_error";
    }
    return transcript + "...";
  });
  ipclab::Fd writer = open_writer_for(path, reader);
  // A whole message, then a header announcing 100 bytes followed by only 10.
  const std::string cut = frame(std::string(100, 'x')).substr(0, fifolab::kHeaderSize + 10);
  ipclab::write_unless_reader_ended(writer.get(), frame("whole") + cut);
  writer.reset();
  Outcome got = reader.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == "[whole]runtime_error",
                "a stream that ends inside a message is an error, neither a short message nor end-of-stream");
}

TEST_CASE("RequestServer answers each request under the client's id") {
  ipclab::ScratchDir dir;
  const fs::path base = dir.path() / "control";
  ipclab::Child server([&] {
    fifolab::RequestServer requests(base);
    return "served " + std::to_string(requests.serve([](std::string_view text) { return std::string(text) + "!"; }));
  });
  REQUIRE_MESSAGE(wait_for_nodes(dir.path(), 2, server.pid()), "the server never created its two FIFOs");
  // The test's client picks its own ids, not 1, 2, 3.
  ipclab::Child client([&] {
    ipclab::Fd requests = open_blocking(fifolab::requests_path(base), O_WRONLY);
    ipclab::Fd replies = open_blocking(fifolab::replies_path(base), O_RDONLY);
    std::string transcript;
    for (const auto& [id, text] : {std::pair<fifolab::RequestId, std::string>{1000, "a"}, {7, "bb"}, {42, "ccc"}}) {
      ipclab::write_fully(requests.get(), frame(with_id(id, text)));
      const auto reply = read_frame(replies.get());
      if (!reply) return transcript + "end-of-stream";
      transcript += std::to_string(id_of(*reply)) + ":" + reply->substr(fifolab::kIdSize) + " ";
    }
    return transcript;
  });
  const Deadline deadline;
  Outcome asked = client.finish(deadline.left());
  Outcome served = server.finish(deadline.left());
  REQUIRE_RETURNED(asked, "the test's client: ");
  CHECK_MESSAGE(asked.value == "1000:a! 7:bb! 42:ccc! ", "each reply must carry its request's id");
  CHECK_MESSAGE(served.value == "served 3", "the server: ", served.ok() ? served.value : served.describe());
}

TEST_CASE("a client whose server fails gets an error instead of a hang") {
  Conversation run = run_failing_server();
  REQUIRE_RETURNED(run.client, "the client: ");
  CHECK_MESSAGE(run.client.value == "answer to fine | runtime_error",
                "when the server closes the reply FIFO, await_reply throws std::runtime_error");
}

TEST_CASE("two hundred requests of every size each get their own reply") {
  // Few enough round trips that the test measures volume, not scheduling.
  const auto sizes = mixed_sizes(200);
  auto reversed = [](std::string_view text) { return std::string(text.rbegin(), text.rend()); };
  Conversation run = converse(reversed, [&](const fs::path& base) {
    fifolab::RequestClient client(base);
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      const std::string request = message_number(i, sizes[i]);
      const std::string expected(request.rbegin(), request.rend());
      const std::string reply = client.ask(request);
      if (reply != expected) return "reply " + std::to_string(i) + ": " + ipclab::first_difference(expected, reply);
    }
    return std::string();
  });
  REQUIRE_RETURNED(run.client, "the client: ");
  CHECK_MESSAGE(run.client.value == "", run.client.value);
  CHECK_MESSAGE(run.server.value == "served 200", "the server: ", run.server.ok() ? run.server.value : run.server.describe());
}

TEST_CASE("opening a FifoReader goes on waiting after a signal interrupts it") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Child reader([&] {
    ipclab::interrupt_on(SIGUSR1);
    fifolab::FifoReader end(path);
    const auto message = end.receive();
    return message ? *message : std::string("end-of-stream");
  });
  interrupt_while_waiting(reader, "opening a FifoReader with no writer yet");
  ipclab::Fd writer = open_writer_for(path, reader);
  ipclab::write_unless_reader_ended(writer.get(), frame("opened after the signal"));
  writer.reset();
  Outcome got = reader.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), got.describe());
  CHECK(got.value == "opened after the signal");
}

TEST_CASE("receive goes on waiting after a signal interrupts it") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Child reader([&] {
    ipclab::interrupt_on(SIGUSR1);
    fifolab::FifoReader end(path);
    const auto first = end.receive();
    const auto second = end.receive();
    return (first ? *first : std::string("end-of-stream")) + " / " + (second ? *second : std::string("end-of-stream"));
  });
  ipclab::Fd writer = open_writer_for(path, reader);
  interrupt_while_waiting(reader, "receive on an empty FIFO");
  ipclab::write_unless_reader_ended(writer.get(), frame("sent after the signal"));
  writer.reset();
  Outcome got = reader.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), got.describe());
  CHECK_MESSAGE(got.value == "sent after the signal / end-of-stream",
                "expected the message, then end-of-stream once the writer closed; got: ", got.value);
}

TEST_CASE("send goes on writing after a signal interrupts it") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  // The test fills the FIFO with one frame first, so the student's first
  // write() waits before it has moved a byte: a signal then makes it fail
  // with EINTR (a write that had moved bytes would return their count).
  ipclab::Fd reader = open_end(path, O_RDONLY, ::getpid());
  const int capacity = ::fcntl(reader.get(), F_GETPIPE_SZ);
  REQUIRE_MESSAGE(capacity > static_cast<int>(fifolab::kHeaderSize), "F_GETPIPE_SZ failed");
  const std::string filler = ipclab::pattern(static_cast<std::size_t>(capacity) - fifolab::kHeaderSize, 3);
  {
    ipclab::Fd filling = open_end(path, O_WRONLY | O_NONBLOCK, ::getpid());
    ::fcntl(filling.get(), F_SETFL, O_NONBLOCK);
    const std::string bytes = frame(filler);
    REQUIRE_MESSAGE(::write(filling.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()),
                    "the test could not fill the FIFO");
  }
  const std::string message = "written after the signal";
  ipclab::Child writer([&] {
    ipclab::interrupt_on(SIGUSR1);
    fifolab::FifoWriter end(path);
    end.send(message);
    return std::string("sent");
  });
  interrupt_while_waiting(writer, "send on a full FIFO");
  const auto first = read_frame(reader.get());
  const auto second = read_frame(reader.get());
  Outcome sent = writer.finish(kDeadline);
  REQUIRE_MESSAGE(sent.ok(), sent.describe());
  CHECK_MESSAGE((first && *first == filler), "the frame that filled the FIFO came back changed");
  REQUIRE_MESSAGE(second.has_value(), "the reader saw end-of-stream instead of the message sent after the signal");
  CHECK_MESSAGE(*second == message, ipclab::first_difference(message, *second));
}

TEST_CASE("a non-blocking FifoWriter's ENXIO error says no reader is there") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          fifolab::FifoWriter end(path, fifolab::Open::nonblocking);
        } catch (const std::system_error& e) {
          return std::string(e.what());
        }
        return std::string("no exception: the open succeeded with no reader");
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe());
  std::string lower = outcome.value;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK_MESSAGE(lower.find("read") != std::string::npos, "the error should say that no process has the FIFO open for reading: ",
                outcome.value);
}

TEST_CASE("FifoNode creates its FIFO with mode 0600") {
  ipclab::ScratchDir dir;
  const fs::path path = dir.path() / "control";
  Outcome inside = ipclab::run_in_child(
      [&] {
        ::umask(022);  // a usual umask, which takes nothing away from 0600
        fifolab::FifoNode node(path);
        struct stat made {};
        if (::lstat(path.c_str(), &made) != 0) return std::string("no node at the path");
        char mode[16];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(made.st_mode & 07777));
        return std::string(mode);
      },
      kDeadline);
  REQUIRE_RETURNED(inside);
  CHECK_MESSAGE(inside.value == "0600", "the node's permissions are ", inside.value,
                " (with umask 022): mkfifo(path, 0600) lets only its owner open it");
}

TEST_CASE("FifoNode reports a node it cannot create with errno") {
  ipclab::ScratchDir dir;
  const fs::path path = dir.path() / "no-such-directory" / "control";
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          fifolab::FifoNode node(path);
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::no_such_file_or_directory ? "ENOENT" : "another errno: ") +
                 (e.code() == std::errc::no_such_file_or_directory ? "" : e.what());
        }
        return std::string("no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "ENOENT", "mkfifo in a directory that does not exist fails with ENOENT; ",
                "expected std::system_error carrying it, got: ", outcome.value);
}

TEST_CASE("FifoNode's destructor does not throw when its node is already gone") {
  ipclab::ScratchDir dir;
  const fs::path path = dir.path() / "control";
  Outcome outcome = ipclab::run_in_child(
      [&] {
        {
          fifolab::FifoNode node(path);
          ::unlink(path.c_str());  // someone else removed it: the destructor's unlink fails with ENOENT
        }
        return std::string("destroyed");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome, "a FifoNode whose node someone else had removed, when destroyed: ");
  CHECK(outcome.value == "destroyed");
}

TEST_CASE("FifoWriter and FifoReader report a FIFO that is not there with errno") {
  ipclab::ScratchDir dir;
  const fs::path path = dir.path() / "no-such-fifo";
  auto error_opening = [&](const std::function<void()>& open_end) {
    Outcome outcome = ipclab::run_in_child(
        [&] {
          try {
            open_end();
          } catch (const std::system_error& e) {
            return std::string(e.code() == std::errc::no_such_file_or_directory ? "ENOENT" : "another errno: ") +
                   (e.code() == std::errc::no_such_file_or_directory ? "" : e.what());
          }
          return std::string("no exception");
        },
        kDeadline);
    return outcome.ok() ? outcome.value : outcome.describe();
  };
  const std::string writer = error_opening([&] { fifolab::FifoWriter end(path); });
  const std::string reader = error_opening([&] { fifolab::FifoReader end(path); });
  CHECK_MESSAGE(writer == "ENOENT", "opening a FifoWriter on a path where nothing is fails with ENOENT; ",
                "expected std::system_error carrying it, got: ", writer);
  CHECK_MESSAGE(reader == "ENOENT", "opening a FifoReader on a path where nothing is fails with ENOENT; ",
                "expected std::system_error carrying it, got: ", reader);
}

TEST_CASE("a FifoWriter closes its end when it is destroyed") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  // The test's read end, there first (a read-only open with O_NONBLOCK never
  // waits), so the writer's open does not wait either.
  ipclab::Fd reader = open_end(path, O_RDONLY, ::getpid());
  ipclab::Pipe go;
  ipclab::Child writer([&] {
    {
      fifolab::FifoWriter end(path);
      end.send("the only message");
    }
    // The FifoWriter is gone, the process is not: it waits for the test.
    char byte;
    if (::read(go.read.get(), &byte, 1) != 1) return std::string("the test's go signal did not arrive");
    return std::string("done");
  });
  ipclab::Blocked waiting = ipclab::wait_until_blocked(writer.pid());
  if (!waiting.yes) {
    const Outcome early = writer.finish(kDeadline);
    FAIL("the writer process should send, destroy its FifoWriter and wait (", waiting.evidence, "), but it ",
         early.describe());
  }
  // What the FIFO holds, then what read() says once it is empty: 0 when no
  // process has it open for writing, EAGAIN while some writer still does.
  REQUIRE(::fcntl(reader.get(), F_SETFL, O_NONBLOCK) == 0);
  std::string bytes;
  ssize_t n = 0;
  char buffer[4096];
  while ((n = ::read(reader.get(), buffer, sizeof buffer)) > 0) bytes.append(buffer, static_cast<std::size_t>(n));
  const bool end_of_stream = n == 0;
  ipclab::write_fully(go.write.get(), "g");
  Outcome done = writer.finish(kDeadline);
  CHECK_MESSAGE(bytes == frame("the only message"), "the FIFO should hold the one frame sent");
  CHECK_MESSAGE(end_of_stream, "the FifoWriter was destroyed, yet its process still has the FIFO open for writing ",
                "(read() on the empty FIFO said EAGAIN, not end-of-file): the destructor must close() the "
                "descriptor, or the reader waits for end-of-stream as long as the process lives");
  REQUIRE_RETURNED(done, "the writer process: ");
}

TEST_CASE("send reports EPIPE when no reader is left") {
  ipclab::ScratchDir dir;
  const fs::path path = make_fifo(dir.path() / "f");
  ipclab::Fd reader = open_end(path, O_RDONLY, ::getpid());
  ipclab::Pipe go;
  ipclab::Child writer([&] {
    ::signal(SIGPIPE, SIG_IGN);
    reader.reset();  // its copy of the test's read end would be a reader that stays
    fifolab::FifoWriter end(path);
    char byte;
    if (::read(go.read.get(), &byte, 1) != 1) return std::string("the test's go signal did not arrive");
    try {
      end.send("nobody listens");
    } catch (const std::system_error& e) {
      return std::string(e.code() == std::errc::broken_pipe ? "EPIPE" : e.what());
    }
    return std::string("no exception");
  });
  ipclab::Blocked waiting = ipclab::wait_until_blocked(writer.pid());
  if (!waiting.yes) {
    const Outcome early = writer.finish(kDeadline);
    FAIL("the writer process should open its FifoWriter and wait (", waiting.evidence, "), but it ",
         early.describe());
  }
  reader.reset();  // now no process has the FIFO open for reading
  ipclab::write_fully(go.write.get(), "g");
  Outcome sent = writer.finish(kDeadline);
  REQUIRE_RETURNED(sent);
  CHECK_MESSAGE(sent.value == "EPIPE", "with SIGPIPE ignored, write() to a FIFO no one reads fails with EPIPE: ",
                "expected std::system_error carrying it, got: ", sent.value);
}

TEST_CASE("serve throws std::runtime_error for a request too short to hold an id") {
  ipclab::ScratchDir dir;
  const fs::path base = dir.path() / "control";
  ipclab::Child server([&] {
    fifolab::RequestServer requests(base);
    try {
      return "served " + std::to_string(requests.serve([](std::string_view text) { return std::string(text); }));
    } catch (const std::system_error& e) {
      return std::string("std::system_error: ") + e.what();
    } catch (const std::runtime_error&) {
      return std::string("runtime_error");
    }
  });
  REQUIRE_MESSAGE(wait_for_nodes(dir.path(), 2, server.pid()), "the server never created its two FIFOs");
  // The test's client sends one frame of 2 bytes, where an id takes 4.
  ipclab::Child client([&] {
    ipclab::Fd requests = open_blocking(fifolab::requests_path(base), O_WRONLY);
    ipclab::Fd replies = open_blocking(fifolab::replies_path(base), O_RDONLY);
    ipclab::write_fully(requests.get(), frame("ab"));
    const auto reply = read_frame(replies.get());
    return reply ? "a reply of " + std::to_string(reply->size()) + " bytes" : std::string("end-of-stream");
  });
  const Deadline deadline;
  Outcome asked = client.finish(deadline.left());
  Outcome served = server.finish(deadline.left());
  REQUIRE_RETURNED(served, "the server, sent a request of 2 bytes: ");
  CHECK_MESSAGE(served.value == "runtime_error", "a request of 2 bytes cannot hold a ", fifolab::kIdSize,
                "-byte id: serve should throw std::runtime_error; it returned ", served.value);
  CHECK_MESSAGE(asked.ok(), "the test's client: ", asked.describe());
}

}  // TEST_SUITE
