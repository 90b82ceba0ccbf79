// Lab `signals`: the public tests. Each test case is one graded behaviour;
// its points and hint are in lab.toml. Run them with `./grade signals`.
//
// Student code always runs in a child process, which starts with every
// signal at its default action and none blocked; each test then sets up
// exactly what it needs.
#include <doctest/doctest.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/observe.h"
#include "grader/harness/signal_state.h"
#include "grader/harness/snapshot.h"
#include "grader/harness/verdict.h"
#include "labs/signals/signals_lab.h"
#include "labs/signals/signals_test_support.h"

using ipclab::Outcome;
using namespace siglab::testing;

namespace {

// Reads what is there (at most 100 bytes), with the test's own read().
std::string read_some(int fd) {
  char buffer[100];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n))
               : "[read returned " + std::to_string(n) + "]";
}

// Runs an EventLoop in a child with a callback for SIGUSR1 that stops it and
// one descriptor that never becomes readable; returns what the callbacks logged.
std::string loop_until_sigusr1(const ipclab::Pipe& idle, Ready& ready) {
  siglab::EventLoop loop;
  std::string log;
  loop.on_readable(idle.read.get(), [&] {
    log += "the callback of a descriptor with nothing to read ran; ";
    loop.stop();
  });
  loop.on_signal(SIGUSR1, [&] {
    log += "SIGUSR1";
    loop.stop();
  });
  ready.signal();
  loop.run();
  return log;
}

// Starts a server in a child, waits until it serves, sends it `signo`, and
// checks that it returned and left nothing behind.
void check_server_cleans_up_on(int signo) {
  ServerUnderTest server;
  ipclab::Child child(serving(server));
  const std::string not_serving = server.wait_until_serving(child);
  REQUIRE_MESSAGE(not_serving.empty(), not_serving);
  const std::string name = std::string("SIG") + ::sigabbrev_np(signo);
  ::kill(child.pid(), signo);
  Outcome outcome = child.finish(kDeadline);
  CHECK_MESSAGE(outcome.ok(), "after ", name, " the server should return normally, but ", outcome.describe());
  const auto left = server.existing();
  CHECK_MESSAGE(left.empty(),
                ipclab::leak_report("after " + name + ", IPC objects left behind (never unlinked)", left));
}

}  // namespace

TEST_SUITE("signals") {

// ---- Part 1: SignalFlag -----------------------------------------------------

TEST_CASE("SignalFlag catches a signal that would otherwise end the process") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        siglab::SignalFlag flag(SIGTERM);
        const bool before = flag.take();
        ::kill(::getpid(), SIGTERM);  // not blocked: handled before kill returns
        const bool after = flag.take();
        return std::string(before ? "flag set before any signal; " : "") + (after ? "caught" : "not caught");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome, "SIGTERM should be caught by the handler, but ");
  CHECK(outcome.value == "caught");
}

TEST_CASE("SignalFlag keeps catching after the first signal") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        siglab::SignalFlag flag(SIGTERM);
        ::kill(::getpid(), SIGTERM);
        const bool first = flag.take();
        ::kill(::getpid(), SIGTERM);
        const bool second = flag.take();
        return std::string(first ? "first caught" : "first not caught") +
               (second ? ", second caught" : ", second not caught");
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), "the second SIGTERM should be caught like the first, but ",
                  outcome.describe(),
                  ": was the handler reset to the default after running once (SA_RESETHAND)?");
  CHECK(outcome.value == "first caught, second caught");
}

