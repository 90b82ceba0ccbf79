// Lab `pipe`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <stdexcept>
#include <system_error>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/signal_state.h"
#include "grader/harness/snapshot.h"
#include "grader/harness/verdict.h"
#include "labs/pipe/pipe_lab.h"
#include "labs/pipe/pipe_test_support.h"

using ipclab::Outcome;
using pipelab::testing::kDeadline;
using pipelab::testing::run_pipeline_captured;

namespace {

}  // namespace

TEST_SUITE("pipe (hidden)") {

TEST_CASE("write_all and read_all carry every size around the pipe's limits") {
  for (std::size_t size : {1UL, 4095UL, 4096UL, 4097UL, 65535UL, 65536UL, 65537UL, (1UL << 20) + 3}) {
    CAPTURE(size);
    const std::string message = ipclab::pattern(size, static_cast<std::uint32_t>(size));
    ipclab::Pipe pipe;
    ipclab::Child writer([&] {
      pipe.read.reset();
      // Dribble it out in odd-sized pieces so no single read sees it all.
      for (std::size_t at = 0; at < message.size(); at += 1000) {
        ipclab::write_fully(pipe.write.get(), std::string_view(message).substr(at, 1000));
      }
      return std::string();
    });
    pipe.write.reset();
    Outcome got = ipclab::run_in_child([&] { return pipelab::read_all(pipe.read.get()); }, kDeadline);
    REQUIRE_RETURNED(got);
    CHECK_MESSAGE(got.value == message, ipclab::first_difference(message, got.value));
    CHECK(writer.finish(kDeadline).ok());
  }
}

TEST_CASE("ask_child carries an empty request and an empty answer") {
  Outcome outcome = ipclab::run_in_child(
      [] { return "[" + pipelab::ask_child("", [](std::string_view) { return std::string(); }) + "]"; },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "[]");
}

TEST_CASE("ask_child reports a child that fails") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const bool threw = ipclab::threw<std::runtime_error>([&] { pipelab::ask_child("x", [](std::string_view) -> std::string { throw std::runtime_error("serve failed"); }); });
        return std::string(threw ? "runtime_error" : "no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "runtime_error");
}

TEST_CASE("run_pipeline runs five stages") {
  auto run = run_pipeline_captured(
      {{"cat"}, {"sort"}, {"uniq"}, {"tr", "a-z", "A-Z"}, {"wc", "-l"}}, "c\nb\na\nb\nc\n");
  REQUIRE_RETURNED(run.outcome);
  CHECK(run.output == "3\n");
  CHECK(run.outcome.value == "0");
}

TEST_CASE("run_pipeline streams more than 64 KiB between stages") {
  auto run = run_pipeline_captured({{"head", "-c", "1000000", "/dev/zero"}, {"cat"}, {"wc", "-c"}});
  REQUIRE_RETURNED(run.outcome);
  CHECK(run.output == "1000000\n");
}

TEST_CASE("run_pipeline returns 128+N when the last stage is killed by signal N") {
  auto run = run_pipeline_captured({{"true"}, {"sh", "-c", "kill -TERM $$"}});
  REQUIRE_RETURNED(run.outcome);
  CHECK(run.outcome.value == "143");
}

TEST_CASE("run_pipeline returns the last stage's status when an earlier one dies of SIGPIPE") {
  // head ends after one line; yes, writing on, is then killed by SIGPIPE
  // (141 to a shell). The pipeline's status is still head's: 0.
  auto run = run_pipeline_captured({{"yes"}, {"head", "-n", "1"}});
  REQUIRE_RETURNED(run.outcome);
  CHECK(run.output == "y\n");
  if (run.outcome.value == "141") ipclab::verdict::observed("an earlier stage's SIGPIPE status");
  CHECK(run.outcome.value == "0");
}

TEST_CASE("run_pipeline runs a single stage") {
  auto run = run_pipeline_captured({{"sh", "-c", "echo one; exit 7"}});
  REQUIRE_RETURNED(run.outcome);
  CHECK(run.output == "one\n");
  CHECK(run.outcome.value == "7");
}

TEST_CASE("read_all goes on reading after a signal interrupts it") {
  ipclab::Pipe pipe;
  ipclab::Child reader([&] {
    pipe.write.reset();
    ipclab::interrupt_on(SIGUSR1);
    return pipelab::read_all(pipe.read.get());
  });
  pipe.read.reset();
  ipclab::write_unless_reader_ended(pipe.write.get(), "before the signal, ");
  ipclab::Blocked before = ipclab::wait_until_blocked(reader.pid());
  if (!before.yes) {
    const Outcome early = reader.finish(kDeadline);
    FAIL("read_all on an empty pipe with a write end open should wait (", before.evidence, "), but it ",
         early.describe());
  }
  ::kill(reader.pid(), SIGUSR1);
  ipclab::Blocked after = ipclab::wait_until_blocked(reader.pid());
  if (!after.yes) {
    const Outcome early = reader.finish(kDeadline);
    FAIL("a signal handler interrupted read_all's read() on an empty pipe (read returned -1 with errno EINTR); ",
         "read_all should call read() again and wait for end-of-file, but it ", early.describe());
  }
  ipclab::write_unless_reader_ended(pipe.write.get(), "after the signal");
  pipe.write.reset();
  Outcome got = reader.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), "after a signal interrupted its read(), read_all ", got.describe(),
                  ": it should go on reading until end-of-file");
  CHECK(got.value == "before the signal, after the signal");
}

