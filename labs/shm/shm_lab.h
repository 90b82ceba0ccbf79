#pragma once
// Lab `shm` — POSIX shared memory, synchronised with kernel semaphores.
//
// Shared memory is to processes what global variables are to threads: one
// piece of memory mapped into the address space of several processes, which
// then read and write it with ordinary pointer operations. Nothing is copied
// through the kernel — and nothing is synchronised either: a reader may run
// before the writer has written, or read half of what it is writing.
// Synchronisation is now the processes' own job, done with semaphores.
//
// In this lab you build, in shm_lab.cpp:
//
//   1. NamedSemaphore  a small RAII handle on a named semaphore (P and V);
//   2. SharedRegion    a named shared memory object, created (and sized) or
//                      attached, and mapped; RAII;
//   3. BoundedBuffer   on a region: a ring of fixed-size slots that producer
//                      processes put items into and consumer processes get
//                      them from, in order — the lecture's producer–consumer.
//
// This header is the contract the tests use: do not change it.
//
// Facts you will need (man 7 shm_overview, man 3 shm_open, man 2 ftruncate,
// man 2 mmap, man 2 fstat, man 7 sem_overview):
//   * shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600) creates an object of
//     size 0 (EEXIST if the name is taken); shm_open(name, O_RDWR, 0) opens
//     an existing one (ENOENT if there is none). The object "/x" appears as
//     the file /dev/shm/x.
//   * ftruncate(fd, size) gives the object its size. Until then it has none,
//     and touching a mapped page past the object's end kills the process with
//     SIGBUS. So the creator sizes the object before anybody uses it, and an
//     attacher checks the size with fstat (st_size) before it maps.
//   * mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) maps it.
//     mmap returns MAP_FAILED, not nullptr, on failure. Once mapped, the
//     descriptor is no longer needed: close it; the mapping stays.
//     munmap(address, size) unmaps.
//   * shm_unlink(name) removes the name at once; the memory lives on until
//     the last mapping of it goes. As with semaphores, whoever creates the
//     object unlinks it: "cleanup via unlink".
//   * Named semaphores: sem_open(name, O_CREAT | O_EXCL, 0600, value) creates,
//     sem_open(name, 0) opens (both return SEM_FAILED on failure); sem_wait is
//     P (retry it after EINTR), sem_post is V; sem_close, sem_unlink. The
//     semaphore "/x-free" appears as /dev/shm/sem.x-free.
//   * fork() keeps mappings and semaphore handles: a child may use an object
//     its parent mapped or opened before the fork.
//
// Why named semaphores? This lab follows the lecture: each buffer has its
// own semaphores, known by names derived from the buffer's name, which any
// process can open — and which, like the region, must be unlinked. (Unnamed
// semaphores placed inside the region with sem_init(&s, 1, value) would
// work too, and go with the region; they are not used here.)
//
// Errors: a failing system call is reported by throwing std::system_error
// with its errno (std::system_error(errno, std::generic_category(), "mmap")).

#include <semaphore.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace shmlab {

// ---- Part 1: a named semaphore --------------------------------------------

// One named semaphore, opened in this process. The object that created it
// owns the name: its destructor closes AND unlinks it; one that opened an
// existing semaphore only closes it. Movable (the moved-from object then
// does nothing when destroyed), not copyable.
class NamedSemaphore {
 public:
  // Creates `name` with the initial value `value`; EEXIST if it exists.
  [[nodiscard]] static NamedSemaphore create(const std::string& name, unsigned int value);
  // Opens the existing semaphore `name`; ENOENT if there is none.
  [[nodiscard]] static NamedSemaphore open(const std::string& name);

  NamedSemaphore(NamedSemaphore&& other) noexcept;
  NamedSemaphore& operator=(NamedSemaphore&& other) noexcept;
  NamedSemaphore(const NamedSemaphore&) = delete;
  NamedSemaphore& operator=(const NamedSemaphore&) = delete;
  ~NamedSemaphore();

  void P();  // sem_wait: sleeps while the value is 0; waits again after EINTR
  void V();  // sem_post

 private:
  NamedSemaphore(sem_t* handle, std::string name, bool owner);

  sem_t* handle_ = nullptr;  // nullptr once moved from
  std::string name_;
  bool owner_ = false;
};

// ---- Part 2: a shared region ----------------------------------------------

