// Lab `shm`: the public tests. Each test case is one graded behaviour; its
// points and hint are in lab.toml. Run them with `./grade shm`.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>
#include <stdexcept>
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

// A failure message for a child that died of SIGBUS: it touched a page the
// shared memory object does not have.
std::string bus_error_note(const Outcome& outcome) {
  if (outcome.kind != Outcome::Kind::signaled || outcome.code != SIGBUS) return "";
  return " — SIGBUS: the process touched memory past the end of the shared memory object (an object is 0 bytes "
         "until ftruncate sizes it)";
}

std::string bytes_of(const shmlab::SharedRegion& region) {
  return std::string(static_cast<const char*>(region.data()), region.size());
}

}  // namespace

TEST_SUITE("shm") {

// ---- Part 2: a shared region -----------------------------------------------------

TEST_CASE("a region written by one process is read by another") {
  constexpr std::size_t kSize = 10000;
  const std::string name = ipclab::unique_ipc_name("region");
  const std::string from_creator = ipclab::pattern(kSize, 1), from_attacher = ipclab::pattern(kSize, 2);
  ipclab::Flag written, answered;
  ipclab::Child creator([&] {
    shmlab::SharedRegion region = shmlab::SharedRegion::create(name, kSize);
    std::memcpy(region.data(), from_creator.data(), kSize);
    written.raise();
    if (!answered.wait(kDeadline)) return std::string("the attacher never answered");
    return ipclab::first_difference(from_attacher, bytes_of(region));
  });
  if (!ipclab::wait_for(written, creator, kDeadline)) {
    const Outcome outcome = creator.finish(kDeadline);
    FAIL("the creator: ", outcome.describe(), bus_error_note(outcome));
  }
  Outcome attached = ipclab::run_in_child(
      [&] {
        shmlab::SharedRegion region = shmlab::SharedRegion::attach(name, kSize);
        if (region.size() != kSize) return "size() is " + std::to_string(region.size());
        const std::string seen = bytes_of(region);
        std::memcpy(region.data(), from_attacher.data(), kSize);
        return ipclab::first_difference(from_creator, seen);
      },
      kDeadline);
  answered.raise();
  Outcome created = creator.finish(kDeadline);
  REQUIRE_MESSAGE(attached.ok(), "the attacher: ", attached.describe(), bus_error_note(attached));
  REQUIRE_MESSAGE(created.ok(), "the creator: ", created.describe(), bus_error_note(created));
  CHECK_MESSAGE(attached.value == "", "what the attacher read is not what the creator wrote: ", attached.value);
  CHECK_MESSAGE(created.value == "", "what the creator read is not what the attacher wrote: ", created.value);
}

TEST_CASE("attach reports a region that was never sized instead of crashing") {
  TestObject unsized(ipclab::unique_ipc_name("unsized"), 0);
  REQUIRE(unsized.made());
  Outcome outcome = ipclab::run_in_child(
      [&] {
        const auto descriptors = ipclab::open_descriptors();
        std::string result = "no exception";
        try {
          shmlab::SharedRegion region = shmlab::SharedRegion::attach(unsized.name(), 4096);
          static_cast<volatile char*>(region.data())[0] = 1;  // as any user of the region would
        } catch (const std::runtime_error& e) {
          result = "runtime_error";
        }
        if (ipclab::open_descriptors() != descriptors) {
          result += "; " + ipclab::describe(descriptors) + " before, " + ipclab::describe(ipclab::open_descriptors()) +
                    " after the failed attach";
        }
        return result;
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), "attaching 4096 bytes of an object of 0 bytes: ", outcome.describe(),
                  bus_error_note(outcome));
  CHECK_MESSAGE(outcome.value == "runtime_error",
                "attaching 4096 bytes of an object of 0 bytes should throw std::runtime_error and close its "
                "descriptor; got: ",
                outcome.value);
}

TEST_CASE("attach reports a region that does not exist") {
  const std::string name = ipclab::unique_ipc_name("missing");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          shmlab::SharedRegion region = shmlab::SharedRegion::attach(name, 4096);
        } catch (const std::system_error& e) {
          return e.code() == std::errc::no_such_file_or_directory ? std::string("ENOENT") : e.what();
        }
        return std::string("no exception");
      },
      kDeadline);
  REQUIRE_RETURNED(outcome);
  CHECK_MESSAGE(outcome.value == "ENOENT", "expected std::system_error with errno ENOENT, got: ", outcome.value);
  CHECK_FALSE_MESSAGE(object_exists(name), "attach must not create the object");
}