TEST_CASE("run_pipeline reaps every stage when a signal interrupts its wait") {
  ipclab::Pipe gate;  // the stage's stdin: it ends when the test closes the write end
  ipclab::Child runner([&] {
    ipclab::interrupt_on(SIGUSR1);
    ::dup2(gate.read.get(), STDIN_FILENO);
    gate.read.reset();
    gate.write.reset();
    const int status = pipelab::run_pipeline({{"sh", "-c", "read line"}});
    return "status " + std::to_string(status) + ipclab::leak_report(ipclab::children_of());
  });
  gate.read.reset();
  ipclab::Blocked waiting = ipclab::wait_until_blocked(runner.pid());
  if (runner.has_ended()) {  // run_pipeline returned or threw before its stage ended: say how
    gate.write.reset();
    const Outcome early = runner.finish(kDeadline);
    REQUIRE_RETURNED(early);
    FAIL("run_pipeline should wait for its stage, which waits for input; it returned at once: ", early.value);
  }
  CHECK_MESSAGE(waiting.yes, "run_pipeline should wait for its stage: ", waiting.evidence);
  ::kill(runner.pid(), SIGUSR1);
  ipclab::Blocked again = ipclab::wait_until_blocked(runner.pid());
  ipclab::write_unless_reader_ended(gate.write.get(), "go\n");
  gate.write.reset();
  Outcome got = runner.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), "a signal handler interrupted run_pipeline's waitpid() (it returned -1 with errno ",
                  "EINTR), and run_pipeline ", got.describe(), ": EINTR is no error, call waitpid() again");
  CHECK_MESSAGE(again.yes, "after the signal handler ran, run_pipeline should wait again for its stage: ",
                again.evidence);
  CHECK_MESSAGE(got.value == "status 0", "expected the stage's status 0 and no child left; got: ", got.value);
}

TEST_CASE("write_all finishes a write that a signal cut short") {
  const std::string message = ipclab::pattern(1 << 20, 5);
  ipclab::Pipe pipe;
  ipclab::Child writer([&] {
    pipe.read.reset();
    ipclab::interrupt_on(SIGUSR1);
    pipelab::write_all(pipe.write.get(), message);
    return std::string("done");
  });
  pipe.write.reset();
  // 1 MiB does not fit in the pipe: write_all's write() moves what fits
  // (64 KiB), then waits for room.
  ipclab::Blocked before = ipclab::wait_until_blocked(writer.pid());
  if (!before.yes) {
    const Outcome early = writer.finish(kDeadline);
    FAIL("write_all of 1 MiB into a 64 KiB pipe should wait for room (", before.evidence, "), but it ",
         early.describe());
  }
  // A signal handler runs: the waiting write() returns the count of bytes
  // it had moved, fewer than it was asked for.
  ::kill(writer.pid(), SIGUSR1);
  const std::string got = ipclab::read_until_eof(pipe.read.get());
  Outcome wrote = writer.finish(kDeadline);
  REQUIRE_RETURNED(wrote);
  CHECK_MESSAGE(got.size() == message.size(), "the reader got ", got.size(), " of the ", message.size(),
                " bytes: a signal made write() return fewer bytes than asked for, and write_all must write the rest");
  CHECK_MESSAGE(got == message, ipclab::first_difference(message, got));
}

TEST_CASE("read_all reports a read error with errno") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        try {
          (void)pipelab::read_all(pipe.write.get());  // read() on a write end fails with EBADF
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::bad_file_descriptor ? "EBADF" : e.what());
        }
        return std::string("no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "EBADF", "read() on a pipe's write end fails with EBADF: read_all should throw ",
                "std::system_error carrying it, got: ", outcome.value);
}

TEST_CASE("run_pipeline rejects a stage with no program") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const bool threw = ipclab::threw<std::invalid_argument>([&] { pipelab::run_pipeline({{"true"}, {}}); });
        return std::string(threw ? "invalid_argument" : "no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "invalid_argument", "the second of two stages is empty, so it names no program: ",
                "run_pipeline should throw std::invalid_argument; got: ", outcome.value);
}

}  // TEST_SUITE