TEST_CASE("SignalFlag interrupts a blocking read so the program can see the flag") {
  ipclab::Pipe pipe;
  Ready ready;
  ipclab::Child reader([&] {
    siglab::SignalFlag flag(SIGUSR1);
    ready.signal();
    char byte;
    const ssize_t n = ::read(pipe.read.get(), &byte, 1);
    if (n < 0 && errno == EINTR) return std::string(flag.take() ? "EINTR, flag set" : "EINTR, flag not set");
    return "read returned " + std::to_string(n) +
           ": it went on waiting after the signal instead of failing with EINTR (SA_RESTART?)";
  });
  const std::string unready = ready.wait(reader);
  REQUIRE_MESSAGE(unready.empty(), unready);
  (void)ipclab::wait_until_blocked(reader.pid());
  ::kill(reader.pid(), SIGUSR1);
  // Interrupted, the reader returns; restarted, it blocks again. Either way
  // it settles, and a byte then ends a restarted read.
  (void)ipclab::wait_until_blocked(reader.pid());
  ipclab::write_unless_reader_ended(pipe.write.get(), "x");
  Outcome got = reader.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == "EINTR, flag set", got.value);
}

TEST_CASE("SignalFlag restores the previous action when destroyed") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        install_counter(SIGUSR1);
        ::signal(SIGUSR2, SIG_IGN);
        {
          siglab::SignalFlag usr1(SIGUSR1);
          siglab::SignalFlag usr2(SIGUSR2);
          siglab::SignalFlag term(SIGTERM);
        }
        return "SIGUSR1: " + action_of(SIGUSR1) + ", SIGUSR2: " + action_of(SIGUSR2) +
               ", SIGTERM: " + action_of(SIGTERM);
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "SIGUSR1: the test's handler, SIGUSR2: ignored, SIGTERM: default",
                "after the SignalFlags are gone each signal should have its earlier action back; found ",
                outcome.value);
}

// ---- Part 2: EventLoop ------------------------------------------------------

TEST_CASE("EventLoop wakes from its wait when a signal arrives") {
  ipclab::Pipe idle;
  Ready ready;
  ipclab::Child looper([&] { return loop_until_sigusr1(idle, ready); });
  const std::string unready = ready.wait(looper);
  REQUIRE_MESSAGE(unready.empty(), unready);
  (void)ipclab::wait_until_blocked(looper.pid());
  ::kill(looper.pid(), SIGUSR1);
  Outcome got = looper.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), "after SIGUSR1, run() should return once the callback stops the loop, but ",
                  got.describe());
  CHECK(got.value == "SIGUSR1");
}

TEST_CASE("EventLoop waits for descriptors and signals without using the CPU") {
  ipclab::Pipe idle;
  Ready ready;
  ipclab::Child looper([&] { return loop_until_sigusr1(idle, ready); });
  const std::string unready = ready.wait(looper);
  REQUIRE_MESSAGE(unready.empty(), unready);
  ipclab::Blocked blocked = ipclab::wait_until_blocked(looper.pid());
  CHECK_MESSAGE(blocked.yes,
                "with nothing to read and no signal, run() should sleep in poll(): ", blocked.evidence);
  ::kill(looper.pid(), SIGUSR1);
  Outcome got = looper.finish(kDeadline);
  CHECK_MESSAGE(got.ok(), got.describe());
}

TEST_CASE("EventLoop passes each descriptor's data to its own callback") {
  ipclab::Pipe a, b;
  Reports reports;
  ipclab::Child looper([&] {
    siglab::EventLoop loop;
    loop.on_readable(a.read.get(), [&] { reports.say("a:" + read_some(a.read.get())); });
    loop.on_readable(b.read.get(), [&] { reports.say("b:" + read_some(b.read.get())); });
    loop.on_signal(SIGUSR1, [&] { loop.stop(); });
    loop.run();
    return std::string("stopped");
  });
  std::string log;
  for (auto [pipe, text] : {std::pair{&a, "one"}, std::pair{&b, "two"}, std::pair{&a, "three"}}) {
    ipclab::write_fully(pipe->write.get(), text);
    const std::string report = reports.next(looper);  // taken before the next one is sent
    log += report + " ";
    if (report.empty()) break;
  }
  ::kill(looper.pid(), SIGUSR1);
  Outcome got = looper.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(log == "a:one b:two a:three ", "the callbacks saw: ", log);
}

