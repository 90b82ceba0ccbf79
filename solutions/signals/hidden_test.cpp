// Lab `signals`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/signal_state.h"
#include "grader/harness/snapshot.h"
#include "labs/signals/signals_lab.h"
#include "labs/signals/signals_test_support.h"

using ipclab::Outcome;
using namespace siglab::testing;

namespace {

// run_server in a child, for a start it must refuse: "system_error" when it
// throws std::system_error, "returned" when it returns. `scene` runs first,
// in the child.
Outcome refused_start(
    const ServerUnderTest& server, const std::function<void()>& scene = [] {}) {
  return ipclab::run_in_child(
      [&] {
        scene();
        return std::string(ipclab::threw<std::system_error>([&] { siglab::run_server(server.names()); })
                               ? "system_error"
                               : "returned");
      },
      kDeadline);
}

// Sends `signo` to `pid` and waits until the kernel no longer holds it
// pending, so its handler has run: a second signal sent sooner would merge
// with the first into one delivery.
void deliver(pid_t pid, int signo) {
  ::kill(pid, signo);
  (void)eventually(
      [&] {
        const auto state = ipclab::signal_state(pid);
        return !state || !state->is_pending(signo);
      },
      kDeadline);
}

// Runs `wait` in a child that blocks `waited`, interrupts it with a handler
// for SIGUSR2 (installed without SA_RESTART, so the wait fails with EINTR),
// then lets `send` deliver what it waits for. "" when the wait went on after
// the interruption; otherwise what the child did instead.
std::string interrupted_wait(int waited, const std::function<std::string()>& wait,
                             const std::function<void(pid_t)>& send, const std::string& expected) {
  ipclab::Child waiter([&] {
    ipclab::interrupt_on(SIGUSR2);
    block({waited});
    return wait();
  });
  // Not asleep: its own blocking test says more. The Child's destructor stops it.
  if (const auto waiting = ipclab::wait_until_blocked(waiter.pid()); !waiting.yes) {
    return "it should sleep until a signal comes (" + waiting.evidence + ")";
  }
  deliver(waiter.pid(), SIGUSR2);
  if (!ipclab::wait_until_blocked(waiter.pid()).yes) {
    return "a handler for another signal interrupted the wait (EINTR), and it " + waiter.finish(kDeadline).describe() +
           ": EINTR is no error, wait again";
  }
  send(waiter.pid());
  const Outcome got = waiter.finish(kDeadline);
  if (!got.ok()) return "after the interruption it " + got.describe();
  return got.value == expected ? "" : "after the interruption it returned " + got.value + ", not " + expected;
}

}  // namespace

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
  ipclab::write_unless_reader_ended(data.write.get(), "data");
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

TEST_CASE("wait_for_signal goes on waiting after a handler interrupts it") {
  const std::string failure = interrupted_wait(
      SIGUSR1, [] { return std::to_string(siglab::wait_for_signal({SIGUSR1})); },
      [](pid_t waiter) { ::kill(waiter, SIGUSR1); }, std::to_string(SIGUSR1));
  CHECK_MESSAGE(failure.empty(), "wait_for_signal({SIGUSR1}): ", failure);
}

