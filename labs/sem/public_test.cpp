// Lab `sem`: the public tests. Each test case is one graded behaviour; its
// points and hint are in lab.toml. Run them with `./grade sem`.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "grader/harness/child.h"
#include "grader/harness/children.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/shared.h"
#include "grader/harness/snapshot.h"
#include "labs/sem/sem_lab.h"
#include "labs/sem/sem_test_support.h"

using ipclab::Outcome;
using namespace semlab::testing;

namespace {

// What a system_error says about its errno, or the exception's text.
std::string error_name(const std::system_error& e, std::errc expected, const char* name) {
  return e.code() == expected ? name : std::string("std::system_error: ") + e.what();
}

std::string sem_path(const std::string& name) { return "/dev/shm/sem." + name.substr(1); }

// The P_for that signals keep interrupting, and the count of those signals in
// the waiting process.
constexpr auto kInterruptedTimeout = std::chrono::seconds(2);
volatile sig_atomic_t signals_handled = 0;
void count_signal(int) { signals_handled = signals_handled + 1; }

}  // namespace

TEST_SUITE("sem") {

// ---- Part 1: the semaphore ---------------------------------------------------

TEST_CASE("try_P takes the units create gave and then reports would block") {
  const std::string name = ipclab::unique_ipc_name("units");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        semlab::Semaphore created = semlab::Semaphore::create(name, 2);
        semlab::Semaphore opened = semlab::Semaphore::open(name);
        std::string taken;
        for (semlab::Semaphore* semaphore : {&opened, &created, &opened}) taken += semaphore->try_P() ? "1" : "0";
        created.V();
        taken += opened.try_P() ? "1" : "0";
        return taken;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "1101",
                "try_P on a semaphore created with value 2, three times, then once more after a V() "
                "(1 = took a unit, 0 = would block): expected 1101, got ",
                outcome.value);
}

