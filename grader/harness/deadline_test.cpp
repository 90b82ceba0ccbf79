// Deadline and eventually: every wait of a lab test is one of these, so a
// wait that gave up too early would fail correct code and one that never
// gave up would turn a student's bug into a grader time-out.
#include "grader/harness/deadline.h"

#include <doctest/doctest.h>
#include <time.h>

#include <chrono>
#include <string>
#include <thread>

#include "grader/harness/child.h"

using namespace std::chrono_literals;

namespace {

long long realtime_ns(const timespec& at) { return at.tv_sec * 1'000'000'000LL + at.tv_nsec; }

}  // namespace

TEST_SUITE("harness") {

TEST_CASE("a Deadline counts down and stops at zero") {
  const ipclab::Deadline deadline(200ms);
  CHECK(deadline.left() <= 200ms);
  CHECK(deadline.left() > 0ms);
  CHECK_FALSE(deadline.passed());
  std::this_thread::sleep_for(250ms);
  CHECK(deadline.left() == 0ms);
  CHECK(deadline.passed());
}

TEST_CASE("a Deadline made with no budget is the harness's kDeadline") {
  const ipclab::Deadline deadline;
  CHECK(deadline.left() <= ipclab::kDeadline);
  CHECK(deadline.left() > ipclab::kDeadline - 5s);
}

TEST_CASE("a Deadline's realtime is the same moment on CLOCK_REALTIME") {
  const ipclab::Deadline deadline(5s);
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const timespec at = deadline.realtime();
  CHECK(at.tv_nsec >= 0);
  CHECK(at.tv_nsec < 1'000'000'000);
  const long long ahead = realtime_ns(at) - realtime_ns(now);
  // Some of the 5 s has gone by between the two readings, but not seconds of it.
  CHECK(ahead <= 5'000'000'000LL);
  CHECK(ahead > 4'000'000'000LL);
}

TEST_CASE("a passed Deadline's realtime is now, not in the past") {
  const ipclab::Deadline deadline(0ms);
  timespec before{};
  ::clock_gettime(CLOCK_REALTIME, &before);
  CHECK(realtime_ns(deadline.realtime()) >= realtime_ns(before));
}

TEST_CASE("eventually returns as soon as the condition holds") {
  int checks = 0;
  const ipclab::Deadline deadline;
  CHECK(ipclab::eventually([&] { return ++checks == 3; }, deadline));
  CHECK(checks == 3);
  CHECK_FALSE(deadline.passed());
}

TEST_CASE("eventually gives up at the deadline when the condition never holds") {
  int checks = 0;
  const ipclab::Deadline deadline(100ms);
  CHECK_FALSE(ipclab::eventually([&] { return ++checks < 0; }, deadline));
  CHECK(deadline.passed());
  CHECK(checks > 1);  // it kept checking, not once and then slept the deadline away
}

TEST_CASE("eventually counts a condition that holds at the last moment") {
  const ipclab::Deadline deadline(50ms);
  CHECK(ipclab::eventually([&] { return deadline.passed(); }, deadline));
}

TEST_CASE("eventually with a patience waits for another process") {
  ipclab::Child child([] { return std::string(); });
  CHECK(ipclab::eventually([&] { return child.has_ended(); }, 5s));
  const ipclab::Outcome outcome = child.finish(5s);
  CHECK_MESSAGE(outcome.ok(), outcome.describe());
}

TEST_CASE("eventually with a patience gives up after it") {
  ipclab::Child sleeper([] {
    std::this_thread::sleep_for(30s);
    return std::string();
  });
  CHECK_FALSE(ipclab::eventually([&] { return sleeper.has_ended(); }, 100ms));
  CHECK_FALSE(sleeper.has_ended());
  // Destroying the Child kills the sleeper.
}

}  // TEST_SUITE