TEST_CASE("receive_values goes on waiting after a handler interrupts it") {
  const int signo = SIGRTMIN;
  const std::string failure = interrupted_wait(
      signo, [&] { return joined(siglab::receive_values(signo, 1)); },
      [&](pid_t waiter) {
        sigval value{};
        value.sival_int = 42;
        ::sigqueue(waiter, signo, value);  // the test's own send: this test is receive_values's alone
      },
      "42");
  CHECK_MESSAGE(failure.empty(), "receive_values(SIGRTMIN, 1): ", failure);
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

TEST_CASE("write_unless_closed goes on writing after signals interrupt it") {
  // 1 MiB does not fit in the pipe, so the writer waits while nobody reads.
  // The first signal cuts a write short (it returns the bytes written so far);
  // the second hits a write that has written nothing yet, which fails with
  // EINTR. Either way the rest must still be written.
  const std::string message = ipclab::pattern(1 << 20, 7);
  ipclab::Pipe pipe;
  ipclab::Child writer([&] {
    pipe.read.reset();
    ipclab::interrupt_on(SIGUSR1);
    return std::string(siglab::write_unless_closed(pipe.write.get(), message) ? "true" : "false");
  });
  pipe.write.reset();
  for (int signal = 1; signal <= 2; ++signal) {
    const ipclab::Blocked waiting = ipclab::wait_until_blocked(writer.pid());
    if (!waiting.yes) {
      const Outcome early = writer.finish(kDeadline);
      FAIL("with the pipe full, write_unless_closed should wait for room (", waiting.evidence, "); after ",
           signal - 1, " signal(s) it ", early.describe(),
           std::string(signal > 1 ? ": a write that a signal cuts short or interrupts (EINTR) must go on with the rest"
                                  : ""));
    }
    deliver(writer.pid(), SIGUSR1);
  }
  const std::string got = ipclab::read_until_eof(pipe.read.get());
  const Outcome wrote = writer.finish(kDeadline);
  REQUIRE_RETURNED(wrote);
  CHECK(wrote.value == "true");
  CHECK_MESSAGE(got == message, "after two signals interrupted it, ", ipclab::first_difference(message, got),
                ": a short write or EINTR is retried with the bytes not yet written");
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
  const Outcome outcome = refused_start(server);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "system_error", "run_server should throw std::system_error; it ",
                outcome.value);
  const auto left = server.existing();
  CHECK_MESSAGE(left == std::vector<std::string>{"/dev/mqueue" + server.names().queue},
                "only the queue that was there before should remain; ", ipclab::leak_report("found", left));
}

TEST_CASE("run_server refuses to start when its shared-memory name is taken") {
  ServerUnderTest server;
  // Someone else's object already has the name: the server must not start,
  // must not take that object over, and must remove the FIFO and queue it made.
  const int taken = ::shm_open(server.names().shm.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const std::string why = ::strerror(errno);
  REQUIRE_MESSAGE(taken >= 0, "shm_open: ", why);
  ::close(taken);
  const Outcome outcome = refused_start(server);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe());
  CHECK_MESSAGE(outcome.value == "system_error", "run_server should throw std::system_error (shm_open with ",
                "O_CREAT | O_EXCL fails with EEXIST); it ", outcome.value);
  const auto left = server.existing();
  CHECK_MESSAGE(left == std::vector<std::string>{"/dev/shm" + server.names().shm},
                "only the shared-memory object that was there before should remain; ",
                ipclab::leak_report("found", left));
}

TEST_CASE("run_server removes all three objects when sizing its shared memory fails") {
  ServerUnderTest server;
  // A file-size limit of 0 makes ftruncate fail (EFBIG) once the three
  // names exist, so the shared-memory object must go too.
  const Outcome outcome = refused_start(server, [] {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit no_file_size{0, 0};
    ::setrlimit(RLIMIT_FSIZE, &no_file_size);
  });
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe());
  CHECK_MESSAGE(outcome.value == "system_error", "run_server should throw std::system_error when ftruncate fails; it ",
                outcome.value);
  const auto left = server.existing();
  CHECK_MESSAGE(left.empty(), ipclab::leak_report("objects left after ftruncate failed", left),
                std::string(left.size() == 1 && left.front().starts_with("/dev/shm")
                                ? ": the shared-memory object was made before ftruncate failed, so it must be unlinked too"
                                : ""));
}

TEST_CASE("run_server waits for room in a full queue and still cleans up on SIGTERM") {
  ServerUnderTest server;
  ipclab::Child child([&] {
    siglab::run_server(server.names());
    return std::string("returned");
  });
  const std::string not_serving = server.wait_until_serving(child);
  REQUIRE_MESSAGE(not_serving.empty(), not_serving);
  ipclab::Fd fifo(::open(server.names().fifo.c_str(), O_WRONLY | O_CLOEXEC));
  const std::string fifo_error = ::strerror(errno);
  REQUIRE_MESSAGE(fifo.get() >= 0, "open(FIFO, O_WRONLY): ", fifo_error);
  // The queue holds 10 messages and nobody receives: the 11th request must
  // wait in mq_send, not fail with EAGAIN and not be dropped.
  constexpr int kRequests = 11;
  for (int i = 0; i < kRequests; ++i) {
    ipclab::write_unless_reader_ended(fifo.get(), "request " + std::to_string(i));
    ipclab::Blocked waiting = ipclab::wait_until_blocked(child.pid());
    if (!waiting.yes) {
      const Outcome early = child.finish(kDeadline);
      FAIL("after request ", i, " the server should wait (", waiting.evidence, "), but it ", early.describe(),
           std::string(i >= 10 ? ": the queue was full; open it without O_NONBLOCK so that mq_send waits for room" : ""));
    }
  }
  ::kill(child.pid(), SIGTERM);
  (void)ipclab::wait_until_blocked(child.pid());  // still waiting for room: its stop comes after the send
  const mqd_t queue = ::mq_open(server.names().queue.c_str(), O_RDONLY | O_CLOEXEC);
  const std::string queue_error = ::strerror(errno);
  REQUIRE_MESSAGE(queue != static_cast<mqd_t>(-1), "mq_open(queue, O_RDONLY): ", queue_error);
  std::string got;
  for (int i = 0; i < kRequests; ++i) got += receive_from(queue) + "|";
  ::mq_close(queue);
  Outcome stopped = child.finish(kDeadline);
  REQUIRE_MESSAGE(stopped.ok(), "once the queue had room again, the server told to stop by SIGTERM should return ",
                  "normally, but it ", stopped.describe());
  std::string expected;
  for (int i = 0; i < kRequests; ++i) expected += "request " + std::to_string(i) + "|";
  CHECK_MESSAGE(got == expected, "every request should reach the queue, in order; got ", got);
  const auto left = server.existing();
  CHECK_MESSAGE(left.empty(), ipclab::leak_report("objects left after SIGTERM", left));
}