TEST_CASE("EventLoop runs signal callbacks in the loop and never inside the handler") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        ipclab::write_fully(pipe.write.get(), "x");
        siglab::EventLoop loop;
        bool signal_callback_ran = false;
        std::string log;
        loop.on_signal(SIGUSR1, [&] {
          signal_callback_ran = true;
          loop.stop();
        });
        loop.on_readable(pipe.read.get(), [&] {
          (void)read_some(pipe.read.get());
          ::raise(SIGUSR1);  // the handler runs before raise returns
          log += signal_callback_ran ? "the SIGUSR1 callback ran inside the signal handler, in the middle of "
                                       "another callback; "
                                     : "deferred; ";
        });
        loop.run();
        return log + (signal_callback_ran ? "ran" : "never ran");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "deferred; ran",
                "a callback may do anything (printf, malloc), so it must run from run(), never from the "
                "handler; the handler only wakes the loop. Got: ",
                outcome.value);
}

TEST_CASE("EventLoop restores the actions it replaced when destroyed") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        install_counter(SIGUSR1);
        ::signal(SIGUSR2, SIG_IGN);
        const std::string mask_before = blocked_among({SIGUSR1, SIGUSR2, SIGTERM});
        {
          siglab::EventLoop loop;
          for (int signo : {SIGUSR1, SIGUSR2, SIGTERM}) loop.on_signal(signo, [] {});
        }
        const std::string mask_after = blocked_among({SIGUSR1, SIGUSR2, SIGTERM});
        return "SIGUSR1: " + action_of(SIGUSR1) + ", SIGUSR2: " + action_of(SIGUSR2) +
               ", SIGTERM: " + action_of(SIGTERM) +
               (mask_before == mask_after ? ""
                                          : "; blocked before: " + mask_before + ", after: " + mask_after);
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "SIGUSR1: the test's handler, SIGUSR2: ignored, SIGTERM: default",
                "after the EventLoop is gone each signal should have its earlier action back; found ",
                outcome.value);
}

// ---- Part 3: reaping --------------------------------------------------------

TEST_CASE("reap_children reaps every ended child and leaves running ones") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const pid_t still_running = ::fork();
        if (still_running == 0) {
          ::pause();  // still running when reap_children is called
          ::_exit(0);
        }
        for (int i = 0; i < 5; ++i) {
          if (::fork() == 0) ::_exit(i);
        }
        if (!eventually([] { return zombie_children() == 5; }, 5s))
          return std::string("the 5 children never ended");
        const int reaped = siglab::reap_children();
        int running = 0, zombies = 0;
        for (const auto& child : ipclab::children_of()) ++(child.state == 'Z' ? zombies : running);
        ::kill(still_running, SIGKILL);
        reap_for_the_test();
        return "reaped " + std::to_string(reaped) + "; left: " + std::to_string(running) + " running, " +
               std::to_string(zombies) + " zombies";
      },
      kDeadline);
  const bool hung = outcome.kind == Outcome::Kind::timed_out;
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe(),
                  std::string(hung ? ": did it wait for the running child (WNOHANG)?" : ""));
  CHECK(outcome.value == "reaped 5; left: 1 running, 0 zombies");
}

TEST_CASE("ChildReaper leaves no zombie after a burst of child exits") {
  constexpr int kChildren = 30;
  Outcome outcome = ipclab::run_in_child(
      [] {
        siglab::ChildReaper reaper;
        block({SIGCHLD});
        for (int i = 0; i < kChildren; ++i) {
          if (::fork() == 0) ::_exit(0);
        }
        if (!eventually([] { return zombie_children() == kChildren; }, 5s)) {
          return std::string("the children never ended");
        }
        // 30 children ended and SIGCHLD is pending ONCE: unblocked, the
        // handler runs once, before sigprocmask returns.
        const sigset_t chld = set_of({SIGCHLD});
        ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);
        const int zombies = zombie_children();
        reap_for_the_test();
        return zombies == 0 ? std::string()
                            : std::to_string(zombies) + " of the 30 children are still zombies: exited but "
                                                        "never reaped with waitpid";
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value.empty(), "30 children ended while SIGCHLD was blocked, so it was delivered once ",
                "and one handler run must reap them all; ", outcome.value);
}

