// Lab `shm`: hidden tests, graded but not shipped in the starter pack.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

#include "grader/harness/child.h"
#include "grader/harness/children.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/shared.h"
#include "grader/harness/snapshot.h"
#include "labs/shm/shm_lab.h"
#include "labs/shm/shm_test_support.h"

using ipclab::Outcome;
using namespace shmlab::testing;

namespace {

// This process's address space now, in bytes (VmSize).
std::size_t address_space_in_use() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmSize:", 0) == 0) return std::stoul(line.substr(7)) * 1024;
  }
  return 0;
}

// Producer p's item number n.
std::uint64_t tagged(std::uint64_t producer, std::uint64_t n) { return producer << 32 | n; }

// "" if the items the consumers got are every producer's items exactly
// once, and each consumer saw each producer's items in the order put.
std::string check_exchange(const std::vector<std::string>& got, int producers, std::uint64_t per_producer) {
  std::vector<std::vector<int>> seen(producers, std::vector<int>(per_producer, 0));
  for (std::size_t consumer = 0; consumer < got.size(); ++consumer) {
    std::vector<std::int64_t> last(producers, -1);
    for (std::size_t at = 0; at + 8 <= got[consumer].size(); at += 8) {
      std::uint64_t item = 0;
      std::memcpy(&item, got[consumer].data() + at, 8);
      const std::uint64_t producer = item >> 32, n = item & 0xffffffffU;
      if (producer >= static_cast<std::uint64_t>(producers) || n >= per_producer) {
        return "consumer " + std::to_string(consumer) + " got an item no producer put (" +
               describe_item(item_of(item)) + ")";
      }
      if (static_cast<std::int64_t>(n) <= last[producer]) {
        return "consumer " + std::to_string(consumer) + " got producer " + std::to_string(producer) + "'s item " +
               std::to_string(n) + " after its item " + std::to_string(last[producer]) + ": out of order";
      }
      last[producer] = static_cast<std::int64_t>(n);
      ++seen[producer][n];
    }
  }
  for (int producer = 0; producer < producers; ++producer) {
    for (std::uint64_t n = 0; n < per_producer; ++n) {
      if (seen[producer][n] != 1) {
        return "producer " + std::to_string(producer) + "'s item " + std::to_string(n) + " was got " +
               std::to_string(seen[producer][n]) + " times, not once";
      }
    }
  }
  return "";
}

void ignore_signal(int) {}

// A semaphore the test makes and removes itself, with the POSIX calls.
class TestSemaphore {
 public:
  explicit TestSemaphore(unsigned int value) : name_(ipclab::unique_ipc_name("sem")) {
    handle_ = ::sem_open(name_.c_str(), O_CREAT | O_EXCL, 0600, value);
    if (handle_ == SEM_FAILED) throw std::system_error(errno, std::generic_category(), "the test's sem_open " + name_);
  }
  ~TestSemaphore() {
    ::sem_close(handle_);
    ::sem_unlink(name_.c_str());  // may be gone already if the code under test removed it
  }
  TestSemaphore(const TestSemaphore&) = delete;
  TestSemaphore& operator=(const TestSemaphore&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] int value() const {
    int value = -1;
    ::sem_getvalue(handle_, &value);
    return value;
  }
  void post() { ::sem_post(handle_); }

 private:
  std::string name_;
  sem_t* handle_;
};

}  // namespace

TEST_SUITE("shm (hidden)") {

TEST_CASE("regions of any size are shared whole") {
  for (std::size_t size : {1UL, 4095UL, 4097UL, (1UL << 20) + 3}) {
    CAPTURE(size);
    const std::string name = ipclab::unique_ipc_name("sized");
    const std::string content = ipclab::pattern(size, static_cast<std::uint32_t>(size));
    ipclab::Flag written, read;
    ipclab::Child creator([&] {
      shmlab::SharedRegion region = shmlab::SharedRegion::create(name, size);
      std::memcpy(region.data(), content.data(), size);
      written.raise();
      return std::string(read.wait(kDeadline) ? "" : "the reader never finished");
    });
    if (!ipclab::wait_for(written, creator, kDeadline)) FAIL("the creator: ", creator.finish(kDeadline).describe());
    Outcome attached = ipclab::run_in_child(
        [&] {
          shmlab::SharedRegion region = shmlab::SharedRegion::attach(name, size);
          return std::string(static_cast<const char*>(region.data()), region.size());
        },
        kDeadline);
    read.raise();
    Outcome created = creator.finish(kDeadline);
    REQUIRE_RETURNED(attached, "the attacher: ");
    REQUIRE_RETURNED(created, "the creator: ");
    CHECK_MESSAGE(attached.value == content, ipclab::first_difference(content, attached.value));
  }
}

TEST_CASE("create reports a region too large to map and leaves nothing behind") {
  // 48 MiB fits the sandbox's file size limit, so ftruncate succeeds; an
  // address space limit 16 MiB above what the process uses makes mmap fail.
  constexpr std::size_t kSize = 48UL << 20;
  const std::string name = ipclab::unique_ipc_name("huge");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        const auto descriptors = ipclab::open_descriptors();
        const rlimit limit{address_space_in_use() + (16UL << 20), address_space_in_use() + (16UL << 20)};
        ::setrlimit(RLIMIT_AS, &limit);
        std::string report;
        try {
          shmlab::SharedRegion region = shmlab::SharedRegion::create(name, kSize);
          report = "create returned although mmap could not map 48 MiB (is MAP_FAILED checked?). ";
        } catch (const std::system_error& e) {
          if (e.code() != std::errc::not_enough_memory) report = std::string("unexpected error: ") + e.what() + ". ";
        }
        if (object_exists(name)) report += "the failed create left " + object_path(name) + " behind. ";
        if (ipclab::open_descriptors() != descriptors) report += "a descriptor stayed open. ";
        return report;
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "", outcome.value);
}

