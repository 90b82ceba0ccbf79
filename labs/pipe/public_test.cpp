// Lab `pipe`: the public tests. Each test case is one graded behaviour; its
// points and hint are in lab.toml. Run them with `./grade pipe`.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <system_error>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/helper.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/snapshot.h"
#include "grader/harness/verdict.h"
#include "labs/pipe/pipe_lab.h"
#include "labs/pipe/pipe_test_support.h"

using ipclab::Outcome;
using pipelab::testing::kDeadline;
using pipelab::testing::run_pipeline_captured;

namespace {

// Sends `message` with the student's write_all from one child and receives it
// with read_all in another, the test process holding no pipe end at all.
Outcome send_between_children(const std::string& message) {
  ipclab::Pipe pipe;
  ipclab::Child writer([&] {
    pipe.read.reset();
    pipelab::write_all(pipe.write.get(), message);
    return std::string();
  });
  ipclab::Child reader([&] {
    pipe.write.reset();
    return pipelab::read_all(pipe.read.get());
  });
  pipe.read.reset();
  pipe.write.reset();
  Outcome wrote = writer.finish(kDeadline);
  Outcome read = reader.finish(kDeadline);
  if (!wrote.ok()) {
    read.kind = wrote.kind;
    read.value = "the writer: " + wrote.describe();
  }
  return read;
}

void ignore_signal(int) {}

// Writes into the pipe until it is full, without blocking; how many bytes.
std::size_t fill_pipe(int write_end) {
  const int flags = ::fcntl(write_end, F_GETFL);
  ::fcntl(write_end, F_SETFL, flags | O_NONBLOCK);
  const std::string block(4096, 'f');
  std::size_t filled = 0;
  for (;;) {
    const ssize_t n = ::write(write_end, block.data(), block.size());
    if (n <= 0) break;
    filled += static_cast<std::size_t>(n);
  }
  ::fcntl(write_end, F_SETFL, flags);  // the flag is the open file's: the writer must block
  return filled;
}

std::string uppercase(std::string_view text) {
  std::string upper(text);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper;
}

}  // namespace

TEST_SUITE("pipe") {

TEST_CASE("write_all and read_all carry a short message") {
  Outcome got = send_between_children("hello, pipe");
  REQUIRE_RETURNED(got);
  CHECK(got.value == "hello, pipe");
}

TEST_CASE("read_all returns a 4 MiB message whole and in order") {
  const std::string message = ipclab::pattern(4 << 20, 1);
  Outcome got = send_between_children(message);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == message, ipclab::first_difference(message, got.value));
}

TEST_CASE("read_all ends only when every write end is closed") {
  ipclab::Pipe pipe;
  ipclab::Child reader([&] {
    pipe.write.reset();
    return pipelab::read_all(pipe.read.get());
  });
  ipclab::write_unless_reader_ended(pipe.write.get(), "first part, ");
  // Data has arrived but a write end is open: read_all must keep waiting.
  ipclab::Blocked waiting = ipclab::wait_until_blocked(reader.pid());
  CHECK_MESSAGE(waiting.yes, "after the first part arrived, read_all should still wait for EOF: ",
                waiting.evidence);
  ipclab::write_unless_reader_ended(pipe.write.get(), "second part");
  pipe.write.reset();
  Outcome got = reader.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK(got.value == "first part, second part");
}

TEST_CASE("read_all blocks on an empty pipe without using the CPU") {
  ipclab::Pipe pipe;
  ipclab::Child reader([&] {
    pipe.write.reset();
    return pipelab::read_all(pipe.read.get());
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(reader.pid());
  CHECK_MESSAGE(blocked.yes, blocked.evidence);
  pipe.write.reset();
  Outcome got = reader.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK(got.value == "");
}

TEST_CASE("write_all blocks on a full pipe and resumes when it is drained") {
  const std::string message = ipclab::pattern(1 << 20, 2);
  ipclab::Pipe pipe;
  ipclab::Child writer([&] {
    pipe.read.reset();
    pipelab::write_all(pipe.write.get(), message);
    return std::string("done");
  });
  pipe.write.reset();
  ipclab::Blocked blocked = ipclab::wait_until_blocked(writer.pid());
  CHECK_MESSAGE(blocked.yes, "1 MiB cannot fit in a 64 KiB pipe, so write_all must wait: ",
                blocked.evidence);
  const std::string got = ipclab::read_until_eof(pipe.read.get());
  Outcome wrote = writer.finish(kDeadline);
  REQUIRE_RETURNED(wrote);
  CHECK_MESSAGE(got == message, ipclab::first_difference(message, got));
}

TEST_CASE("write_all retries a write interrupted by a signal") {
  ipclab::Pipe pipe;
  // The pipe is full before write_all starts, so its first write() waits
  // before it has moved a byte: a signal then makes it fail with EINTR.
  const std::size_t filled = fill_pipe(pipe.write.get());
  const std::string message = "written after the signal";
  ipclab::Child writer([&] {
    pipe.read.reset();
    struct sigaction action {};
    action.sa_handler = ignore_signal;  // no SA_RESTART: the waiting write() fails with EINTR
    ::sigaction(SIGUSR1, &action, nullptr);
    pipelab::write_all(pipe.write.get(), message);
    return std::string("done");
  });
  pipe.write.reset();
  ipclab::Blocked before = ipclab::wait_until_blocked(writer.pid());
  if (!before.yes) {
    // Say how write_all ended instead of waiting (a throw, a return).
    const Outcome early = writer.finish(kDeadline);
    FAIL("write_all on a full pipe should wait for room (", before.evidence, "), but it ", early.describe());
  }
  ::kill(writer.pid(), SIGUSR1);
  ipclab::Blocked after = ipclab::wait_until_blocked(writer.pid());
  const std::string got = ipclab::read_until_eof(pipe.read.get());
  Outcome wrote = writer.finish(kDeadline);
  REQUIRE_MESSAGE(wrote.ok(), "a signal handler interrupted write_all's write() on a full pipe before it moved a ",
                  "byte (write returned -1 with errno EINTR), and write_all ", wrote.describe(),
                  ": EINTR is no error, call write() again");
  CHECK_MESSAGE(after.yes, "after the signal handler ran, write_all should wait again for room in the pipe: ",
                after.evidence);
  CHECK_MESSAGE(got.size() == filled + message.size(), "the reader got ", got.size(), " bytes: the ", filled,
                " that filled the pipe and write_all's ", message.size(), " expected");
  CHECK_MESSAGE(got.substr(filled) == message, ipclab::first_difference(message, got.substr(filled)));
}

TEST_CASE("write_all reports EPIPE when no reader is left") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ::signal(SIGPIPE, SIG_IGN);
        ipclab::Pipe pipe;
        pipe.read.reset();
        try {
          pipelab::write_all(pipe.write.get(), "nobody listens");
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::broken_pipe ? "EPIPE" : e.what());
        }
        return std::string("no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "EPIPE",
                "expected std::system_error with errno EPIPE, got: ", outcome.value);
}