TEST_CASE("ChildReaper keeps errno for the code it interrupts") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        siglab::ChildReaper reaper;
        block({SIGCHLD});
        if (::fork() == 0) ::_exit(0);
        if (!eventually([] { return zombie_children() == 1; }, 5s)) return std::string("the child never ended");
        const sigset_t chld = set_of({SIGCHLD});
        ::close(-1);                                 // errno is now EBADF, as after any failed call
        ::sigprocmask(SIG_UNBLOCK, &chld, nullptr);  // the handler runs here
        const int seen = errno;
        return seen == EBADF ? std::string("errno kept")
                             : std::string("errno was EBADF before SIGCHLD and ") + ::strerrorname_np(seen) +
                                   " after its handler ran";
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "errno kept", outcome.value, ": a handler must save errno and restore it");
}

// ---- Part 4: masks and waiting ----------------------------------------------

TEST_CASE("SignalBlock keeps a signal pending until it is unblocked") {
  ipclab::Pipe go;
  Ready ready;
  ipclab::Child child([&] {
    install_counter(SIGUSR1);
    std::string log;
    {
      siglab::SignalBlock block{SIGUSR1};
      go.write.reset();
      ready.signal();
      (void)ipclab::read_until_eof(go.read.get());  // the test sends SIGUSR1 meanwhile
      log = "while blocked: " + std::to_string(deliveries) + " deliveries; ";
    }
    return log + "after: " + std::to_string(deliveries);
  });
  go.read.reset();
  const std::string unready = ready.wait(child);
  REQUIRE_MESSAGE(unready.empty(), unready);
  (void)ipclab::wait_until_blocked(child.pid());
  ::kill(child.pid(), SIGUSR1);
  const auto state = ipclab::signal_state(child.pid());
  REQUIRE(state);
  CHECK_MESSAGE((state->is_blocked(SIGUSR1) && state->is_pending(SIGUSR1)),
                "SIGUSR1 was sent while the SignalBlock lived, so it should be blocked and pending; the "
                "kernel says ",
                ipclab::describe(*state));
  go.write.reset();
  Outcome got = child.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK_MESSAGE(got.value == "while blocked: 0 deliveries; after: 1",
                "a blocked signal is held back, then delivered once the block ends; got ", got.value);
}

TEST_CASE("SignalBlock restores the previous mask") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        block({SIGUSR2});  // blocked by someone else before
        std::string log;
        {
          siglab::SignalBlock outer{SIGUSR1};
          log = "in the outer block: " + blocked_among({SIGUSR1, SIGUSR2}) + "; ";
          { siglab::SignalBlock inner{SIGUSR1, SIGUSR2}; }
          log += "after the inner block: " + blocked_among({SIGUSR1, SIGUSR2});
        }
        return log + "; after the outer block: " + blocked_among({SIGUSR1, SIGUSR2});
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  // SIGUSR2, blocked before, must still be blocked once the outer block is
  // made: if it is not, the constructor replaced the mask, and the
  // destructor is not to blame.
  const std::string expected =
      "in the outer block: SIGUSR1 SIGUSR2; after the inner block: SIGUSR1 SIGUSR2; after the outer block: SIGUSR2";
  if (outcome.value != expected) {
    const bool added = outcome.value.starts_with("in the outer block: SIGUSR1 SIGUSR2;");
    ipclab::verdict::observed(added ? "the destructor did not restore the mask" : "the constructor replaced the mask");
  }
  CHECK_MESSAGE(outcome.value == expected,
                "each SignalBlock should add its signals to the mask it found (SIG_BLOCK), then put that "
                "mask back (SIG_SETMASK), not unblock its signals; blocked: ",
                outcome.value);
}