TEST_CASE("three producers and three consumers pass every item exactly once") {
  constexpr int kProducers = 3, kConsumers = 3;
  constexpr std::uint64_t kPerProducer = 30000, kPerConsumer = kPerProducer * kProducers / kConsumers;
  BufferOwner owner(ipclab::unique_ipc_name("many"), 16, 8);
  const std::string created = owner.wait_created();
  if (!created.empty()) FAIL(created);
  ipclab::Children consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.start([&] {
      shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::attach(owner.name(), 16, 8);
      std::string got;
      for (std::uint64_t i = 0; i < kPerConsumer; ++i) {
        got += buffer.get();
        if (i == 0) std::this_thread::sleep_for(kPause);
      }
      return got;
    });
  }
  ipclab::Children producers;
  for (std::uint64_t p = 0; p < kProducers; ++p) {
    producers.start([&, p] {
      shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::attach(owner.name(), 16, 8);
      for (std::uint64_t n = 0; n < kPerProducer; ++n) buffer.put(item_of(tagged(p, n)));
      return std::string();
    });
  }
  const std::string produced = producers.finish_all(kDeadline);
  const std::string consumed = consumers.finish_all(kDeadline);
  Outcome owned = owner.finish();
  REQUIRE_MESSAGE(produced == "", "a producer: ", produced);
  REQUIRE_MESSAGE(consumed == "", "a consumer: ", consumed);
  REQUIRE_RETURNED(owned, "the owner: ");
  std::vector<std::string> got;
  for (const Outcome& outcome : consumers.outcomes()) got.push_back(outcome.value);
  const std::string problem = check_exchange(got, kProducers, kPerProducer);
  CHECK_MESSAGE(problem == "", problem);
}

TEST_CASE("a buffer of one slot hands over items one at a time") {
  constexpr std::uint64_t kItems = 2000;
  BufferOwner owner(ipclab::unique_ipc_name("single"), 1, 8);
  const std::string created = owner.wait_created();
  if (!created.empty()) FAIL(created);
  ipclab::Child consumer([&] { return consume_in_order(owner.name(), 1, 8, kItems); });
  ipclab::Child producer([&] { return produce_in_order(owner.name(), 1, 8, kItems); });
  Outcome produced = producer.finish(kDeadline);
  Outcome consumed = consumer.finish(kDeadline);
  Outcome owned = owner.finish();
  REQUIRE_RETURNED(consumed, "the consumer: ");
  REQUIRE_RETURNED(produced, "the producer: ");
  REQUIRE_RETURNED(owned, "the owner: ");
  CHECK_MESSAGE(consumed.value == produced.value, "the consumer's checksum differs from the producer's: ",
                consumed.value);
}

TEST_CASE("NamedSemaphore::create refuses an existing name with EEXIST and leaves it alone") {
  TestSemaphore existing(3);
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          const auto taken = shmlab::NamedSemaphore::create(existing.name(), 0);
        } catch (const std::system_error& e) {
          return std::string(e.code() == std::errc::file_exists ? "EEXIST" : "another errno: ") + " " + e.what();
        }
        return std::string("no exception: create opened the existing semaphore");
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe());
  CHECK_MESSAGE(outcome.value.rfind("EEXIST", 0) == 0, "create must use O_CREAT | O_EXCL: ", outcome.value);
  CHECK_MESSAGE(existing.value() == 3, "the semaphore that was there must keep its value 3, and its name");
}

TEST_CASE("NamedSemaphore::P goes on waiting after a signal interrupts it") {
  TestSemaphore semaphore(0);
  ipclab::Child waiter([&] {
    struct sigaction action {};
    action.sa_handler = ignore_signal;  // no SA_RESTART: the waiting sem_wait fails with EINTR
    ::sigaction(SIGUSR1, &action, nullptr);
    shmlab::NamedSemaphore::open(semaphore.name()).P();
    return std::string("took it");
  });
  ipclab::Blocked before = ipclab::wait_until_blocked(waiter.pid());
  if (!before.yes) {
    const Outcome early = waiter.finish(kDeadline);
    FAIL("P on a semaphore at 0 should wait (", before.evidence, "), but it ", early.describe());
  }
  ::kill(waiter.pid(), SIGUSR1);
  ipclab::Blocked after = ipclab::wait_until_blocked(waiter.pid());
  if (!after.yes) {
    const Outcome early = waiter.finish(kDeadline);
    FAIL("a signal handler interrupted P's sem_wait (it returned -1 with errno EINTR); P should wait again, but it ",
         early.describe());
  }
  semaphore.post();
  Outcome got = waiter.finish(kDeadline);
  REQUIRE_MESSAGE(got.ok(), got.describe());
  CHECK(got.value == "took it");
  CHECK_MESSAGE(semaphore.value() == 0, "P took the one unit posted after the signal: the value is 0 again");
}

}  // TEST_SUITE
