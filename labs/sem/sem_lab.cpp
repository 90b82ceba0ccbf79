// Lab `sem`: your implementation. Read sem_lab.h first: it says exactly what
// each function must do. Replace each `throw` below with your code.
//
// Check your work with:   ./grade sem
//
// Headers you will likely want: <semaphore.h> (sem_open, sem_wait, ...),
// <fcntl.h> (O_CREAT, O_EXCL), <time.h> (clock_gettime), <unistd.h> (fork,
// _exit, getpid), <sys/wait.h> (waitpid), <cerrno>, <system_error>,
// <stdexcept>, <utility> (std::exchange, std::swap).

#include "labs/sem/sem_lab.h"

#include <stdexcept>
#include <utility>

namespace semlab {

// ---- Part 1: a named semaphore --------------------------------------------

Semaphore::Semaphore(sem_t* handle, std::string name, bool owner)
    : handle_(handle), name_(std::move(name)), owner_(owner) {}

Semaphore Semaphore::create(const std::string& /*name*/, unsigned int /*value*/) {
  // TODO: sem_open with O_CREAT | O_EXCL; SEM_FAILED means failure (throw
  // std::system_error with errno). This object owns the name.
  throw std::logic_error("not implemented: Semaphore::create (sem_lab.cpp)");
}

Semaphore Semaphore::open(const std::string& /*name*/) {
  // TODO: sem_open without O_CREAT. This object does not own the name.
  throw std::logic_error("not implemented: Semaphore::open (sem_lab.cpp)");
}

Semaphore::Semaphore(Semaphore&& /*other*/) noexcept {
  // TODO: take over other's handle, name and ownership, and leave `other`
  // with nothing to close or unlink. (A noexcept function cannot throw, so
  // this one starts out empty.)
}

Semaphore& Semaphore::operator=(Semaphore&& /*other*/) noexcept {
  // TODO: exchange everything with `other`; its destructor then cleans up
  // what this object held before.
  return *this;
}

Semaphore::~Semaphore() {
  // TODO: if this object holds a handle, sem_close it, and sem_unlink the
  // name if this object created it. (A destructor must not throw.)
}

void Semaphore::P() {
  // TODO: sem_wait; wait again after EINTR.
  throw std::logic_error("not implemented: Semaphore::P (sem_lab.cpp)");
}

void Semaphore::V() {
  // TODO: sem_post.
  throw std::logic_error("not implemented: Semaphore::V (sem_lab.cpp)");
}

bool Semaphore::try_P() {
  // TODO: sem_trywait; EAGAIN means "would block": return false.
  throw std::logic_error("not implemented: Semaphore::try_P (sem_lab.cpp)");
}

bool Semaphore::P_for(std::chrono::milliseconds /*timeout*/) {
  // TODO: sem_timedwait with an absolute CLOCK_REALTIME deadline; ETIMEDOUT
  // means false.
  throw std::logic_error("not implemented: Semaphore::P_for (sem_lab.cpp)");
}

// ---- Part 2: ordering -------------------------------------------------------

void ping_pong(int /*rounds*/, const std::function<void(int)>& /*ping*/, const std::function<void(int)>& /*pong*/) {
  // TODO: two semaphores ("ping's turn" at 1, "pong's turn" at 0), two
  // children that each P() their own and V() the other's, then waitpid both.
  throw std::logic_error("not implemented: ping_pong (sem_lab.cpp)");
}

void run_in_order(const std::vector<std::function<void()>>& /*steps*/, const std::vector<std::vector<int>>& /*after*/) {
  // TODO: check `after`; one "done" semaphore per step, at 0; one child per
  // step; waitpid them all.
  throw std::logic_error("not implemented: run_in_order (sem_lab.cpp)");
}

// ---- Part 3: mutual exclusion ------------------------------------------------

void run_exclusively(int /*processes*/, int /*times*/, const std::function<void()>& /*critical_section*/) {
  // TODO: one semaphore at 1; each child calls critical_section between P()
  // and V(), `times` times; waitpid them all.
  throw std::logic_error("not implemented: run_exclusively (sem_lab.cpp)");
}

// ---- Part 4: a barrier ----------------------------------------------------------

Barrier::Barrier(std::vector<Semaphore> semaphores, int parties)
    : semaphores_(std::move(semaphores)), parties_(parties) {}

Barrier Barrier::create(const std::string& /*name*/, int /*parties*/) {
  // TODO: create the semaphores the barrier needs, named name + a suffix.
  throw std::logic_error("not implemented: Barrier::create (sem_lab.cpp)");
}

Barrier Barrier::open(const std::string& /*name*/, int /*parties*/) {
  // TODO: open the same semaphores, by the same names.
  throw std::logic_error("not implemented: Barrier::open (sem_lab.cpp)");
}

void Barrier::arrive_and_wait() {
  // TODO: arrive; the last to arrive lets the others go; count the round.
  throw std::logic_error("not implemented: Barrier::arrive_and_wait (sem_lab.cpp)");
}

}  // namespace semlab