TEST_CASE("reap_children returns at once with a child still running whatever errno was before") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const pid_t still_running = ::fork();
        if (still_running == 0) {
          ::pause();  // still running when reap_children is called
          ::_exit(0);
        }
        // A handler runs with whatever errno the interrupted code left,
        // often EINTR: waitpid returning 0 leaves errno alone.
        errno = EINTR;
        const int reaped = siglab::reap_children();
        ::kill(still_running, SIGKILL);
        reap_for_the_test();
        return "reaped " + std::to_string(reaped);
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe(),
                  std::string(outcome.kind == Outcome::Kind::timed_out
                                  ? ": waitpid(-1, ..., WNOHANG) returned 0 (none has ended): that ends the loop, "
                                    "whatever errno says"
                                  : ""));
  CHECK(outcome.value == "reaped 0");
}

TEST_CASE("receive_values accepts the first and the last real-time signal") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        std::string got;
        for (const int signo : {SIGRTMIN, SIGRTMAX}) {
          try {
            got += std::to_string(siglab::receive_values(signo, 0).size()) + " values; ";
          } catch (const std::invalid_argument& e) {
            got += std::string("refused: ") + e.what() + "; ";
          }
        }
        return got;
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe());
  CHECK_MESSAGE(outcome.value == "0 values; 0 values; ", "SIGRTMIN and SIGRTMAX are both real-time signals ",
                "(the range is inclusive), and 0 values need no waiting: ", outcome.value);
}

TEST_CASE("SignalFlag throws std::system_error for a signal that cannot be caught") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        std::string got;
        for (const int signo : {SIGKILL, SIGSTOP}) {
          const bool refused = ipclab::threw<std::system_error>([&] { siglab::SignalFlag flag(signo); });
          got += "SIG" + std::string(::sigabbrev_np(signo)) + (refused ? ": system_error; " : ": no exception; ");
        }
        return got;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "SIGKILL: system_error; SIGSTOP: system_error; ",
                "sigaction fails (EINVAL) for SIGKILL and SIGSTOP, which cannot be caught, and the constructor ",
                "should then throw std::system_error; got ", outcome.value);
}

TEST_CASE("SignalFlag counts several catches between two takes as one") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        siglab::SignalFlag flag(SIGUSR1);
        // Nothing is blocked: each raise is caught on its own, before it returns.
        for (int i = 0; i < 3; ++i) ::raise(SIGUSR1);
        std::string log;
        for (int i = 0; i < 2; ++i) log += flag.take() ? "true " : "false ";
        return log;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "true false ",
                "three catches before take() are one: the first take() says true, the next false until ",
                "another signal comes (a flag, not a counter); got ", outcome.value);
}

