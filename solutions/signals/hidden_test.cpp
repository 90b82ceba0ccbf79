// Lab `signals`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <errno.h>
#include <mqueue.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <system_error>
#include <vector>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/snapshot.h"
#include "labs/signals/signals_lab.h"
#include "labs/signals/signals_test_support.h"

using ipclab::Outcome;
using namespace siglab::testing;

TEST_SUITE("signals (hidden)") {

TEST_CASE("SignalFlag take reports each catch once") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        siglab::SignalFlag flag(SIGUSR1);
        std::string log;
        ::raise(SIGUSR1);
        log += flag.take() ? "1" : "0";
        log += flag.take() ? "1" : "0";
        // Three sent while blocked are one pending signal: one catch.
        block({SIGUSR1});
        for (int i = 0; i < 3; ++i) ::raise(SIGUSR1);
        const sigset_t usr1 = set_of({SIGUSR1});
        ::sigprocmask(SIG_UNBLOCK, &usr1, nullptr);
        log += flag.take() ? "1" : "0";
        log += flag.take() ? "1" : "0";
        return log;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "1010",
                "take() after each catch should say true once, then false until the next; got ",
                outcome.value);
}

TEST_CASE("EventLoop gives each signal its own callback") {
  Reports reports;
  ipclab::Child looper([&] {
    siglab::EventLoop loop;
    loop.on_signal(SIGUSR1, [&] { reports.say("USR1"); });
    loop.on_signal(SIGUSR2, [&] { reports.say("USR2"); });
    loop.on_signal(SIGTERM, [&] { loop.stop(); });
    reports.say("ready");
    loop.run();
    return std::string("stopped");
  });
  std::string report = reports.next(looper), log = report;
  for (int signo : {SIGUSR2, SIGUSR1, SIGUSR2}) {
    if (report.empty()) break;
    ::kill(looper.pid(), signo);
    report = reports.next(looper);  // handled before the next one is sent
    log += " " + report;
  }
  ::kill(looper.pid(), SIGTERM);
  Outcome got = looper.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(log == "ready USR2 USR1 USR2", "the callbacks saw: ", log);
}

TEST_CASE("ChildReaper does not interrupt blocking calls") {
  ipclab::Pipe data, go;
  Ready ready;
  ipclab::Child reader([&] {
    siglab::ChildReaper reaper;
    if (::fork() == 0) {
      go.write.reset();
      (void)ipclab::read_until_eof(go.read.get());  // ends when the test says so
      ::_exit(0);
    }
    go.read.reset();
    go.write.reset();
    ready.signal();
    char buffer[100];
    const ssize_t n = ::read(data.read.get(), buffer, sizeof buffer);
    if (n < 0) return std::string("read failed: ") + ::strerrorname_np(errno);
    return std::string(buffer, static_cast<std::size_t>(n));
  });
  const std::string unready = ready.wait(reader);
  REQUIRE_MESSAGE(unready.empty(), unready);
  go.read.reset();
  (void)ipclab::wait_until_blocked(reader.pid());
  go.write.reset();  // the grandchild ends: SIGCHLD interrupts the reader's read
  CHECK_MESSAGE(
      eventually([&] { return ipclab::children_of(reader.pid()).empty(); }, kDeadline),
      "the child that ended was never reaped: ", ipclab::leak_report(ipclab::children_of(reader.pid())));
  (void)ipclab::wait_until_blocked(reader.pid());
  ipclab::write_fully(data.write.get(), "data");
  Outcome got = reader.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == "data", got.value,
                ": a child ending made the program's read fail; install the SIGCHLD handler with SA_RESTART");
}

TEST_CASE("wait_for_signal takes each pending signal once") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        block({SIGUSR1, SIGUSR2, SIGTERM});
        ::raise(SIGUSR2);
        ::raise(SIGUSR1);
        std::vector<int> got;
        for (int i = 0; i < 2; ++i) got.push_back(siglab::wait_for_signal({SIGUSR1, SIGUSR2, SIGTERM}));
        std::sort(got.begin(), got.end());
        sigset_t pending;
        ::sigpending(&pending);
        const bool left = sigismember(&pending, SIGUSR1) || sigismember(&pending, SIGUSR2);
        return joined(got) + (left ? ", and one is still pending" : "");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == std::to_string(SIGUSR1) + " " + std::to_string(SIGUSR2));
}

