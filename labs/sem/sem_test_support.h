#pragma once
// What the sem lab's tests share: the test's own semaphores (plain POSIX
// calls, so a test never depends on the code it grades), an event log in
// shared memory that every process of a test writes to, and the helpers
// that force a race window open so an unsynchronised solution fails every
// time rather than by bad luck.
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/children.h"
#include "grader/harness/deadline.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/shared.h"
#include "grader/harness/verdict.h"
#include "labs/sem/sem_lab.h"

namespace semlab::testing {

using namespace std::chrono_literals;

// Reaching it means a hang: usually a missing V().
using ipclab::kDeadline;

// How long a test holds a race window open: a process that is free to run
// (because the code under test did not stop it) gets the CPU many times over
// within it, even with both cores busy.
inline constexpr auto kRaceWindow = std::chrono::milliseconds(500);

// ---- the test's own semaphores ------------------------------------------------

// A semaphore the test creates with plain POSIX calls, and unlinks.
class TestSemaphore {
 public:
  TestSemaphore(std::string name, unsigned int value) : name_(std::move(name)) {
    handle_ = ::sem_open(name_.c_str(), O_CREAT | O_EXCL, 0600, value);
  }
  TestSemaphore(const TestSemaphore&) = delete;
  TestSemaphore& operator=(const TestSemaphore&) = delete;
  ~TestSemaphore() {
    if (handle_ != SEM_FAILED) ::sem_close(handle_);
    ::sem_unlink(name_.c_str());
  }

  [[nodiscard]] bool made() const { return handle_ != SEM_FAILED; }
  [[nodiscard]] const std::string& name() const { return name_; }
  void post() { ::sem_post(handle_); }
  [[nodiscard]] int value() const {
    int value = -1;
    ::sem_getvalue(handle_, &value);
    return value;
  }

 private:
  std::string name_;
  sem_t* handle_ = SEM_FAILED;
};

// Whether a semaphore of that name exists, seen from /dev/shm.
[[nodiscard]] inline bool semaphore_exists(const std::string& name) {
  return ::access(("/dev/shm/sem." + name.substr(1)).c_str(), F_OK) == 0;
}

// ---- an event log in shared memory ----------------------------------------------

enum class Mark : int { start, end, arrive, leave };

struct Event {
  Mark mark;
  int who;    // the side, step or process number the test gave
  int round;  // or -1
  pid_t pid;  // the process that recorded it
};

// Every event of a test in the order it happened: fetch_add hands out the
// places, so two processes never write the same one.
struct EventLog {
  static constexpr int kCapacity = 16384;
  std::atomic<int> count;
  Event events[kCapacity];

