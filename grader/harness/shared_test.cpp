// Tests of shared.h: the test-side shared memory, flags and mapping lists
// that the shm and sem labs' tests rely on.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "grader/harness/child.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/shared.h"

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
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe());
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
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe());
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