TEST_CASE("ask_child returns the child's whole answer") {
  Outcome outcome =
      ipclab::run_in_child([] { return pipelab::ask_child("ping from the parent", uppercase); }, kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "PING FROM THE PARENT");
}

TEST_CASE("ask_child carries 3 MiB each way") {
  const std::string request = ipclab::pattern(3 << 20, 3);
  Outcome outcome = ipclab::run_in_child(
      [&] {
        return pipelab::ask_child(request, [](std::string_view r) { return std::string(r.rbegin(), r.rend()); });
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  const std::string expected(request.rbegin(), request.rend());
  CHECK_MESSAGE(outcome.value == expected, ipclab::first_difference(expected, outcome.value));
}

TEST_CASE("ask_child reaps its child") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const std::string answer = pipelab::ask_child("x", uppercase);
        return ipclab::leak_report(ipclab::children_of());
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "", outcome.value);
}

TEST_CASE("run_pipeline runs ls -l | wc -l") {
  ipclab::ScratchDir dir;
  for (const char* name : {"a", "b", "c"}) std::ofstream(dir.path() / name) << name;
  auto run = run_pipeline_captured({{"ls", "-l", dir.path().string()}, {"wc", "-l"}});
  REQUIRE_RETURNED(run.outcome);
  CHECK(run.outcome.value == "0");
  CHECK(run.output == "4\n");  // "total 12" and one line per file
}

TEST_CASE("run_pipeline returns the last stage's exit status") {
  auto failing_last = run_pipeline_captured({{"true"}, {"sh", "-c", "exit 3"}});
  REQUIRE_RETURNED(failing_last.outcome);
  CHECK(failing_last.outcome.value == "3");
  auto failing_first = run_pipeline_captured({{"false"}, {"true"}});
  REQUIRE_RETURNED(failing_first.outcome);
  CHECK(failing_first.outcome.value == "0");
}

TEST_CASE("run_pipeline returns 127 when the last command cannot be run") {
  auto run = run_pipeline_captured({{"echo", "x"}, {"ipclab-no-such-command"}});
  REQUIRE_RETURNED(run.outcome);
  // echo may be killed by SIGPIPE (141) once the last stage is gone: that
  // status returned means the wrong stage's status, not a wrong exit code.
  if (run.outcome.value == "141") ipclab::verdict::observed("an earlier stage's SIGPIPE status");
  CHECK(run.outcome.value == "127");
}

TEST_CASE("run_pipeline gives each stage only descriptors 0 1 and 2") {
  const auto stage = ipclab::helper_command("echo-fds");
  auto run = run_pipeline_captured({stage, stage, stage}, "input\n");
  REQUIRE_RETURNED(run.outcome);
  CHECK(run.output == "input\nfds: 0 1 2\nfds: 0 1 2\nfds: 0 1 2\n");
}

TEST_CASE("run_pipeline reaps every stage") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        pipelab::run_pipeline({{"true"}, {"true"}, {"true"}});
        return ipclab::leak_report(ipclab::children_of());
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "", outcome.value);
}

TEST_CASE("run_pipeline rejects an empty pipeline") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const bool threw = ipclab::threw<std::invalid_argument>([&] { pipelab::run_pipeline({}); });
        return std::string(threw ? "invalid_argument" : "no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "invalid_argument");
}

}  // TEST_SUITE