// A named shared memory object, mapped into this process.
//
//   // process 1                                   // process 2
//   auto region = SharedRegion::create("/r", 64);  auto region = SharedRegion::attach("/r", 64);
//   std::memcpy(region.data(), "hello", 6);        // ... once told it is there:
//                                                  std::puts(static_cast<char*>(region.data()));
//
// The creator owns the name: its destructor unmaps the region and unlinks
// the name. An attacher's destructor only unmaps. No descriptor stays open
// once create or attach has returned.
class SharedRegion {
 public:
  // Creates the object `name` (EEXIST if it exists, and then leaves that
  // object alone), sizes it to `size` bytes (size > 0, else
  // std::invalid_argument) and maps it. If any step after shm_open fails,
  // create throws std::system_error and leaves nothing behind: no name in
  // /dev/shm, no mapping, no open descriptor.
  [[nodiscard]] static SharedRegion create(const std::string& name, std::size_t size);

  // Attaches to the existing object `name` and maps its first `size` bytes
  // (the size creator and attacher agreed on). Throws std::system_error
  // (ENOENT) if there is no such object, and std::runtime_error — rather
  // than letting the first touch die of SIGBUS — if the object is smaller
  // than `size` (for example because its creator has not sized it yet).
  // Either way it leaves no descriptor open.
  [[nodiscard]] static SharedRegion attach(const std::string& name, std::size_t size);

  SharedRegion(SharedRegion&& other) noexcept;
  SharedRegion& operator=(SharedRegion&& other) noexcept;
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();  // munmap; and shm_unlink if this object created it

  [[nodiscard]] void* data() const { return data_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  SharedRegion(std::string name, void* data, std::size_t size, bool owner);

  std::string name_;
  void* data_ = nullptr;  // nullptr when nothing is mapped
  std::size_t size_ = 0;
  bool owner_ = false;  // created it, so unlinks it
};

// ---- Part 3: a bounded buffer between processes ---------------------------------

// A ring of `slots` slots of `slot_size` bytes each, in the shared region
// `name`, that any number of producer processes put items into and any
// number of consumer processes get them from, first in, first out. An item
// is any string of at most `slot_size` bytes, the empty one included.
//
// Synchronisation, as in the lecture's producer–consumer, with semaphores
// named after the buffer:
//
//   NAME-free   "slot free":  starts at `slots`; put P()s it, get V()s it;
//   NAME-ready  "data ready": starts at 0;       get P()s it, put V()s it;
//   NAME-put    a mutex (starts at 1) for producers: where the next item goes;
//   NAME-get    a mutex (starts at 1) for consumers: where the next item is.
//
//   put(item):  P(free);  P(put);  copy item into slot `in`, advance `in`;  V(put);  V(ready);
//   get():      P(ready); P(get);  copy the item out of slot `out`, advance `out`;  V(get);  V(free);
//
// "free" and "ready" count the slots on each side, so put sleeps while the
// buffer is full and get while it is empty — never a busy-wait on a count in
// shared memory. The two mutexes matter when several producers (or
// consumers) share the buffer: each needs a slot of its own. The indices
// `in` and `out`, each slot's item length, and whatever else every process
// must agree on live in the region; its layout is yours.
class BoundedBuffer {
 public:
  // Creates the region and the four semaphores; this object owns all five
  // names (its destructor unlinks them). slots and slot_size must be > 0,
  // else std::invalid_argument.
  [[nodiscard]] static BoundedBuffer create(const std::string& name, std::size_t slots, std::size_t slot_size);
  // Attaches, in another process, to the buffer `name` created with the same
  // slots and slot_size; unlinks nothing.
  [[nodiscard]] static BoundedBuffer attach(const std::string& name, std::size_t slots, std::size_t slot_size);

  // Puts one item; sleeps while the buffer is full. An item longer than
  // slot_size throws std::invalid_argument and puts nothing.
  void put(std::string_view item);
  // Gets the oldest item; sleeps while the buffer is empty.
  [[nodiscard]] std::string get();

 private:
  BoundedBuffer(SharedRegion region, NamedSemaphore free, NamedSemaphore ready, NamedSemaphore put_lock,
                NamedSemaphore get_lock, std::size_t slots, std::size_t slot_size);

  SharedRegion region_;
  NamedSemaphore free_, ready_, put_lock_, get_lock_;
  std::size_t slots_ = 0, slot_size_ = 0;
};

}  // namespace shmlab