TEST_CASE("EventLoop sleeps again after a signal's callback") {
  Reports reports;
  Ready ready;
  ipclab::Child looper([&] {
    siglab::EventLoop loop;
    loop.on_signal(SIGUSR1, [&] { reports.say("USR1"); });
    loop.on_signal(SIGTERM, [&] { loop.stop(); });
    ready.signal();
    loop.run();
    return std::string("stopped");
  });
  const std::string unready = ready.wait(looper);
  REQUIRE_MESSAGE(unready.empty(), unready);
  (void)ipclab::wait_until_blocked(looper.pid());  // asleep in run(): its own blocking test says more
  ::kill(looper.pid(), SIGUSR1);
  if (const std::string handled = reports.next(looper); handled != "USR1") {
    FAIL("the SIGUSR1 callback never ran; the loop ", looper.finish(kDeadline).describe());
  }
  const ipclab::Blocked after = ipclab::wait_until_blocked(looper.pid());
  ::kill(looper.pid(), SIGTERM);
  const Outcome got = looper.finish(kDeadline);
  CHECK_MESSAGE(after.yes, "after the SIGUSR1 callback ran, run() should sleep in poll() again until the next ",
                "event (", after.evidence, "). Drain the self-pipe (read until EAGAIN) before calling the ",
                "callbacks: a byte left in it makes every poll() return at once");
  CHECK_MESSAGE(got.ok(), "SIGTERM's callback stops the loop, and run() should return, but it ", got.describe());
}

TEST_CASE("EventLoop catches a signal before run without interrupting a read") {
  ipclab::Pipe data;
  Ready ready;
  ipclab::Child looper([&] {
    siglab::EventLoop loop;
    std::string log;
    loop.on_signal(SIGUSR1, [&] {
      log += "SIGUSR1 handled by run()";
      loop.stop();
    });
    ready.signal();
    // run() is not called yet: a blocking read of the program's own, which SIGUSR1 comes in the middle of.
    char buffer[100];
    const ssize_t n = ::read(data.read.get(), buffer, sizeof buffer);
    if (n < 0) return std::string("the program's own read failed with ") + ::strerrorname_np(errno);
    log = "read " + std::string(buffer, static_cast<std::size_t>(n)) + "; ";
    loop.run();
    return log;
  });
  const std::string unready = ready.wait(looper);
  REQUIRE_MESSAGE(unready.empty(), unready);
  (void)ipclab::wait_until_blocked(looper.pid());
  deliver(looper.pid(), SIGUSR1);  // its handler runs during the read, before run()
  (void)ipclab::wait_until_blocked(looper.pid());
  ipclab::write_unless_reader_ended(data.write.get(), "data");
  const Outcome got = looper.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), "SIGUSR1 came after on_signal and before run(): its handler should already be ",
                  "installed, and run() should handle it first thing and return once its callback calls stop(); ",
                  "but the process ", got.describe());
  CHECK_MESSAGE(got.value == "read data; SIGUSR1 handled by run()", got.value,
                ": on_signal installs the handler at once, with SA_RESTART (a read it interrupts resumes), and "
                "run() handles a signal that came before it first thing");
}

TEST_CASE("EventLoop leaves the descriptors it watches open") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        {
          siglab::EventLoop loop;
          loop.on_readable(pipe.read.get(), [] {});
          loop.on_signal(SIGUSR1, [&] { loop.stop(); });
          ::raise(SIGUSR1);  // caught now, handled first thing in run()
          loop.run();
        }
        return std::string(::fcntl(pipe.read.get(), F_GETFD) >= 0 ? "open" : "closed");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "open", "once the EventLoop was gone, the descriptor it had watched was ",
                outcome.value, ": the loop does not own the descriptors given to on_readable, so it never closes them");
}

TEST_CASE("EventLoop run lets a callback's exception out and throws when poll fails") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        ipclab::write_fully(pipe.write.get(), "x");
        std::string log;
        {
          siglab::EventLoop loop;
          loop.on_readable(pipe.read.get(), [&] {
            char byte;
            (void)::read(pipe.read.get(), &byte, 1);
            throw std::runtime_error("thrown by a callback");
          });
          try {
            loop.run();
            log += "run() returned; ";
          } catch (const std::runtime_error& e) {
            log += std::string("run() let out: ") + e.what() + "; ";
          }
        }
        {
          // poll() fails with EINVAL when it is given more descriptors than RLIMIT_NOFILE.
          siglab::EventLoop loop;
          for (int i = 0; i < 8; ++i) loop.on_readable(pipe.read.get(), [] {});  // nothing to read
          rlimit saved{};
          ::getrlimit(RLIMIT_NOFILE, &saved);
          const rlimit few{4, saved.rlim_max};
          ::setrlimit(RLIMIT_NOFILE, &few);
          const bool refused = ipclab::threw<std::system_error>([&] { loop.run(); });
          ::setrlimit(RLIMIT_NOFILE, &saved);
          log += refused ? "poll failed: system_error" : "poll failed: run() returned";
        }
        return log;
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe(),
                  std::string(outcome.kind == Outcome::Kind::timed_out
                                  ? ": when poll() fails with anything but EINTR (here EINVAL: more descriptors than "
                                    "RLIMIT_NOFILE), run() should throw std::system_error, not poll again"
                                  : ""));
  CHECK_MESSAGE(outcome.value == "run() let out: thrown by a callback; poll failed: system_error", outcome.value);
}

