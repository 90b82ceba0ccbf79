#pragma once
// What the shm lab's tests share: objects the test makes itself with plain
// POSIX calls (so a test never depends on the code it grades), items that
// reveal a lost, repeated or reordered item, a child that owns a buffer
// while the test's producers and consumers attach to it, and the consumer
// pause that makes a producer which does not wait for free slots overrun
// the buffer in every run, not by bad luck.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/children.h"
#include "grader/harness/deadline.h"
#include "grader/harness/shared.h"
#include "labs/shm/shm_lab.h"

namespace shmlab::testing {

using namespace std::chrono_literals;

// Reaching it means a hang: usually a missing V().
using ipclab::kDeadline;

// How long a consumer pauses after its first item. A producer that does not
// wait for free slots fills the whole buffer and goes round again within it,
// even with both cores busy; a correct one just waits.
inline constexpr auto kPause = std::chrono::milliseconds(200);

// ---- objects the test makes itself -------------------------------------------

[[nodiscard]] inline std::string object_path(const std::string& name) { return "/dev/shm" + name; }

[[nodiscard]] inline bool object_exists(const std::string& name) {
  return ::access(object_path(name).c_str(), F_OK) == 0;
}

// A shared memory object made with shm_open (and, if size > 0, ftruncate and
// write), unlinked when the test ends.
class TestObject {
 public:
  TestObject(std::string name, std::size_t size, const std::string& content = "") : name_(std::move(name)) {
    const int fd = ::shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    made_ = fd >= 0 && ::ftruncate(fd, static_cast<off_t>(size)) == 0 &&
            ::pwrite(fd, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size());
    if (fd >= 0) ::close(fd);
  }
  TestObject(const TestObject&) = delete;
  TestObject& operator=(const TestObject&) = delete;
  ~TestObject() { ::shm_unlink(name_.c_str()); }

  [[nodiscard]] bool made() const { return made_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  // Its size and first `length` bytes now, as "SIZE:CONTENT".
  [[nodiscard]] std::string state(std::size_t length) const {
    const int fd = ::shm_open(name_.c_str(), O_RDONLY, 0);
    if (fd < 0) return "gone";
    struct stat about {};
    ::fstat(fd, &about);
    std::string content(length, '\0');
    const ssize_t got = ::pread(fd, content.data(), length, 0);
    ::close(fd);
    content.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    return std::to_string(about.st_size) + ":" + content;
  }

 private:
  std::string name_;
  bool made_ = false;
};

// ---- items -----------------------------------------------------------------------

// Item number n: its 8 bytes, so every item differs from every other.
[[nodiscard]] inline std::string item_of(std::uint64_t n) {
  std::string item(sizeof n, '\0');
  std::memcpy(item.data(), &n, sizeof n);
  return item;
}

// "#n" for an item made by item_of, or a description of anything else.
[[nodiscard]] inline std::string describe_item(const std::string& item) {
  if (item.size() != sizeof(std::uint64_t)) return "an item of " + std::to_string(item.size()) + " bytes";
  std::uint64_t n = 0;
  std::memcpy(&n, item.data(), sizeof n);
  return "#" + std::to_string(n);
}

// FNV-1a over every byte of every item, in order.
struct Checksum {
  std::uint64_t value = 14695981039346656037ULL;
  void add(const std::string& item) {
    for (unsigned char c : item) value = (value ^ c) * 1099511628211ULL;
  }
};

// ---- a buffer and its owner ---------------------------------------------------

// A child that creates the buffer and keeps it until finish(): the owner, as
// a server would be. The test's producers and consumers attach to it.
class BufferOwner {
 public:
  BufferOwner(std::string name, std::size_t slots, std::size_t slot_size)
      : name_(std::move(name)), child_([this, slots, slot_size] {
          BoundedBuffer buffer = BoundedBuffer::create(name_, slots, slot_size);
          created_.raise();
          return std::string(done_.wait(3 * kDeadline) ? "" : "the owner was never told to finish");
        }) {}

  [[nodiscard]] const std::string& name() const { return name_; }
  // "" once the buffer exists; otherwise what happened to create.
  [[nodiscard]] std::string wait_created() {
    if (ipclab::wait_for(created_, child_, kDeadline)) return "";
    return "BoundedBuffer::create did not return: " + child_.finish(kDeadline).describe();
  }
  // Tells the owner to finish (its buffer is destroyed) and waits for it.
  [[nodiscard]] ipclab::Outcome finish() {
    done_.raise();
    return child_.finish(kDeadline);
  }

 private:
  std::string name_;
  ipclab::Flag created_, done_;
  ipclab::Child child_;  // last: its body uses the members above
};

// Attaches to the buffer and gets `count` items, expecting item_of(first),
// item_of(first + 1), ...; pauses kPause after the first. Returns the
// checksum of what it got, or the first item that was wrong.
[[nodiscard]] inline std::string consume_in_order(const std::string& name, std::size_t slots, std::size_t slot_size,
                                                  std::uint64_t count, std::uint64_t first = 0) {
  BoundedBuffer buffer = BoundedBuffer::attach(name, slots, slot_size);
  Checksum checksum;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string item = buffer.get();
    if (item != item_of(first + i)) {
      return "item " + std::to_string(i) + ": expected #" + std::to_string(first + i) + ", got " + describe_item(item) +
             " (items lost, repeated or overwritten before they were read)";
    }
    checksum.add(item);
    if (i == 0) std::this_thread::sleep_for(kPause);
  }
  return std::to_string(checksum.value);
}

// Attaches to the buffer and puts item_of(first) ... item_of(first + count - 1);
// returns the checksum of what it put.
[[nodiscard]] inline std::string produce_in_order(const std::string& name, std::size_t slots, std::size_t slot_size,
                                                  std::uint64_t count, std::uint64_t first = 0) {
  BoundedBuffer buffer = BoundedBuffer::attach(name, slots, slot_size);
  Checksum checksum;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::string item = item_of(first + i);
    buffer.put(item);
    checksum.add(item);
  }
  return std::to_string(checksum.value);
}

}  // namespace shmlab::testing
