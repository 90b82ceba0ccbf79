// Tests of shared.h and children.h: the test-side shared memory, flags,
// mapping lists and groups of children that the shm and sem labs rely on.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/children.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/shared.h"
#include "grader/harness/snapshot.h"

using namespace std::chrono_literals;

TEST_SUITE("harness") {

TEST_CASE("Shared memory written by a child is seen by the parent") {
  struct Counter {
    std::atomic<int> value;
  };
  ipclab::Shared<Counter> counter;
  ipclab::Outcome outcome = ipclab::run_in_child(
      [&] {
        counter->value += 41;
        return std::string();
      },
      10s);
  REQUIRE_RETURNED(outcome);
  counter->value += 1;
  CHECK(counter->value == 42);
}

TEST_CASE("a Flag wakes a sleeping process once raised and times out when never raised") {
  ipclab::Flag flag;
  CHECK_FALSE(flag.wait(50ms));
  ipclab::Child waiter([&] { return std::string(flag.wait(10s) ? "raised" : "never raised"); });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(waiter.pid());
  CHECK_MESSAGE(blocked.yes, blocked.evidence);
  flag.raise();
  ipclab::Outcome outcome = waiter.finish(10s);
  REQUIRE_RETURNED(outcome);
  CHECK(outcome.value == "raised");
}

TEST_CASE("mappings_containing sees a shared memory mapping until it is unmapped") {
  const std::string name = ipclab::unique_ipc_name("mapped");
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, 4096) == 0);
  void* at = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ::close(fd);
  ::shm_unlink(name.c_str());
  REQUIRE(at != MAP_FAILED);
  const auto mapped = ipclab::mappings_containing(name);
  REQUIRE(mapped.size() == 1);
  CHECK(mapped[0].find("/dev/shm" + name) == 0);
  ::munmap(at, 4096);
  CHECK(ipclab::mappings_containing(name).empty());
}

}  // TEST_SUITE

TEST_SUITE("harness") {

TEST_CASE("Children finish within one deadline and name the first that failed") {
  ipclab::Children children;
  children.start([] { return std::string("fine"); });
  children.start([]() -> std::string { throw std::runtime_error("broken"); });
  children.start([] {
    ::pause();
    return std::string();
  });
  const auto started = std::chrono::steady_clock::now();
  const std::string failed = children.finish_all(1s);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  CHECK(failed == "process 1: threw std::runtime_error: broken");
  REQUIRE(children.outcomes().size() == 3);
  CHECK(children.outcomes()[0].value == "fine");
  CHECK(children.outcomes()[2].kind == ipclab::Outcome::Kind::timed_out);
}

TEST_CASE("wait_for gives up as soon as the child that should raise the flag has ended") {
  ipclab::Flag never;
  ipclab::Child quitter([] { return std::string(); });
  const auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(ipclab::wait_for(never, quitter, 10s));
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  ipclab::Flag raised;
  ipclab::Child raiser([&] {
    raised.raise();
    return std::string();
  });
  CHECK(ipclab::wait_for(raised, raiser, 10s));
}

}  // TEST_SUITE

TEST_SUITE("harness") {

TEST_CASE("private_dev_shm gives a child a /dev/shm of its own where it is allowed") {
  const std::string outside = ipclab::unique_ipc_name("outside"), inside = ipclab::unique_ipc_name("inside");
  const int fd = ::shm_open(outside.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  REQUIRE(fd >= 0);
  ::close(fd);
  ipclab::Outcome outcome = ipclab::run_in_child(
      [&] {
        if (!ipclab::private_dev_shm()) return std::string("not allowed here");
        const int made = ::shm_open(inside.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
        if (made >= 0) ::close(made);
        return "sees: " + std::to_string(ipclab::entries_of("/dev/shm").size());
      },
      10s);
  const bool leaked_out = ::shm_unlink(inside.c_str()) == 0;
  ::shm_unlink(outside.c_str());
  REQUIRE_RETURNED(outcome);
  if (outcome.value == "not allowed here") return;  // no privilege: nothing to check
  CHECK(outcome.value == "sees: 1");  // its own object, not the one made outside
  CHECK_FALSE(leaked_out);
}

}  // TEST_SUITE