TEST_CASE("create refuses an existing name and leaves that region alone") {
  TestObject existing(ipclab::unique_ipc_name("taken"), 100, "the first owner's data");
  REQUIRE(existing.made());
  const std::string before = existing.state(22);
  Outcome outcome = ipclab::run_in_child(
      [&] {
        try {
          shmlab::SharedRegion region = shmlab::SharedRegion::create(existing.name(), 4096);
        } catch (const std::system_error& e) {
          return e.code() == std::errc::file_exists ? std::string("EEXIST") : e.what();
        }
        return std::string("no exception");
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe(), bus_error_note(outcome));
  CHECK_MESSAGE(outcome.value == "EEXIST", "expected std::system_error with errno EEXIST, got: ", outcome.value);
  CHECK_MESSAGE(object_exists(existing.name()), "the failed create unlinked ", object_path(existing.name()),
                ", an object it did not create");
  CHECK_MESSAGE(existing.state(22) == before, "the existing object changed (size:content): before ", before,
                ", after ", existing.state(22));
}

TEST_CASE("a region's destructor unmaps it and closes its descriptor") {
  const std::string name = ipclab::unique_ipc_name("unmapped");
  Outcome outcome = ipclab::run_in_child(
      [&] {
        const auto descriptors = ipclab::open_descriptors();
        std::string report;
        {
          shmlab::SharedRegion created = shmlab::SharedRegion::create(name, 8192);
          shmlab::SharedRegion attached = shmlab::SharedRegion::attach(name, 8192);
          if (ipclab::open_descriptors() != descriptors) {
            report += "with the regions mapped, " + ipclab::describe(ipclab::open_descriptors()) + " (before: " +
                      ipclab::describe(descriptors) + "): close the descriptor once mmap has returned. ";
          }
        }
        for (const auto& mapping : ipclab::mappings_containing(object_path(name))) {
          report += "after both destructors, still mapped: " + mapping + " (no munmap?). ";
        }
        if (ipclab::open_descriptors() != descriptors) {
          report += "after both destructors, " + ipclab::describe(ipclab::open_descriptors()) + ". ";
        }
        return report;
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe(), bus_error_note(outcome));
  CHECK_MESSAGE(outcome.value == "", outcome.value);
}

TEST_CASE("only the creator's destructor removes the region from /dev/shm") {
  const std::string name = ipclab::unique_ipc_name("owned");
  ipclab::Flag created, attacher_done;
  ipclab::Child creator([&] {
    {
      shmlab::SharedRegion region = shmlab::SharedRegion::create(name, 4096);
      created.raise();
      if (!attacher_done.wait(kDeadline)) return std::string("the attacher never finished");
    }
    return std::string(object_exists(name) ? "left" : "removed");
  });
  if (!ipclab::wait_for(created, creator, kDeadline)) FAIL("the creator: ", creator.finish(kDeadline).describe());
  Outcome attached = ipclab::run_in_child(
      [&] {
        { shmlab::SharedRegion region = shmlab::SharedRegion::attach(name, 4096); }
        return std::string(object_exists(name) ? "left" : "removed");
      },
      kDeadline);
  attacher_done.raise();
  Outcome finished = creator.finish(kDeadline);
  REQUIRE_RETURNED(attached, "the attacher: ");
  REQUIRE_RETURNED(finished, "the creator: ");
  CHECK_MESSAGE(attached.value == "left", "the attacher's destructor removed ", object_path(name),
                " while its creator was still using it: only the creator may unlink it");
  CHECK_MESSAGE(finished.value == "removed", "the creator's destructor left ", object_path(name),
                " behind: it must shm_unlink the name it created");
}

// ---- Part 3: a bounded buffer ---------------------------------------------------------

TEST_CASE("items come out in the order they were put") {
  const std::vector<std::string> items = {"first", "second", "third", "a fourth, longer item", "5", "six", "seven",
                                          "the eighth and last item"};
  BufferOwner owner(ipclab::unique_ipc_name("order"), 8, 32);
  const std::string created = owner.wait_created();
  if (!created.empty()) FAIL(created);
  ipclab::Child consumer([&] {
    shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::attach(owner.name(), 8, 32);
    std::string got;
    for (std::size_t i = 0; i < items.size(); ++i) got += buffer.get() + "|";
    return got;
  });
  (void)ipclab::wait_until_blocked(consumer.pid(), 1s);  // the consumer comes first, to an empty buffer
  Outcome produced = ipclab::run_in_child(
      [&] {
        shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::attach(owner.name(), 8, 32);
        for (const std::string& item : items) buffer.put(item);
        return std::string();
      },
      kDeadline);
  Outcome consumed = consumer.finish(kDeadline);
  Outcome owned = owner.finish();
  REQUIRE_RETURNED(produced, "the producer: ");
  REQUIRE_RETURNED(consumed, "the consumer: ");
  REQUIRE_RETURNED(owned, "the owner: ");
  std::string expected;
  for (const std::string& item : items) expected += item + "|";
  CHECK_MESSAGE(consumed.value == expected, "the consumer got (items separated by |): ", consumed.value);
}

TEST_CASE("items of any length up to a slot keep their length") {
  const std::string name = ipclab::unique_ipc_name("lengths");
  const std::vector<std::string> items = {"", std::string(1, '\0'), std::string("fifteen bytes!!"),
                                          std::string("sixteen\0bytes\0!!", 16)};
  Outcome outcome = ipclab::run_in_child(
      [&] {
        shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::create(name, 8, 16);
        buffer.put(items[0]);
        buffer.put(items[1]);
        std::string report;
        try {
          buffer.put("seventeen bytes!!");
          report += "put of 17 bytes into slots of 16 did not throw. ";
        } catch (const std::invalid_argument&) {
        }
        buffer.put(items[2]);
        buffer.put(items[3]);
        for (std::size_t i = 0; i < items.size(); ++i) {
          const std::string got = buffer.get();
          if (got != items[i]) {
            report += "get #" + std::to_string(i) + " returned " + std::to_string(got.size()) + " bytes, not the " +
                      std::to_string(items[i].size()) + " put: " + ipclab::first_difference(items[i], got) + ". ";
          }
        }
        return report;
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe(), bus_error_note(outcome));
  CHECK_MESSAGE(outcome.value == "", outcome.value);
}

TEST_CASE("put and get wrap around to the first slot after the last") {
  const std::string name = ipclab::unique_ipc_name("wrap");
  constexpr std::size_t kSlots = 4, kSlotSize = 16, kRounds = 3;
  Outcome outcome = ipclab::run_in_child(
      [&] {
        shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::create(name, kSlots, kSlotSize);
        // Each round fills the buffer and empties it again: 12 items through 4 slots.
        const std::string tag = std::to_string(::getpid() % 100000);
        std::vector<std::string> last_round;
        std::string report;
        for (std::size_t round = 0; round < kRounds; ++round) {
          last_round.clear();
          for (std::size_t slot = 0; slot < kSlots; ++slot) {
            std::string item = "r" + std::to_string(round) + "s" + std::to_string(slot) + "-" + tag + "-";
            item.resize(kSlotSize, '#');
            buffer.put(item);
            last_round.push_back(item);
          }
          for (const std::string& item : last_round) {
            const std::string got = buffer.get();
            if (got != item && report.empty()) report = "get returned \"" + got + "\", not \"" + item + "\". ";
          }
        }
        // A ring keeps its items in its slots, inside the region: the last
        // round's items are all there, in the region's own bytes.
        const int fd = ::shm_open(name.c_str(), O_RDONLY, 0);
        struct stat object {};
        if (fd < 0 || ::fstat(fd, &object) != 0 || object.st_size <= 0) {
          return report + "the test could not open /dev/shm" + name;
        }
        const auto size = static_cast<std::size_t>(object.st_size);
        void* at = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        ::close(fd);
        if (at == MAP_FAILED) return report + "the test could not map /dev/shm" + name;
        const std::string region(static_cast<const char*>(at), size);
        ::munmap(at, size);
        std::size_t outside = 0;
        for (const std::string& item : last_round) outside += region.find(item) == std::string::npos;
        if (outside > 0) {
          report += "after " + std::to_string(kRounds * kSlots) + " items through a buffer of " +
                    std::to_string(kSlots) + " slots, " + std::to_string(outside) + " of the last " +
                    std::to_string(kSlots) + " items put are nowhere in the region's " + std::to_string(size) +
                    " bytes (/dev/shm" + name + "): they were written past its end. After the last slot, `in` "
                    "and `out` must wrap around to slot 0 (the slots go 0, 1, 2, 3, 0, 1, ...)";
        }
        return report;
      },
      kDeadline);
  REQUIRE_MESSAGE(outcome.ok(), outcome.describe(), bus_error_note(outcome));
  CHECK_MESSAGE(outcome.value.empty(), outcome.value);
}

TEST_CASE("get blocks on an empty buffer without using the CPU until a put") {
  BufferOwner owner(ipclab::unique_ipc_name("empty"), 4, 16);
  const std::string created = owner.wait_created();
  if (!created.empty()) FAIL(created);
  ipclab::Child consumer([&] { return shmlab::BoundedBuffer::attach(owner.name(), 4, 16).get(); });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(consumer.pid());
  CHECK_MESSAGE(blocked.yes, "get() on an empty buffer must sleep until a put(): ", blocked.evidence);
  Outcome produced = ipclab::run_in_child(
      [&] {
        shmlab::BoundedBuffer::attach(owner.name(), 4, 16).put("wake up");
        return std::string();
      },
      kDeadline);
  Outcome consumed = consumer.finish(kDeadline);
  Outcome owned = owner.finish();
  REQUIRE_RETURNED(produced, "the producer: ");
  REQUIRE_RETURNED(consumed, "the consumer: ");
  REQUIRE_RETURNED(owned, "the owner: ");
  CHECK(consumed.value == "wake up");
}

TEST_CASE("put blocks on a full buffer without using the CPU until a get") {
  BufferOwner owner(ipclab::unique_ipc_name("full"), 4, 16);
  const std::string created = owner.wait_created();
  if (!created.empty()) FAIL(created);
  ipclab::Child producer([&] {
    shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::attach(owner.name(), 4, 16);
    for (int i = 0; i < 5; ++i) buffer.put("item " + std::to_string(i));
    return std::string();
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(producer.pid());
  CHECK_MESSAGE(blocked.yes, "4 items fill a buffer of 4 slots, so the 5th put() must sleep until a get(): ",
                blocked.evidence);
  Outcome consumed = ipclab::run_in_child(
      [&] {
        shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::attach(owner.name(), 4, 16);
        std::string got;
        for (int i = 0; i < 5; ++i) got += buffer.get() + "|";
        return got;
      },
      kDeadline);
  Outcome produced = producer.finish(kDeadline);
  Outcome owned = owner.finish();
  REQUIRE_RETURNED(produced, "the producer: ");
  REQUIRE_RETURNED(consumed, "the consumer: ");
  REQUIRE_RETURNED(owned, "the owner: ");
  CHECK_MESSAGE(consumed.value == "item 0|item 1|item 2|item 3|item 4|", "the consumer got: ", consumed.value);
}

TEST_CASE("a million items pass in order exactly once") {
  // Room for every item, so neither side waits on the other for long: a
  // million waits and wake-ups would take longer than the test's deadline on
  // a busy machine. Wrapping round a small buffer is tested elsewhere.
  constexpr std::uint64_t kItems = 1000000, kSlots = 1 << 20;
  BufferOwner owner(ipclab::unique_ipc_name("million"), kSlots, 8);
  const std::string created = owner.wait_created();
  if (!created.empty()) FAIL(created);
  ipclab::Child consumer([&] { return consume_in_order(owner.name(), kSlots, 8, kItems); });
  (void)ipclab::wait_until_blocked(consumer.pid(), 2s);  // the consumer comes first, to an empty buffer
  ipclab::Child producer([&] { return produce_in_order(owner.name(), kSlots, 8, kItems); });
  Outcome produced = producer.finish(kDeadline);
  Outcome consumed = consumer.finish(kDeadline);
  Outcome owned = owner.finish();
  REQUIRE_RETURNED(consumed, "the consumer: ");
  REQUIRE_RETURNED(produced, "the producer: ");
  REQUIRE_RETURNED(owned, "the owner: ");
  CHECK_MESSAGE(consumed.value == produced.value, "the consumer's checksum differs from the producer's: ",
                consumed.value);
}

TEST_CASE("the creator removes the buffer's region and semaphores and attachers remove nothing") {
  ipclab::private_dev_shm();  // count only what this test makes
  const auto before = ipclab::IpcObjects::now();
  BufferOwner owner(ipclab::unique_ipc_name("tidy"), 4, 16);
  const std::string created = owner.wait_created();
  if (!created.empty()) FAIL(created);
  const auto made = ipclab::IpcObjects::now().created_since(before);
  Outcome attached = ipclab::run_in_child(
      [&] {
        shmlab::BoundedBuffer buffer = shmlab::BoundedBuffer::attach(owner.name(), 4, 16);
        buffer.put("x");
        return buffer.get();
      },
      kDeadline);
  const auto after_attacher = ipclab::IpcObjects::now().created_since(before);
  Outcome owned = owner.finish();
  const auto left = ipclab::IpcObjects::now().created_since(before);
  REQUIRE_RETURNED(attached, "the attacher: ");
  REQUIRE_RETURNED(owned, "the owner: ");
  CHECK_MESSAGE(attached.value == "x", "the attacher put x and got back: ", attached.value);
  CHECK_MESSAGE(made.size() >= 3, ipclab::leak_report("BoundedBuffer::create made only", made),
                ": a region and its semaphores were expected in /dev/shm");
  CHECK_MESSAGE(after_attacher == made, "an attacher's destructor removed objects its creator still uses: ",
                ipclab::leak_report("made by the creator", made), "; ",
                ipclab::leak_report("there after the attacher", after_attacher));
  CHECK_MESSAGE(left.empty(), ipclab::leak_report("after the creator was gone, IPC objects left behind", left));
}

}  // TEST_SUITE