TEST_CASE("wait_for_signal waits without using the CPU until a signal arrives") {
  Ready ready;
  ipclab::Child waiter([&] {
    block({SIGUSR1, SIGUSR2});
    ready.signal();
    return std::to_string(siglab::wait_for_signal({SIGUSR1, SIGUSR2}));
  });
  const std::string unready = ready.wait(waiter);
  REQUIRE_MESSAGE(unready.empty(), unready);
  ipclab::Blocked blocked = ipclab::wait_until_blocked(waiter.pid());
  CHECK_MESSAGE(blocked.yes, blocked.evidence);
  ::kill(waiter.pid(), SIGUSR2);
  Outcome got = waiter.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK(got.value == std::to_string(SIGUSR2));
}

TEST_CASE("wait_for_signal returns at once for a signal that arrived before the call") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        block({SIGUSR1});
        ::raise(SIGUSR1);  // pending before wait_for_signal is called
        return std::to_string(siglab::wait_for_signal({SIGUSR1}));
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), "SIGUSR1 was already pending when wait_for_signal was called, but it ",
                  outcome.describe(),
                  ". Unblocking and then waiting loses a signal that arrives in between; sigwaitinfo takes "
                  "a pending one at once.");
  CHECK(outcome.value == std::to_string(SIGUSR1));
}

// ---- Part 5: signals as messages --------------------------------------------

TEST_CASE("send_values and receive_values carry values in order") {
  const int signo = SIGRTMIN + 1;
  std::vector<int> values;
  for (int i = 0; i < 100; ++i) values.push_back((i * 7919) % 1000 - 500 + i * 100000);
  Ready ready;
  ipclab::Child receiver([&] {
    block({signo});
    ready.signal();
    return joined(siglab::receive_values(signo, values.size()));
  });
  const std::string unready = ready.wait(receiver);
  REQUIRE_MESSAGE(unready.empty(), unready);
  Outcome sent = ipclab::run_in_child(
      [&] {
        siglab::send_values(receiver.pid(), signo, values);
        return std::string();
      },
      kDeadline);
  CHECK_MESSAGE(sent.ok(), "the sender: ", sent.describe());
  Outcome got = receiver.finish(kDeadline);
  REQUIRE_RETURNED(got, "the receiver: ");
  const std::string difference = values_difference(values, split(got.value));
  CHECK_MESSAGE(difference.empty(), difference);
}

TEST_CASE("receive_values waits without using the CPU") {
  const int signo = SIGRTMIN + 2;
  Ready ready;
  ipclab::Child receiver([&] {
    block({signo});
    ready.signal();
    return joined(siglab::receive_values(signo, 2));
  });
  const std::string unready = ready.wait(receiver);
  REQUIRE_MESSAGE(unready.empty(), unready);
  ipclab::Blocked before = ipclab::wait_until_blocked(receiver.pid());
  CHECK_MESSAGE(before.yes, "no value sent yet: ", before.evidence);
  ::sigqueue(receiver.pid(), signo, sigval{.sival_int = 7});
  ipclab::Blocked between = ipclab::wait_until_blocked(receiver.pid());
  CHECK_MESSAGE(between.yes, "one value of two received: ", between.evidence);
  ::sigqueue(receiver.pid(), signo, sigval{.sival_int = 8});
  Outcome got = receiver.finish(kDeadline);
  REQUIRE_RETURNED(got);
  CHECK(got.value == "7 8");
}