TEST_CASE("send_values carries values from several senders each in its order") {
  const int signo = SIGRTMIN + 3;
  constexpr int kSenders = 3, kEach = 60;
  Ready ready;
  ipclab::Child receiver([&] {
    block({signo});
    ready.signal();
    return joined(siglab::receive_values(signo, kSenders * kEach));
  });
  const std::string unready = ready.wait(receiver);
  REQUIRE_MESSAGE(unready.empty(), unready);
  std::vector<std::unique_ptr<ipclab::Child>> senders;
  for (int sender = 1; sender <= kSenders; ++sender) {
    senders.push_back(std::make_unique<ipclab::Child>([&, sender] {
      std::vector<int> values;
      for (int i = 0; i < kEach; ++i) values.push_back(sender * 1000 + i);
      siglab::send_values(receiver.pid(), signo, values);
      return std::string();
    }));
  }
  for (auto& sender : senders) {
    Outcome sent = sender->finish(kDeadline);
    CHECK_MESSAGE(sent.ok(), "a sender: ", sent.describe());
  }
  Outcome got = receiver.finish(kDeadline);
  REQUIRE_RETURNED(got, "the receiver: ");
  std::map<int, std::vector<int>> by_sender;
  for (int value : split(got.value)) by_sender[value / 1000].push_back(value);
  for (int sender = 1; sender <= kSenders; ++sender) {
    std::vector<int> expected;
    for (int i = 0; i < kEach; ++i) expected.push_back(sender * 1000 + i);
    CAPTURE(sender);
    const std::string difference = values_difference(expected, by_sender[sender]);
    CHECK_MESSAGE(difference.empty(), difference);
  }
}

TEST_CASE("write_unless_closed carries a megabyte to a reader") {
  const std::string message = ipclab::pattern(1 << 20, 5);
  ipclab::Pipe pipe;
  ipclab::Child writer([&] {
    pipe.read.reset();
    return std::string(siglab::write_unless_closed(pipe.write.get(), message) ? "true" : "false");
  });
  pipe.write.reset();
  const std::string got = ipclab::read_until_eof(pipe.read.get());
  Outcome wrote = writer.finish(kDeadline);
  REQUIRE_RETURNED(wrote);
  CHECK(wrote.value == "true");
  CHECK_MESSAGE(got == message, ipclab::first_difference(message, got));
}

TEST_CASE("write_unless_closed reports a reader that leaves midway") {
  ipclab::Pipe pipe;
  ipclab::Child reader([&] {
    pipe.write.reset();
    char buffer[1000];
    return std::to_string(::read(pipe.read.get(), buffer, sizeof buffer));  // then leaves
  });
  pipe.read.reset();
  Outcome writer = ipclab::run_in_child(
      [&] {
        // 1 MiB cannot fit in the pipe: the writer is still writing when the reader leaves.
        const std::string message = ipclab::pattern(1 << 20, 6);
        return std::string(siglab::write_unless_closed(pipe.write.get(), message) ? "true" : "false");
      },
      kDeadline);
  pipe.write.reset();
  CHECK(reader.finish(kDeadline).ok());
  REQUIRE_RETURNED(writer);
  CHECK(writer.value == "false");
}

TEST_CASE("read_retrying returns an empty string at end of file") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        ipclab::write_fully(pipe.write.get(), "abc");
        pipe.write.reset();
        std::string log;
        for (std::size_t max : {2, 100, 100}) log += "[" + siglab::read_retrying(pipe.read.get(), max) + "]";
        return log;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "[ab][c][]");
}

TEST_CASE("run_server removes what it created when it cannot start") {
  ServerUnderTest server;
  // Someone else's queue already has the name: the server must not start,
  // must not take that queue away, and must remove the FIFO it had made.
  mq_attr attributes{};
  attributes.mq_maxmsg = 1;
  attributes.mq_msgsize = 16;
  const mqd_t taken =
      ::mq_open(server.names().queue.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attributes);
  const std::string why = ::strerror(errno);
  REQUIRE_MESSAGE(taken != static_cast<mqd_t>(-1), "mq_open: ", why);
  ::mq_close(taken);
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          siglab::run_server(server.names());
        } catch (const std::system_error&) {
          return std::string("system_error");
        }
        return std::string("returned");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "system_error", "run_server should throw std::system_error; it ",
                outcome.value);
  const auto left = server.existing();
  CHECK_MESSAGE(left == std::vector<std::string>{"/dev/mqueue" + server.names().queue},
                "only the queue that was there before should remain; ", ipclab::leak_report("found", left));
}

}  // TEST_SUITE
