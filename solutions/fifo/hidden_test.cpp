// Lab `fifo`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <fcntl.h>

#include <string>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/snapshot.h"
#include "labs/fifo/fifo_lab.h"
#include "labs/fifo/fifo_test_support.h"

using ipclab::Outcome;
using namespace fifolab::testing;

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
  ipclab::write_fully(writer.get(), frame("whole") + cut);
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

}  // TEST_SUITE