TEST_CASE("receive_values refuses a standard signal which does not queue") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        block({SIGUSR1});
        // Three sent while blocked: the first stays pending, the other two
        // are merged into it. One delivery is all there will ever be.
        for (int value : {1, 2, 3}) ::sigqueue(::getpid(), SIGUSR1, sigval{.sival_int = value});
        try {
          return "returned " + joined(siglab::receive_values(SIGUSR1, 3));
        } catch (const std::invalid_argument&) {
          return std::string("invalid_argument");
        }
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), "receive_values(SIGUSR1, 3) ", outcome.describe(),
                  ". SIGUSR1 was sent 3 times while blocked, but standard signals do not queue: only one "
                  "is pending, so a wait for 3 never ends. Refuse a standard signal instead of counting "
                  "it as if it queued.");
  CHECK_MESSAGE(outcome.value == "invalid_argument",
                "receive_values(SIGUSR1, 3) should throw std::invalid_argument; it ", outcome.value);
}

// ---- Part 6: SIGPIPE and EPIPE ----------------------------------------------

TEST_CASE("write_unless_closed returns false instead of dying when the reader is gone") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        pipe.read.reset();
        return std::string(siglab::write_unless_closed(pipe.write.get(), "nobody listens") ? "true"
                                                                                           : "false");
      },
      kDeadline);
  const bool sigpipe = outcome.kind == Outcome::Kind::signaled && outcome.code == SIGPIPE;
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe(),
                  std::string(sigpipe ? ": SIGPIPE ended the process; ignore it while writing, and write "
                                        "fails with EPIPE"
                                      : ""));
  CHECK(outcome.value == "false");
}

TEST_CASE("write_unless_closed restores the previous SIGPIPE action") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        pipe.read.reset();
        install_counter(SIGPIPE);
        const bool first = siglab::write_unless_closed(pipe.write.get(), "x");
        std::string log = std::string(first ? "true" : "false") + ", then " + action_of(SIGPIPE) +
                          " (the handler ran " + std::to_string(deliveries) + " times)";
        ::signal(SIGPIPE, SIG_DFL);
        const bool second = siglab::write_unless_closed(pipe.write.get(), "x");
        return log + "; " + (second ? "true" : "false") + ", then " + action_of(SIGPIPE);
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(
      outcome.value == "false, then the test's handler (the handler ran 0 times); false, then default",
      "SIGPIPE should be ignored only while writing, then have its earlier action back; got ", outcome.value);
}

// ---- Part 7: EINTR ----------------------------------------------------------

TEST_CASE("read_retrying retries a read interrupted by a signal") {
  ipclab::Pipe pipe;
  Ready ready;
  ipclab::Child reader([&] {
    install_counter(SIGUSR1);  // without SA_RESTART: the read fails with EINTR
    ready.signal();
    std::string got = siglab::read_retrying(pipe.read.get(), 100);
    return got + " (after " + std::to_string(deliveries) + " signal)";
  });
  const std::string unready = ready.wait(reader);
  REQUIRE_MESSAGE(unready.empty(), unready);
  (void)ipclab::wait_until_blocked(reader.pid());
  ::kill(reader.pid(), SIGUSR1);
  (void)ipclab::wait_until_blocked(reader.pid());  // reading again
  ipclab::write_unless_reader_ended(pipe.write.get(), "sent after the signal");
  Outcome got = reader.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), "a read interrupted by a signal should be started again, but it ",
                  got.describe());
  CHECK(got.value == "sent after the signal (after 1 signal)");
}

// ---- Part 8: run_server -----------------------------------------------------