TEST_CASE("P blocks at zero without using the CPU until another process calls V") {
  TestSemaphore semaphore(ipclab::unique_ipc_name("zero"), 0);
  REQUIRE(semaphore.made());
  ipclab::Child waiter([&] {
    semlab::Semaphore::open(semaphore.name()).P();
    return std::string("passed P");
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(waiter.pid());
  CHECK_MESSAGE(blocked.yes, "P() on a semaphore at 0 must sleep until a V(): ", blocked.evidence);
  semaphore.post();
  Outcome outcome = waiter.finish(kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "passed P");
  CHECK_MESSAGE(semaphore.value() == 0, "P() should have taken the unit V() gave; the value is ", semaphore.value());
}

TEST_CASE("P_for returns false once its timeout has passed") {
  TestSemaphore semaphore(ipclab::unique_ipc_name("timeout"), 0);
  REQUIRE(semaphore.made());
  Outcome outcome = ipclab::run_in_child(
      [&] {
        semlab::Semaphore opened = semlab::Semaphore::open(semaphore.name());
        const auto started = std::chrono::steady_clock::now();
        const bool took = opened.P_for(300ms);
        const auto waited =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
        return std::string(took ? "true " : "false ") + std::to_string(waited.count());
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  std::istringstream result(outcome.value);
  std::string took;
  long waited_ms = 0;
  result >> took >> waited_ms;
  CHECK_MESSAGE(took == "false", "P_for(300 ms) on a semaphore nobody posts must return false (timed out), got ", took);
  // 2 ms of slack: the deadline is on CLOCK_REALTIME, the test's stopwatch on
  // CLOCK_MONOTONIC, and NTP may slew one against the other.
  CHECK_MESSAGE(
      waited_ms >= 298, "P_for(300 ms) returned after only ", waited_ms,
      " ms: sem_timedwait wants an absolute deadline (now + timeout on CLOCK_REALTIME), not the timeout itself");
}

TEST_CASE("P_for sleeps while it waits and returns true when V comes first") {
  TestSemaphore semaphore(ipclab::unique_ipc_name("timed"), 0);
  REQUIRE(semaphore.made());
  ipclab::Child waiter([&] {
    semlab::Semaphore opened = semlab::Semaphore::open(semaphore.name());
    return std::string(opened.P_for(8s) ? "true" : "false");
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(waiter.pid());
  CHECK_MESSAGE(blocked.yes, "P_for(8 s) must sleep in the kernel while it waits: ", blocked.evidence);
  semaphore.post();
  Outcome outcome = waiter.finish(kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "true", "a V() came well within the 8 s, so P_for must return true");
  CHECK(semaphore.value() == 0);
}

TEST_CASE("P_for keeps waiting until the same deadline when signals interrupt it") {
  TestSemaphore semaphore(ipclab::unique_ipc_name("interrupted"), 0);
  REQUIRE(semaphore.made());
  ipclab::Flag ready;
  ipclab::Child waiter([&] {
    struct sigaction action {};
    action.sa_handler = count_signal;  // no SA_RESTART: every signal interrupts sem_timedwait
    ::sigaction(SIGUSR1, &action, nullptr);
    semlab::Semaphore opened = semlab::Semaphore::open(semaphore.name());
    ready.raise();
    const auto started = std::chrono::steady_clock::now();
    const bool took = opened.P_for(kInterruptedTimeout);
    const auto waited =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return std::string(took ? "true " : "false ") + std::to_string(waited.count()) + " " +
           std::to_string(signals_handled);
  });
  REQUIRE_MESSAGE(ready.wait(kDeadline), "the waiting process never got as far as calling P_for");
  // A signal every 50 ms while it waits, for up to 6 s past its 2 s timeout:
  // a P_for that keeps its deadline returns long before that, one that starts
  // the timeout again after each EINTR never does while the signals go on.
  const auto started = std::chrono::steady_clock::now();
  bool still_waiting = true;
  while (std::chrono::steady_clock::now() - started < kInterruptedTimeout + 6s) {
    const auto sample = ipclab::sample_process(waiter.pid());
    if (!sample || sample->state == 'Z') {
      still_waiting = false;
      break;
    }
    ::kill(waiter.pid(), SIGUSR1);
    std::this_thread::sleep_for(50ms);
  }
  const long signalled_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  Outcome outcome = waiter.finish(kDeadline);
  CHECK_MESSAGE(!still_waiting, "P_for(2 s) was still waiting after ", signalled_s,
                " s of signals every 50 ms: after EINTR it must wait until the deadline it computed at the start, "
                "not start the timeout again");
  REQUIRE_RETURNED(outcome);
  std::istringstream result(outcome.value);
  std::string took;
  long waited_ms = 0;
  int handled = 0;
  result >> took >> waited_ms >> handled;
  REQUIRE_MESSAGE(handled > 0, "no signal reached the waiting process, so this test cannot tell");
  CHECK_MESSAGE(took == "false", "nobody called V(), yet P_for returned ", took, " after a signal interrupted it");
  // 2 ms of slack, as in the test above: CLOCK_REALTIME against CLOCK_MONOTONIC.
  CHECK_MESSAGE(waited_ms >= 1998, "P_for(2 s) returned after only ", waited_ms, " ms, when ", handled,
                " signal(s) had interrupted it: EINTR is not a timeout; wait again, until the same deadline");
  CHECK(semaphore.value() == 0);
}

TEST_CASE("create refuses a name that already exists and leaves that semaphore alone") {
  TestSemaphore existing(ipclab::unique_ipc_name("taken"), 5);
  REQUIRE(existing.made());
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          semlab::Semaphore second = semlab::Semaphore::create(existing.name(), 1);
        } catch (const std::system_error& e) {
          return error_name(e, std::errc::file_exists, "EEXIST");
        }
        return std::string("no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "EEXIST", "expected std::system_error with errno EEXIST, got: ", outcome.value);
  CHECK_MESSAGE(semaphore_exists(existing.name()),
                "the semaphore that existed before was unlinked: only the object that created it may unlink it");
  CHECK_MESSAGE(existing.value() == 5, "the existing semaphore's value changed to ", existing.value());
}

TEST_CASE("open reports a semaphore that does not exist") {
  const std::string name = ipclab::unique_ipc_name("missing");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          semlab::Semaphore opened = semlab::Semaphore::open(name);
        } catch (const std::system_error& e) {
          return error_name(e, std::errc::no_such_file_or_directory, "ENOENT");
        }
        return std::string("no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "ENOENT", "expected std::system_error with errno ENOENT, got: ", outcome.value);
  CHECK_FALSE_MESSAGE(semaphore_exists(name), "open must not create a semaphore");
}

TEST_CASE("the creator's destructor unlinks the semaphore and an opener's only closes it") {
  const std::string name = ipclab::unique_ipc_name("owned");
  const std::string mapped_as = "sem." + name.substr(1);
  ipclab::Flag created, opener_done;
  ipclab::Child creator([&] {
    {
      semlab::Semaphore semaphore = semlab::Semaphore::create(name, 1);
      created.raise();
      if (!opener_done.wait(kDeadline)) return std::string("the opener never finished");
    }
    std::string report;
    if (semaphore_exists(name)) {
      report += "the creator's destructor left " + sem_path(name) + " behind (no sem_unlink?). ";
    }
    for (const auto& mapping : ipclab::mappings_containing(mapped_as)) {
      report += "after its destructor the creator still maps " + mapping + " (no sem_close?). ";
    }
    return report;
  });
  if (!ipclab::wait_for(created, creator, kDeadline)) {
    FAIL("create did not return: ", creator.finish(kDeadline).describe());
  }
  ipclab::Child opener([&] {
    { semlab::Semaphore semaphore = semlab::Semaphore::open(name); }
    std::string report;
    if (!semaphore_exists(name)) {
      report += "the opener's destructor unlinked " + sem_path(name) + ": only its creator may. ";
    }
    for (const auto& mapping : ipclab::mappings_containing(mapped_as)) {
      report += "after its destructor the opener still maps " + mapping + " (no sem_close?). ";
    }
    return report;
  });
  Outcome opened = opener.finish(kDeadline);
  opener_done.raise();
  Outcome finished = creator.finish(kDeadline);
  REQUIRE_RETURNED(opened, "the opener: ");
  REQUIRE_RETURNED(finished, "the creator: ");
  CHECK_MESSAGE(opened.value == "", opened.value);
  CHECK_MESSAGE(finished.value == "", finished.value);
}

TEST_CASE("the creator still unlinks when a process dies holding the semaphore") {
  // What this lab expects: a kernel semaphore does not know who took a unit,
  // so when a process dies between P() and V() the unit is never given back
  // and the semaphore stays at 0 (recovering it is beyond this lab). But the
  // name must still go: the creator's destructor unlinks it, whatever the
  // other processes did.
  const std::string name = ipclab::unique_ipc_name("orphaned");
  ipclab::Flag created, holder_died;
  ipclab::Child creator([&] {
    semlab::Semaphore semaphore = semlab::Semaphore::create(name, 1);
    created.raise();
    if (!holder_died.wait(kDeadline)) return std::string("the holder never died");
    return std::string(semaphore.try_P() ? "given back" : "still taken");
  });
  if (!ipclab::wait_for(created, creator, kDeadline)) {
    FAIL("create did not return: ", creator.finish(kDeadline).describe());
  }
  Outcome holder = ipclab::run_in_child(
      [&] {
        semlab::Semaphore::open(name).P();  // takes the only unit ...
        ::raise(SIGKILL);                   // ... and dies before its V()
        return std::string("survived");
      },
      kDeadline);
  holder_died.raise();
  Outcome finished = creator.finish(kDeadline);
  REQUIRE_MESSAGE(holder.kind == Outcome::Kind::signaled,
                  "the holder should have died inside P()/V(): ", holder.describe());
  REQUIRE_RETURNED(finished, "the creator: ");
  CHECK_MESSAGE(finished.value == "still taken",
                "nobody called V() after the holder died, so try_P should find the semaphore at 0");
  CHECK_FALSE_MESSAGE(semaphore_exists(name), "once the creator is gone, ", sem_path(name),
                      " must be gone too: its destructor unlinks the name");
}

// ---- Part 2: ordering ------------------------------------------------------------

TEST_CASE("ping_pong alternates strictly between two processes") {
  ipclab::Shared<EventLog> log;
  const int rounds = 50;
  ipclab::Child caller([&] {
    semlab::ping_pong(
        rounds, [&](int round) { take_turn(*log, kPing, round); }, [&](int round) { take_turn(*log, kPong, round); });
    return std::string();
  });
  Outcome outcome = caller.finish(kDeadline);
  REQUIRE_RETURNED(outcome);
  const std::string problem = check_alternation(log->all(), rounds, caller.pid());
  CHECK_MESSAGE(problem == "", problem);
}

TEST_CASE("run_in_order starts each step only after the steps it waits for") {
  // Step 0 holds on for kRaceWindow once step 1 has started: step 2 waits for
  // both and lists the quick one first, so waiting for only one of them, or
  // for none, shows. Steps 0 and 1 wait for nothing and must overlap.
  const std::vector<std::vector<int>> after = {{}, {}, {1, 0}, {2}, {2, 1}};
  ipclab::Shared<EventLog> log;
  auto step = [&](int who) {
    return [&, who] {
      log->record(Mark::start, who);
      if (who == 0) {
        const auto until = std::chrono::steady_clock::now() + 2 * kRaceWindow;
        while (std::chrono::steady_clock::now() < until && log->count.load() < 2) std::this_thread::sleep_for(1ms);
        std::this_thread::sleep_for(kRaceWindow);
      }
      log->record(Mark::end, who);
    };
  };
  ipclab::Child caller([&] {
    semlab::run_in_order({step(0), step(1), step(2), step(3), step(4)}, after);
    return std::string();
  });
  Outcome outcome = caller.finish(kDeadline);
  REQUIRE_RETURNED(outcome);
  const std::vector<Event> events = log->all();
  const std::string problem = check_order(events, after, caller.pid());
  CHECK_MESSAGE(problem == "", problem);
  const auto index_of = [&](Mark mark, int who) {
    return std::find_if(events.begin(), events.end(), [&](const Event& e) { return e.mark == mark && e.who == who; }) -
           events.begin();
  };
  CHECK_MESSAGE(index_of(Mark::start, 1) < index_of(Mark::end, 0),
                "steps 0 and 1 wait for nothing, so they must run at the same time; step 1 started only after step 0 "
                "had ended (are the steps started one after another?)");
}

// ---- Part 3: mutual exclusion ------------------------------------------------------

TEST_CASE("run_exclusively lets three processes add to a shared counter without losing an update") {
  constexpr int kProcesses = 3, kTimes = 2000;
  // First, what the semaphore is for: the same three processes without it.
  ipclab::Shared<Counter> unguarded;
  ipclab::Children racers;
  for (int i = 0; i < kProcesses; ++i) {
    racers.start([&] {
      for (int n = 0; n < kTimes; ++n) add_one(*unguarded);
      return std::string();
    });
  }
  REQUIRE(racers.finish_all(kDeadline) == "");
  REQUIRE_MESSAGE(unguarded->value < kProcesses * kTimes,
                  "without mutual exclusion, the test's own run should lose updates; it counted ", unguarded->value);

  ipclab::Shared<Counter> counter;
  Outcome outcome = ipclab::run_in_child(
      [&] {
        semlab::run_exclusively(kProcesses, kTimes, [&] { add_one(*counter); });
        return std::string();
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(counter->most_inside.load() == 1, counter->most_inside.load(),
                " processes were inside the critical section at once (without a lock the test counted ",
                unguarded->value, " of ", kProcesses * kTimes, ")");
  CHECK_MESSAGE(counter->value == kProcesses * kTimes, "the counter ended at ", counter->value, ", not ",
                kProcesses * kTimes, ": updates were lost");
}

// ---- Part 4: a barrier -----------------------------------------------------------------

TEST_CASE("the barrier holds every process until all have arrived in each round") {
  const std::string problem = run_barrier(4, 30);
  CHECK_MESSAGE(problem == "", problem);
}

TEST_CASE("processes waiting at the barrier use no CPU") {
  const std::string name = ipclab::unique_ipc_name("resting");
  ipclab::Flag created, done;
  ipclab::Child creator([&] {
    semlab::Barrier barrier = semlab::Barrier::create(name, 3);
    created.raise();
    return std::string(done.wait(3 * kDeadline) ? "" : "never told to finish");
  });
  if (!ipclab::wait_for(created, creator, kDeadline)) {
    FAIL("Barrier::create did not return: ", creator.finish(kDeadline).describe());
  }
  auto arrive = [&] {
    semlab::Barrier::open(name, 3).arrive_and_wait();
    return std::string("passed");
  };
  ipclab::Children parties;
  for (int who = 0; who < 2; ++who) {
    ipclab::Child& early = parties.start(arrive);
    ipclab::Blocked blocked = ipclab::wait_until_blocked(early.pid());
    CHECK_MESSAGE(blocked.yes, "a process waiting at the barrier for the others must sleep: ", blocked.evidence);
  }
  parties.start(arrive);
  const std::string failed = parties.finish_all(kDeadline);
  done.raise();
  Outcome owner = creator.finish(kDeadline);
  CHECK_MESSAGE(failed == "", failed);
  CHECK_MESSAGE(owner.ok(), "the creator: ", owner.describe());
}

// ---- cleanup --------------------------------------------------------------------------

TEST_CASE("ping_pong run_in_order and run_exclusively leave no semaphore and no child behind") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::private_dev_shm();  // count only what this test makes
        std::string report;
        const auto check = [&report](const char* after, const ipclab::IpcObjects& before) {
          const std::string objects =
              ipclab::leak_report("IPC objects left behind", ipclab::IpcObjects::now().created_since(before));
          const std::string children = ipclab::leak_report(ipclab::children_of());
          if (!objects.empty()) report += std::string("after ") + after + ": " + objects + ". ";
          if (!children.empty()) report += std::string("after ") + after + ": " + children + ". ";
        };
        auto before = ipclab::IpcObjects::now();
        semlab::ping_pong(3, [](int) {}, [](int) {});
        check("ping_pong", before);
        before = ipclab::IpcObjects::now();
        semlab::run_in_order({[] {}, [] {}, [] {}}, {{}, {0}, {0, 1}});
        check("run_in_order", before);
        before = ipclab::IpcObjects::now();
        semlab::run_exclusively(3, 10, [] {});
        check("run_exclusively", before);
        return report;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "", outcome.value);
}

}  // TEST_SUITE