  void record(Mark mark, int who, int round = -1) {
    const int at = count.fetch_add(1);
    if (at < kCapacity) events[at] = {mark, who, round, ::getpid()};
  }
  [[nodiscard]] std::vector<Event> all() const {
    const int n = std::min(count.load(), kCapacity);
    return {events, events + n};
  }
  // Waits up to `patience` for anything to be recorded after the first
  // `seen` events; true if something was.
  [[nodiscard]] bool moves_within(int seen, std::chrono::milliseconds patience) const {
    return ipclab::eventually([&] { return count.load() != seen; }, patience);
  }
};

// ---- ordering: ping_pong ------------------------------------------------------------

inline constexpr int kPing = 0, kPong = 1;

inline std::string describe(const Event& event, const char* const* names) {
  const char* what = event.mark == Mark::start ? " started" : event.mark == Mark::end ? " ended" : "";
  return std::string(names[event.who]) + "(" + std::to_string(event.round) + ")" + what;
}

// One side's turn in ping_pong. In round 0 the side holds its turn for
// kRaceWindow, watching whether anything else happens meanwhile: nothing
// may, and an unsynchronised other side always does.
inline void take_turn(EventLog& log, int side, int round) {
  log.record(Mark::start, side, round);
  if (round == 0) (void)log.moves_within(log.count.load(), kRaceWindow);
  log.record(Mark::end, side, round);
}

// "" if `events` are exactly ping(0) pong(0) ping(1) ... pong(rounds-1), each
// started and ended before the next starts, ping's in one process and pong's
// in another, neither of them `caller`; otherwise the first thing that is not.
[[nodiscard]] inline std::string check_alternation(const std::vector<Event>& events, int rounds, pid_t caller) {
  static const char* const names[] = {"ping", "pong"};
  std::vector<Event> expected;
  for (int round = 0; round < rounds; ++round) {
    for (int side : {kPing, kPong}) {
      expected.push_back({Mark::start, side, round, 0});
      expected.push_back({Mark::end, side, round, 0});
    }
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const std::string want = describe(expected[i], names);
    if (i >= events.size()) return "the log ends after " + std::to_string(i) + " events; expected next: " + want;
    const std::string got = describe(events[i], names);
    if (got != want) {
      return (i ? "after " + describe(events[i - 1], names) + ", " : std::string("first, ")) + "expected " + want +
             " but " + got + " (the turns must alternate strictly, each call finished before the next starts)";
    }
  }
  if (events.size() > expected.size()) return "more callbacks than rounds: " + describe(events[expected.size()], names);
  if (rounds == 0) return "";
  const pid_t ping = events[0].pid, pong = events[2].pid;
  for (const Event& event : events) {
    if (event.pid != (event.who == kPing ? ping : pong)) {
      return describe(event, names) + " ran in another process than the rest of its side";
    }
  }
  if (ping == pong) return "ping and pong ran in the same process: each side needs a child process of its own";
  if (ping == caller || pong == caller) {
    return "a callback ran in the process that called ping_pong: each side runs in a child";
  }
  return "";
}

// ---- ordering: run_in_order ------------------------------------------------------------

// "" if every step started and ended once, in a process of its own (not
// `caller`), and started only after each step it waits for had ended.
[[nodiscard]] inline std::string check_order(const std::vector<Event>& events,
                                             const std::vector<std::vector<int>>& after, pid_t caller) {
  const int steps = static_cast<int>(after.size());
  std::vector<int> started(steps, -1), ended(steps, -1);
  std::vector<pid_t> pid(steps, 0);
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    const Event& e = events[i];
    auto& at = e.mark == Mark::start ? started : ended;
    if (at[e.who] >= 0) return "step " + std::to_string(e.who) + " ran twice";
    at[e.who] = i;
    pid[e.who] = e.pid;
  }
  for (int step = 0; step < steps; ++step) {
    const std::string name = "step " + std::to_string(step);
    if (started[step] < 0 || ended[step] < 0) return name + " never ran";
    if (pid[step] == caller) return name + " ran in the process that called run_in_order, not in a child of its own";
    for (int other = 0; other < step; ++other) {
      if (pid[other] == pid[step]) {
        return "steps " + std::to_string(other) + " and " + std::to_string(step) + " ran in the same process";
      }
    }
    for (int before : after[step]) {
      if (started[step] < ended[before]) {
        return name + " started before step " + std::to_string(before) + ", which it waits for, had ended";
      }
    }
  }
  return "";
}

// ---- a barrier -------------------------------------------------------------------

// "" if each of `parties` processes arrived at and left each of `rounds`
// rounds once, and nobody left a round before everybody had arrived at it.
[[nodiscard]] inline std::string check_rounds(const std::vector<Event>& events, int parties, int rounds) {
  for (int round = 0; round < rounds; ++round) {
    int arrived = 0, left = 0, last_arrival = -1;
    for (int i = 0; i < static_cast<int>(events.size()); ++i) {
      const Event& e = events[i];
      if (e.round != round) continue;
      if (e.mark == Mark::arrive) {
        ++arrived;
        last_arrival = i;
      } else {
        ++left;
      }
    }
    if (arrived != parties || left != parties) {
      return "round " + std::to_string(round) + ": " + std::to_string(arrived) + " arrivals and " +
             std::to_string(left) + " departures, expected " + std::to_string(parties) + " of each";
    }
    for (int i = 0; i < last_arrival; ++i) {
      const Event& e = events[i];
      if (e.round == round && e.mark == Mark::leave) {
        return "process " + std::to_string(e.who) + " left round " + std::to_string(round) + " before process " +
               std::to_string(events[last_arrival].who) + " had arrived at it";
      }
    }
  }
  return "";
}

// The first process that left a round before every process had arrived at
// it, said as such; "" if none did. Each process logs its arrival before it
// calls arrive_and_wait, so with a right barrier every arrival of a round
// comes before any departure from it. A barrier that lets one through too
// many often hangs later: this is what explains the timeout.
[[nodiscard]] inline std::string first_early_leave(const std::vector<Event>& events, int parties) {
  std::vector<int> arrived;
  for (const Event& e : events) {
    if (e.round < 0) continue;
    const auto round = static_cast<std::size_t>(e.round);
    if (arrived.size() <= round) arrived.resize(round + 1, 0);
    if (e.mark == Mark::arrive) {
      ++arrived[round];
    } else if (e.mark == Mark::leave && arrived[round] < parties) {
      return "process " + std::to_string(e.who) + " left round " + std::to_string(e.round) + " when only " +
             std::to_string(arrived[round]) + " of the " + std::to_string(parties) +
             " processes had arrived at it: the barrier let a process through before the last one came";
    }
  }
  return "";
}