TEST_CASE("run_server forwards each message from its FIFO to its queue") {
  ServerUnderTest server;
  ipclab::Child child(serving(server));
  const std::string not_serving = server.wait_until_serving(child);
  REQUIRE_MESSAGE(not_serving.empty(), not_serving);
  CHECK_MESSAGE(published_pid(server.names().shm) == child.pid(),
                "the shared-memory object should hold the server's pid ", child.pid(), ", not ",
                published_pid(server.names().shm));
  ipclab::Fd fifo(::open(server.names().fifo.c_str(), O_WRONLY | O_CLOEXEC));
  const std::string fifo_error = ::strerror(errno);
  REQUIRE_MESSAGE(fifo.get() >= 0, "open(FIFO, O_WRONLY): ", fifo_error);
  const mqd_t queue = ::mq_open(server.names().queue.c_str(), O_RDONLY | O_CLOEXEC);
  const std::string queue_error = ::strerror(errno);
  REQUIRE_MESSAGE(queue != static_cast<mqd_t>(-1), "mq_open(queue, O_RDONLY): ", queue_error);
  for (const char* request : {"first request", "second", "a third, longer request"}) {
    ipclab::write_unless_reader_ended(fifo.get(), request);
    CHECK(receive_from(queue) == request);
  }
  ::mq_close(queue);
  // How the server stops is the next tests' business; the Child's destructor kills this one.
}

TEST_CASE("run_server waits without using the CPU before and after a client comes and goes") {
  ServerUnderTest server;
  ipclab::Child child(serving(server));
  const std::string not_serving = server.wait_until_serving(child);
  REQUIRE_MESSAGE(not_serving.empty(), not_serving);
  ipclab::Blocked idle = ipclab::wait_until_blocked(child.pid());
  CHECK_MESSAGE(idle.yes, "before any client came, the server should sleep: ", idle.evidence);
  // A client: opens the FIFO, writes one request, closes its end.
  {
    ipclab::Fd fifo(::open(server.names().fifo.c_str(), O_WRONLY | O_CLOEXEC));
    const std::string fifo_error = ::strerror(errno);
    REQUIRE_MESSAGE(fifo.get() >= 0, "open(FIFO, O_WRONLY): ", fifo_error);
    ipclab::write_unless_reader_ended(fifo.get(), "a request");
  }
  const mqd_t queue = ::mq_open(server.names().queue.c_str(), O_RDONLY | O_CLOEXEC);
  const std::string queue_error = ::strerror(errno);
  REQUIRE_MESSAGE(queue != static_cast<mqd_t>(-1), "mq_open(queue, O_RDONLY): ", queue_error);
  const std::string forwarded = receive_from(queue);
  const auto cpu_before = ipclab::sample_process(child.pid());
  ipclab::Blocked after = ipclab::wait_until_blocked(child.pid());
  const auto cpu_after = ipclab::sample_process(child.pid());
  mq_attr attributes{};
  ::mq_getattr(queue, &attributes);
  ::mq_close(queue);
  CHECK_MESSAGE(forwarded == "a request", "the server should forward the client's request; it sent ", forwarded);
  const long cpu_ms = cpu_before && cpu_after
                          ? static_cast<long>((cpu_after->cpu_ns - cpu_before->cpu_ns) / 1000000)
                          : -1;
  CHECK_MESSAGE(after.yes, "after a client wrote a request and closed its end of the FIFO, the server should ",
                "sleep until the next one, but it used ", cpu_ms, " ms of CPU time while the test watched (",
                after.evidence, "). A FIFO whose last writer has gone reads as end-of-file (poll reports it ",
                "readable, read returns 0) at once, again and again: open it O_RDWR, so that the server itself ",
                "is always one of its writers");
  CHECK_MESSAGE(attributes.mq_curmsgs == 0, "after the client's one request, the server sent ",
                attributes.mq_curmsgs, " more message(s) to the queue although no other client came: "
                "once the last writer has closed the FIFO, every read() returns 0 (end-of-file), and that is "
                "no request. Open the FIFO O_RDWR, so that the server itself is always one of its writers");
}

TEST_CASE("run_server removes its FIFO and queue and shared memory on SIGTERM") {
  check_server_cleans_up_on(SIGTERM);
}

TEST_CASE("run_server cleans up on SIGINT too") { check_server_cleans_up_on(SIGINT); }

}  // TEST_SUITE
