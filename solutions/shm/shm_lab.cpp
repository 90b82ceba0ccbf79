// Lab `shm`: the reference implementation.
#include "labs/shm/shm_lab.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace shmlab {
namespace {

[[noreturn]] void throw_errno(const char* call) { throw std::system_error(errno, std::generic_category(), call); }

// Owns a descriptor until the end of the function that opened it: create
// and attach close it on every path, the mapping does not need it.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

void* map_shared(int fd, std::size_t size) {
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) throw_errno("mmap");
  return data;
}

}  // namespace

// ---- Part 1 -----------------------------------------------------------------

NamedSemaphore::NamedSemaphore(sem_t* handle, std::string name, bool owner)
    : handle_(handle), name_(std::move(name)), owner_(owner) {}

NamedSemaphore NamedSemaphore::create(const std::string& name, unsigned int value) {
  sem_t* handle = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, value);
  if (handle == SEM_FAILED) throw_errno("sem_open(O_CREAT | O_EXCL)");
  return NamedSemaphore(handle, name, true);
}

NamedSemaphore NamedSemaphore::open(const std::string& name) {
  sem_t* handle = ::sem_open(name.c_str(), 0);
  if (handle == SEM_FAILED) throw_errno("sem_open");
  return NamedSemaphore(handle, name, false);
}

NamedSemaphore::NamedSemaphore(NamedSemaphore&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      name_(std::move(other.name_)),
      owner_(std::exchange(other.owner_, false)) {}

NamedSemaphore& NamedSemaphore::operator=(NamedSemaphore&& other) noexcept {
  std::swap(handle_, other.handle_);
  std::swap(name_, other.name_);
  std::swap(owner_, other.owner_);
  return *this;
}

NamedSemaphore::~NamedSemaphore() {
  if (handle_ == nullptr) return;
  ::sem_close(handle_);
  if (owner_) ::sem_unlink(name_.c_str());
}

void NamedSemaphore::P() {
  while (::sem_wait(handle_) != 0) {
    if (errno != EINTR) throw_errno("sem_wait");
  }
}

void NamedSemaphore::V() {
  if (::sem_post(handle_) != 0) throw_errno("sem_post");
}

// ---- Part 2 -----------------------------------------------------------------

SharedRegion::SharedRegion(std::string name, void* data, std::size_t size, bool owner)
    : name_(std::move(name)), data_(data), size_(size), owner_(owner) {}

SharedRegion SharedRegion::create(const std::string& name, std::size_t size) {
  if (size == 0) throw std::invalid_argument("SharedRegion::create: size 0");
  const Fd fd(::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600));
  if (fd.get() < 0) throw_errno("shm_open(O_CREAT | O_EXCL)");
  // The name is ours from here on: if sizing or mapping fails, this object's
  // destructor unlinks it again.
  SharedRegion region(name, nullptr, 0, true);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) throw_errno("ftruncate");
  region.data_ = map_shared(fd.get(), size);
  region.size_ = size;
  return region;
}

SharedRegion SharedRegion::attach(const std::string& name, std::size_t size) {
  const Fd fd(::shm_open(name.c_str(), O_RDWR, 0));
  if (fd.get() < 0) throw_errno("shm_open");
  struct stat about {};
  if (::fstat(fd.get(), &about) != 0) throw_errno("fstat");
  if (static_cast<std::size_t>(about.st_size) < size) {
    throw std::runtime_error("shared memory object " + name + " has " + std::to_string(about.st_size) +
                             " bytes, fewer than the " + std::to_string(size) +
                             " agreed on: has its creator sized it with ftruncate yet?");
  }
  return SharedRegion(name, map_shared(fd.get(), size), size, false);
}