TEST_CASE("ChildReaper restores the previous SIGCHLD action when destroyed") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        install_counter(SIGCHLD, SA_RESTART);
        { siglab::ChildReaper reaper; }
        const std::string first = action_of(SIGCHLD);
        ::signal(SIGCHLD, SIG_DFL);
        { siglab::ChildReaper reaper; }
        return "SIGCHLD: " + first + ", then " + action_of(SIGCHLD);
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "SIGCHLD: the test's handler, then default",
                "after each ChildReaper is gone SIGCHLD should have its earlier action back; found ", outcome.value);
}

TEST_CASE("send_values throws std::system_error when a signal cannot be sent") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const pid_t gone = ::fork();
        if (gone == 0) ::_exit(0);
        ::waitpid(gone, nullptr, 0);  // reaped: no process has this pid any more
        const bool no_process =
            ipclab::threw<std::system_error>([&] { siglab::send_values(gone, SIGRTMIN, {1, 2}); });
        const bool no_signal =
            ipclab::threw<std::system_error>([] { siglab::send_values(::getpid(), SIGRTMAX + 1, {1}); });
        return std::string("to a process that is gone: ") + (no_process ? "system_error" : "no exception") +
               "; signal SIGRTMAX+1: " + (no_signal ? "system_error" : "no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "to a process that is gone: system_error; signal SIGRTMAX+1: system_error",
                "sigqueue fails (ESRCH, EINVAL), and send_values should then throw std::system_error; got ",
                outcome.value);
}

TEST_CASE("write_unless_closed throws std::system_error on an error other than EPIPE") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        install_counter(SIGPIPE);
        bool wrote = false;
        // A pipe's read end is not open for writing: write fails with EBADF.
        const bool refused =
            ipclab::threw<std::system_error>([&] { wrote = siglab::write_unless_closed(pipe.read.get(), "x"); });
        return std::string(refused ? "system_error" : wrote ? "returned true" : "returned false") +
               ", then SIGPIPE: " + action_of(SIGPIPE);
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "system_error, then SIGPIPE: the test's handler",
                "a write that fails with EBADF is no closed reader: write_unless_closed should throw ",
                "std::system_error (after restoring SIGPIPE's action); got ", outcome.value);
}

TEST_CASE("read_retrying throws std::system_error on a read error") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        std::string got;
        // A pipe's write end is not open for reading: read fails with EBADF.
        const bool refused =
            ipclab::threw<std::system_error>([&] { got = siglab::read_retrying(pipe.write.get(), 10); });
        return refused ? std::string("system_error") : "returned \"" + got + "\"";
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "system_error",
                "a read that fails with EBADF is no end-of-file: read_retrying should throw std::system_error; it ",
                outcome.value);
}

TEST_CASE("run_server's queue holds 10 messages of kServerMessageSize bytes") {
  ServerUnderTest server;
  ipclab::Child child(serving(server));
  const std::string not_serving = server.wait_until_serving(child);
  REQUIRE_MESSAGE(not_serving.empty(), not_serving);
  const mqd_t queue = ::mq_open(server.names().queue.c_str(), O_RDONLY | O_CLOEXEC);
  const std::string queue_error = ::strerror(errno);
  REQUIRE_MESSAGE(queue != static_cast<mqd_t>(-1), "mq_open(queue, O_RDONLY): ", queue_error);
  mq_attr attributes{};
  ::mq_getattr(queue, &attributes);
  ::mq_close(queue);
  CHECK_MESSAGE((attributes.mq_maxmsg == 10 && attributes.mq_msgsize == siglab::kServerMessageSize),
                "the queue should be made with mq_maxmsg 10 and mq_msgsize kServerMessageSize (",
                siglab::kServerMessageSize, "); it has mq_maxmsg ", attributes.mq_maxmsg, " and mq_msgsize ",
                attributes.mq_msgsize);
  // How the server stops is other tests' business; the Child's destructor kills this one.
}

}  // TEST_SUITE
