// Lab `shm`: your implementation. Read shm_lab.h first: it says exactly what
// each function must do. Replace each `throw` below with your code.
//
// Check your work with:   ./grade shm
//
// Headers you will likely want: <sys/mman.h> (shm_open, shm_unlink, mmap,
// munmap), <sys/stat.h> (fstat), <fcntl.h> (O_CREAT, O_EXCL, O_RDWR),
// <unistd.h> (ftruncate, close), <semaphore.h> (sem_open, sem_wait, ...),
// <cerrno>, <cstring> (std::memcpy), <system_error>, <stdexcept>, <utility>.

#include "labs/shm/shm_lab.h"

#include <stdexcept>
#include <utility>

namespace shmlab {

// ---- Part 1: a named semaphore --------------------------------------------

NamedSemaphore::NamedSemaphore(sem_t* handle, std::string name, bool owner)
    : handle_(handle), name_(std::move(name)), owner_(owner) {}

NamedSemaphore NamedSemaphore::create(const std::string& /*name*/, unsigned int /*value*/) {
  // TODO: sem_open with O_CREAT | O_EXCL; SEM_FAILED means failure.
  throw std::logic_error("not implemented: NamedSemaphore::create (shm_lab.cpp)");
}

NamedSemaphore NamedSemaphore::open(const std::string& /*name*/) {
  // TODO: sem_open without O_CREAT.
  throw std::logic_error("not implemented: NamedSemaphore::open (shm_lab.cpp)");
}

NamedSemaphore::NamedSemaphore(NamedSemaphore&& /*other*/) noexcept {
  // TODO: take over other's handle, name and ownership; leave `other` with
  // nothing to close or unlink. (A noexcept function cannot throw, so this
  // one starts out empty.)
}

NamedSemaphore& NamedSemaphore::operator=(NamedSemaphore&& /*other*/) noexcept {
  // TODO: exchange everything with `other`.
  return *this;
}

NamedSemaphore::~NamedSemaphore() {
  // TODO: sem_close; sem_unlink too if this object created the semaphore.
}

void NamedSemaphore::P() {
  // TODO: sem_wait; wait again after EINTR.
  throw std::logic_error("not implemented: NamedSemaphore::P (shm_lab.cpp)");
}

void NamedSemaphore::V() {
  // TODO: sem_post.
  throw std::logic_error("not implemented: NamedSemaphore::V (shm_lab.cpp)");
}

// ---- Part 2: a shared region ----------------------------------------------

SharedRegion::SharedRegion(std::string name, void* data, std::size_t size, bool owner)
    : name_(std::move(name)), data_(data), size_(size), owner_(owner) {}

SharedRegion SharedRegion::create(const std::string& /*name*/, std::size_t /*size*/) {
  // TODO: shm_open(O_RDWR | O_CREAT | O_EXCL), ftruncate, mmap, close. If
  // ftruncate or mmap fails, shm_unlink the name and close the descriptor
  // before throwing.
  throw std::logic_error("not implemented: SharedRegion::create (shm_lab.cpp)");
}

SharedRegion SharedRegion::attach(const std::string& /*name*/, std::size_t /*size*/) {
  // TODO: shm_open(O_RDWR), fstat to check st_size >= size, mmap, close.
  throw std::logic_error("not implemented: SharedRegion::attach (shm_lab.cpp)");
}

SharedRegion::SharedRegion(SharedRegion&& /*other*/) noexcept {
  // TODO: take over the mapping and the ownership; leave `other` empty.
}

SharedRegion& SharedRegion::operator=(SharedRegion&& /*other*/) noexcept {
  // TODO: exchange everything with `other`.
  return *this;
}

SharedRegion::~SharedRegion() {
  // TODO: munmap what is mapped; shm_unlink the name if this object created it.
}

// ---- Part 3: a bounded buffer between processes ---------------------------------

BoundedBuffer::BoundedBuffer(SharedRegion region, NamedSemaphore free, NamedSemaphore ready, NamedSemaphore put_lock,
                             NamedSemaphore get_lock, std::size_t slots, std::size_t slot_size)
    : region_(std::move(region)),
      free_(std::move(free)),
      ready_(std::move(ready)),
      put_lock_(std::move(put_lock)),
      get_lock_(std::move(get_lock)),
      slots_(slots),
      slot_size_(slot_size) {}

BoundedBuffer BoundedBuffer::create(const std::string& /*name*/, std::size_t /*slots*/, std::size_t /*slot_size*/) {
  // TODO: decide the region's layout; create the region and NAME-free,
  // NAME-ready, NAME-put, NAME-get with their initial values.
  throw std::logic_error("not implemented: BoundedBuffer::create (shm_lab.cpp)");
}

BoundedBuffer BoundedBuffer::attach(const std::string& /*name*/, std::size_t /*slots*/, std::size_t /*slot_size*/) {
  // TODO: attach the region (same size as create computes) and open the
  // four semaphores.
  throw std::logic_error("not implemented: BoundedBuffer::attach (shm_lab.cpp)");
}

void BoundedBuffer::put(std::string_view /*item*/) {
  // TODO: P(free), P(put), copy into slot `in`, advance `in`, V(put), V(ready).
  throw std::logic_error("not implemented: BoundedBuffer::put (shm_lab.cpp)");
}

std::string BoundedBuffer::get() {
  // TODO: P(ready), P(get), copy out of slot `out`, advance `out`, V(get), V(free).
  throw std::logic_error("not implemented: BoundedBuffer::get (shm_lab.cpp)");
}

}  // namespace shmlab