// Waits until each process is blocked or has ended, `patience` in all.
inline void settle(const std::vector<pid_t>& pids, std::chrono::milliseconds patience) {
  const ipclab::Deadline deadline(patience);
  for (pid_t pid : pids) {
    if (deadline.passed()) return;
    (void)ipclab::wait_until_blocked(pid, deadline.left());
  }
}

// Runs `parties` processes through `rounds` rounds of a barrier that a
// separate creator process owns, and forces the reuse race open: process 0
// arrives first and is frozen (SIGSTOP) while it waits in round 0. The others
// may then pass round 0, but none of them may pass round 1 without it, so a
// process that hurries on must not take the wake-up process 0 has not
// collected yet. Returns "" or what went wrong.
[[nodiscard]] inline std::string run_barrier(int parties, int rounds) {
  const std::string name = ipclab::unique_ipc_name("barrier");
  ipclab::Shared<EventLog> log;
  ipclab::Flag created, done;
  ipclab::Child creator([&] {
    Barrier barrier = Barrier::create(name, parties);
    created.raise();
    return std::string(done.wait(3 * kDeadline) ? "" : "the creator was never told to finish");
  });
  if (!ipclab::wait_for(created, creator, kDeadline)) {
    return "Barrier::create did not return: " + creator.finish(kDeadline).describe();
  }
  auto worker = [&](int who) {
    return [&, who] {
      Barrier barrier = Barrier::open(name, parties);
      for (int round = 0; round < rounds; ++round) {
        log->record(Mark::arrive, who, round);
        barrier.arrive_and_wait();
        log->record(Mark::leave, who, round);
      }
      return std::string();
    };
  };
  ipclab::Children workers;
  const pid_t frozen = workers.start(worker(0)).pid();
  (void)ipclab::wait_until_blocked(frozen, 2s);  // waiting in round 0; frozen there either way
  ::kill(frozen, SIGSTOP);
  std::vector<pid_t> others;
  for (int who = 1; who < parties; ++who) others.push_back(workers.start(worker(who)).pid());
  settle(others, 3s);
  std::string early;
  for (const Event& e : log->all()) {
    if (early.empty() && e.mark == Mark::leave && e.round >= 1) {
      early = "while process 0 was held inside round 0 (stopped with SIGSTOP), process " + std::to_string(e.who) +
              " passed round " + std::to_string(e.round) +
              " without it: a process that hurried on took a wake-up meant for a slower one";
    }
  }
  ::kill(frozen, SIGCONT);
  const std::string failed = workers.finish_all(kDeadline);
  done.raise();
  const ipclab::Outcome owner = creator.finish(kDeadline);
  if (!early.empty()) return early;
  if (const std::string too_early = first_early_leave(log->all(), parties); !too_early.empty()) {
    ipclab::verdict::observed("a process left a round early");
    return too_early;
  }
  if (!failed.empty()) return failed;
  if (!owner.ok()) return "the creator: " + owner.describe();
  return check_rounds(log->all(), parties, rounds);
}

// ---- mutual exclusion, with the race window forced open ----------------------------

// A counter in shared memory, and who is inside the critical section.
struct Counter {
  std::atomic<int> inside;       // processes in add_one right now
  std::atomic<int> most_inside;  // the most that ever were at once
  std::atomic<bool> window_used;
  long value;  // deliberately not atomic: only mutual exclusion keeps it right
};

// The critical section: "load the counter, add one, store it back". The
// first call of all holds the gap between load and store open for up to
// kRaceWindow, until another process comes in too. Under a lock nobody can,
// so it only costs that wait, once; without one, another process always
// comes in, loads the same value, and an update is lost — in every run.
inline void add_one(Counter& counter) {
  const int now = counter.inside.fetch_add(1) + 1;
  for (int most = counter.most_inside.load(); now > most && !counter.most_inside.compare_exchange_weak(most, now);) {
  }
  const long seen = *static_cast<volatile long*>(&counter.value);
  if (!counter.window_used.exchange(true)) {
    const auto until = std::chrono::steady_clock::now() + kRaceWindow;
    while (counter.most_inside.load() < 2 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(200us);
    }
  }
  *static_cast<volatile long*>(&counter.value) = seen + 1;
  counter.inside.fetch_sub(1);
}

}  // namespace semlab::testing
