// Lab `sem`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <stdexcept>

#include "grader/harness/child.h"
#include "grader/harness/children.h"
#include "grader/harness/fd.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/shared.h"
#include "grader/harness/snapshot.h"
#include "labs/sem/sem_lab.h"
#include "labs/sem/sem_test_support.h"

using ipclab::Outcome;
using namespace semlab::testing;

namespace {

void on_signal(int) {}

// Catches what `action` throws and names it, plus what it left behind.
template <class Action>
std::string outcome_and_leaks(Action action) {
  ipclab::private_dev_shm();  // count only what this test makes
  const auto before = ipclab::IpcObjects::now();
  std::string result = "no exception";
  try {
    action();
  } catch (const std::invalid_argument&) {
    result = "invalid_argument";
  } catch (const std::runtime_error&) {
    result = "runtime_error";
  }
  const std::string objects =
      ipclab::leak_report("IPC objects left behind", ipclab::IpcObjects::now().created_since(before));
  const std::string children = ipclab::leak_report(ipclab::children_of());
  if (!objects.empty()) result += "; " + objects;
  if (!children.empty()) result += "; " + children;
  return result;
}

}  // namespace

TEST_SUITE("sem (hidden)") {

TEST_CASE("P keeps waiting when a signal interrupts it") {
  TestSemaphore semaphore(ipclab::unique_ipc_name("interrupted"), 0);
  REQUIRE(semaphore.made());
  ipclab::Child waiter([&] {
    struct sigaction action {};
    action.sa_handler = on_signal;  // no SA_RESTART; sem_wait would not restart anyway
    ::sigaction(SIGUSR1, &action, nullptr);
    semlab::Semaphore::open(semaphore.name()).P();
    return std::string("passed P");
  });
  ipclab::Blocked before = ipclab::wait_until_blocked(waiter.pid());
  if (!before.yes) {
    FAIL("P() did not wait on a semaphore at 0: ", before.evidence, "; ", waiter.finish(kDeadline).describe());
  }
  ::kill(waiter.pid(), SIGUSR1);
  ipclab::Blocked after = ipclab::wait_until_blocked(waiter.pid());
  CHECK_MESSAGE(after.yes, "after a signal handler ran, P() must go back to waiting: ", after.evidence);
  semaphore.post();
  Outcome outcome = waiter.finish(kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(semaphore.value() == 0, "P() returned after the signal without taking the unit: the value is ",
                semaphore.value(), " after one V()");
}

TEST_CASE("ping_pong reports a side whose callback throws") {
  ipclab::Shared<EventLog> log;
  Outcome outcome = ipclab::run_in_child(
      [&] {
        return outcome_and_leaks([&] {
          semlab::ping_pong(
              5, [&](int round) { log->record(Mark::start, kPing, round); },
              [&](int round) {
                log->record(Mark::start, kPong, round);
                if (round == 2) throw std::runtime_error("pong failed");
              });
        });
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "runtime_error",
                "expected std::runtime_error and nothing left behind, got: ", outcome.value);
  int pings = 0;
  for (const Event& event : log->all()) pings += event.who == kPing;
  CHECK_MESSAGE(pings == 5, "ping must play all 5 rounds although pong's callback threw; it played ", pings);
}

TEST_CASE("run_in_order rejects a step that does not exist") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const std::vector<std::vector<std::vector<int>>> cases = {{{}, {2}}, {{}, {1}}, {{}, {-1}}, {{}}};
        std::string results;
        for (const auto& after : cases) {
          results += outcome_and_leaks([&] { semlab::run_in_order({[] {}, [] {}}, after); }) + "\n";
        }
        return results;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "invalid_argument\ninvalid_argument\ninvalid_argument\ninvalid_argument\n",
                "for after = {{}, {2}}, {{}, {1}}, {{}, {-1}} and {{}} (one entry for two steps), got:\n",
                outcome.value);
}

TEST_CASE("run_in_order reports a failing step and still runs the steps after it") {
  ipclab::Shared<EventLog> log;
  Outcome outcome = ipclab::run_in_child(
      [&] {
        return outcome_and_leaks([&] {
          semlab::run_in_order({[] { throw std::runtime_error("step 0 failed"); },
                                [&] { log->record(Mark::start, 1); }, [&] { log->record(Mark::start, 2); }},
                               {{}, {0}, {1, 0}});
        });
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "runtime_error",
                "expected std::runtime_error and nothing left behind, got: ", outcome.value);
  CHECK_MESSAGE(log->count.load() == 2, "the steps after the failing one should still run; ", log->count.load(),
                " of 2 did");
}

TEST_CASE("ping_pong with zero rounds runs no callback") {
  ipclab::Shared<EventLog> log;
  Outcome outcome = ipclab::run_in_child(
      [&] {
        return outcome_and_leaks([&] {
          semlab::ping_pong(
              0, [&](int round) { log->record(Mark::start, kPing, round); },
              [&](int round) { log->record(Mark::start, kPong, round); });
        });
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "no exception", outcome.value);
  CHECK_MESSAGE(log->count.load() == 0, "zero rounds, yet ", log->count.load(), " callbacks ran");
}

TEST_CASE("ping_pong keeps alternating for two thousand rounds") {
  ipclab::Shared<EventLog> log;
  const int rounds = 2000;
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

TEST_CASE("six processes pass forty rounds of the barrier in step") {
  const std::string problem = run_barrier(6, 40);
  CHECK_MESSAGE(problem == "", problem);
}

TEST_CASE("the barrier's creator unlinks every semaphore it made") {
  ipclab::private_dev_shm();  // count only what this test makes
  const auto before = ipclab::IpcObjects::now();
  const std::string name = ipclab::unique_ipc_name("gone");
  ipclab::Flag created, done;
  ipclab::Child creator([&] {
    semlab::Barrier barrier = semlab::Barrier::create(name, 2);
    created.raise();
    return std::string(done.wait(kDeadline) ? "" : "never told to finish");
  });
  if (!ipclab::wait_for(created, creator, kDeadline)) {
    FAIL("Barrier::create did not return: ", creator.finish(kDeadline).describe());
  }
  const auto made = ipclab::IpcObjects::now().created_since(before);
  ipclab::Children parties;
  for (int who = 0; who < 2; ++who) {
    parties.start([&] {
      semlab::Barrier::open(name, 2).arrive_and_wait();
      return std::string();
    });
  }
  const std::string failed = parties.finish_all(kDeadline);
  const auto while_owned = ipclab::IpcObjects::now().created_since(before);
  done.raise();
  Outcome owner = creator.finish(kDeadline);
  REQUIRE_MESSAGE(failed == "", failed);
  REQUIRE_RETURNED(owner, "the creator: ");
  CHECK_MESSAGE(!made.empty(), "Barrier::create made no semaphore in /dev/shm");
  CHECK_MESSAGE(while_owned == made, "the processes that opened the barrier removed some of its semaphores: before ",
                ipclab::leak_report("made", made), "; after they were gone ", ipclab::leak_report("left", while_owned));
  const auto left = ipclab::IpcObjects::now().created_since(before);
  CHECK_MESSAGE(left.empty(), ipclab::leak_report("after the creator was gone, IPC objects left behind", left));
}

TEST_CASE("run_exclusively reaps its children even when a signal interrupts its wait") {
  ipclab::Pipe go, done;
  ipclab::Child runner([&] {
    struct sigaction action {};
    action.sa_handler = on_signal;  // no SA_RESTART: the waiting waitpid fails with EINTR
    ::sigaction(SIGUSR1, &action, nullptr);
    go.write.reset();
    done.read.reset();
    semlab::run_exclusively(2, 1, [&] {
      char byte = 0;
      if (::read(go.read.get(), &byte, 1) != 1) throw std::runtime_error("the test's go pipe closed");
      if (::write(done.write.get(), &byte, 1) != 1) throw std::runtime_error("the test's done pipe closed");
    });
    return ipclab::leak_report(ipclab::children_of());
  });
  go.read.reset();
  done.write.reset();
  ipclab::Blocked before = ipclab::wait_until_blocked(runner.pid());
  if (!before.yes) {
    const Outcome early = runner.finish(kDeadline);
    FAIL("run_exclusively should wait for its children (", before.evidence, "), but it ", early.describe());
  }
  ::kill(runner.pid(), SIGUSR1);
  ipclab::Blocked after = ipclab::wait_until_blocked(runner.pid());
  if (!after.yes) {
    const Outcome early = runner.finish(kDeadline);
    FAIL("a signal handler interrupted run_exclusively's waitpid (it returned -1 with errno EINTR); it should ",
         "wait again for every child, but it ", early.describe());
  }
  ipclab::write_unless_reader_ended(go.write.get(), "ab");
  go.write.reset();
  Outcome got = runner.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), got.describe());
  CHECK_MESSAGE(got.value == "", got.value);
  CHECK_MESSAGE(ipclab::read_until_eof(done.read.get()) == "ab", "both critical sections must have run to the end");
}

TEST_CASE("run_exclusively accepts a single process and zero times") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe calls;
        const auto call = [&] { ipclab::write_fully(calls.write.get(), "x"); };
        semlab::run_exclusively(1, 3, call);
        semlab::run_exclusively(2, 0, call);
        calls.write.reset();
        return ipclab::read_until_eof(calls.read.get());
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), "processes = 1 and times = 0 are valid (only processes < 1 or times < 0 throw): ",
                  outcome.describe());
  CHECK_MESSAGE(outcome.value == "xxx", "one process calling 3 times, then 2 processes calling 0 times, should make 3 ",
                "calls in all; the critical section was called ", outcome.value.size(), " times");
}

TEST_CASE("a barrier of one party lets its process through at once") {
  const std::string name = ipclab::unique_ipc_name("barrier");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        const semlab::Barrier barrier = semlab::Barrier::create(name, 1);
        semlab::Barrier mine = semlab::Barrier::open(name, 1);
        mine.arrive_and_wait();
        mine.arrive_and_wait();
        return std::string("passed two rounds");
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), "a barrier for 1 process is valid (only parties < 1 throws), and its one process ",
                  "is everybody: ", outcome.describe());
  CHECK(outcome.value == "passed two rounds");
}

}  // TEST_SUITE
