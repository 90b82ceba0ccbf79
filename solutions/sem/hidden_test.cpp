// Lab `sem`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <stdexcept>

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

}  // TEST_SUITE