SharedRegion::SharedRegion(SharedRegion&& other) noexcept
    : name_(std::move(other.name_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      owner_(std::exchange(other.owner_, false)) {}

SharedRegion& SharedRegion::operator=(SharedRegion&& other) noexcept {
  std::swap(name_, other.name_);
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(owner_, other.owner_);
  return *this;
}

SharedRegion::~SharedRegion() {
  if (data_ != nullptr) ::munmap(data_, size_);
  if (owner_) ::shm_unlink(name_.c_str());
}

// ---- Part 3 -----------------------------------------------------------------
//
// The region: the two indices, each on a cache line of its own (producers
// write one, consumers the other), then the slots, each the item's length
// followed by room for slot_size bytes.

namespace {

struct alignas(64) Index {
  std::size_t next;  // the slot the next item goes into (in) or comes from (out)
};

struct Layout {
  Index in, out;
};

struct SlotHead {
  std::uint32_t length;
};

std::size_t slot_stride(std::size_t slot_size) {
  const std::size_t bytes = sizeof(SlotHead) + slot_size;
  return (bytes + alignof(SlotHead) - 1) / alignof(SlotHead) * alignof(SlotHead);
}

std::size_t region_size(std::size_t slots, std::size_t slot_size) {
  return sizeof(Layout) + slots * slot_stride(slot_size);
}

void check_geometry(std::size_t slots, std::size_t slot_size) {
  if (slots == 0 || slot_size == 0) throw std::invalid_argument("BoundedBuffer: slots and slot_size must be > 0");
}

Layout& layout_of(const SharedRegion& region) { return *static_cast<Layout*>(region.data()); }

SlotHead& slot_at(const SharedRegion& region, std::size_t index, std::size_t slot_size) {
  auto* first = static_cast<unsigned char*>(region.data()) + sizeof(Layout);
  return *reinterpret_cast<SlotHead*>(first + index * slot_stride(slot_size));
}

unsigned char* bytes_of(SlotHead& slot) { return reinterpret_cast<unsigned char*>(&slot + 1); }

}  // namespace

BoundedBuffer::BoundedBuffer(SharedRegion region, NamedSemaphore free, NamedSemaphore ready, NamedSemaphore put_lock,
                             NamedSemaphore get_lock, std::size_t slots, std::size_t slot_size)
    : region_(std::move(region)),
      free_(std::move(free)),
      ready_(std::move(ready)),
      put_lock_(std::move(put_lock)),
      get_lock_(std::move(get_lock)),
      slots_(slots),
      slot_size_(slot_size) {}

BoundedBuffer BoundedBuffer::create(const std::string& name, std::size_t slots, std::size_t slot_size) {
  check_geometry(slots, slot_size);
  // ftruncate fills the region with zeros: in = out = 0, every slot empty.
  return BoundedBuffer(SharedRegion::create(name, region_size(slots, slot_size)),
                       NamedSemaphore::create(name + "-free", static_cast<unsigned int>(slots)),
                       NamedSemaphore::create(name + "-ready", 0), NamedSemaphore::create(name + "-put", 1),
                       NamedSemaphore::create(name + "-get", 1), slots, slot_size);
}

BoundedBuffer BoundedBuffer::attach(const std::string& name, std::size_t slots, std::size_t slot_size) {
  check_geometry(slots, slot_size);
  return BoundedBuffer(SharedRegion::attach(name, region_size(slots, slot_size)), NamedSemaphore::open(name + "-free"),
                       NamedSemaphore::open(name + "-ready"), NamedSemaphore::open(name + "-put"),
                       NamedSemaphore::open(name + "-get"), slots, slot_size);
}

void BoundedBuffer::put(std::string_view item) {
  if (item.size() > slot_size_) {
    throw std::invalid_argument("put: an item of " + std::to_string(item.size()) + " bytes, slots hold " +
                                std::to_string(slot_size_));
  }
  free_.P();
  put_lock_.P();
  Index& in = layout_of(region_).in;
  SlotHead& slot = slot_at(region_, in.next, slot_size_);
  slot.length = static_cast<std::uint32_t>(item.size());
  std::memcpy(bytes_of(slot), item.data(), item.size());
  in.next = (in.next + 1) % slots_;
  put_lock_.V();
  ready_.V();
}

std::string BoundedBuffer::get() {
  ready_.P();
  get_lock_.P();
  Index& out = layout_of(region_).out;
  SlotHead& slot = slot_at(region_, out.next, slot_size_);
  std::string item(reinterpret_cast<const char*>(bytes_of(slot)), slot.length);
  out.next = (out.next + 1) % slots_;
  get_lock_.V();
  free_.V();
  return item;
}

}  // namespace shmlab
