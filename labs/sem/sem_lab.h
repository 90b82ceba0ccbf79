#pragma once
// Lab `sem` — POSIX named semaphores: kernel semaphores shared by processes.
//
// A semaphore is a counter that never goes below zero, with two operations
// (the lecture's names for them):
//
//   P()  "wait":   if the value is 0, sleep until it is not; then subtract 1.
//   V()  "signal": add 1, and wake one process sleeping in P(), if any.
//
// Threads of one process can share a semaphore in their common memory.
// Processes share no memory, so they need a *kernel* semaphore: a named
// object that lives outside every process. Any process that knows the name
// can open it, and it lives on until it is unlinked — like a file.
//
// In this lab you build, in sem_lab.cpp:
//
//   1. Semaphore        an RAII handle on one named semaphore: P, V, try_P, P_for;
//   2. ping_pong,       ordering: processes that take turns, and steps that
//      run_in_order     wait for the steps they depend on;
//   3. run_exclusively  mutual exclusion: a critical section, one process at a time;
//   4. Barrier          N processes wait for each other, round after round.
//
// This header is the contract the tests use: do not change it.
//
// Facts you will need (man 7 sem_overview, man 3 sem_open, sem_wait, sem_post):
//   * sem_open(name, O_CREAT | O_EXCL, 0600, value) creates a semaphore and
//     fails with EEXIST if the name is taken; sem_open(name, 0) opens an
//     existing one and fails with ENOENT if there is none. Both return
//     SEM_FAILED (not NULL) on failure, with errno set.
//   * A name is a '/' followed by up to 250 characters, none of them '/'.
//     Linux shows the semaphore "/turns" as the file /dev/shm/sem.turns.
//   * sem_close() ends this process's use of the semaphore (it unmaps it);
//     sem_unlink() removes the name at once. Processes that still have it
//     open go on using it; the semaphore itself goes when the last of them
//     closes it. That is "cleanup via unlink": whoever creates, unlinks.
//   * sem_wait() is P, sem_post() is V. sem_trywait() never sleeps: at 0 it
//     fails with EAGAIN ("would block"). sem_timedwait() gives up with
//     ETIMEDOUT at a deadline that is an ABSOLUTE time on CLOCK_REALTIME
//     (clock_gettime(CLOCK_REALTIME, ...) plus the timeout), not a duration.
//   * sem_wait() and sem_timedwait() fail with EINTR when a signal handler
//     runs while they sleep — even with SA_RESTART. That is not an error:
//     wait again.
//   * fork() copies the handle: a child may use a semaphore its parent
//     opened before the fork. A child you fork must end with _exit(), never
//     by returning into the caller's code.
//   * A kernel semaphore has no owner: any process may call V(), and a
//     process that dies between P() and V() never gives its unit back.
//
// Errors: a failing system call is reported by throwing std::system_error
// with its errno (std::system_error(errno, std::generic_category(), "sem_open")).

#include <semaphore.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace semlab {

// ---- Part 1: a named semaphore --------------------------------------------

// One named semaphore, opened in this process. The object that created the
// semaphore owns its name: its destructor closes AND unlinks it. An object
// that opened an existing semaphore only closes it.
//
//   semlab::Semaphore turn = semlab::Semaphore::create("/my-turn", 0);
//   // in another process:  semlab::Semaphore::open("/my-turn").V();
//   turn.P();   // sleeps until someone calls V()
//
// A Semaphore can be moved (the new object takes over the handle and the
// ownership; the moved-from one then does nothing when destroyed) but not
// copied: two owners would unlink twice.
class Semaphore {
 public:
  // Creates the semaphore `name` with the initial value `value`; fails
  // (std::system_error, EEXIST) if a semaphore of that name exists already,
  // and then leaves that one alone.
  [[nodiscard]] static Semaphore create(const std::string& name, unsigned int value);
  // Opens the existing semaphore `name`; std::system_error (ENOENT) if none.
  [[nodiscard]] static Semaphore open(const std::string& name);

  Semaphore(Semaphore&& other) noexcept;
  Semaphore& operator=(Semaphore&& other) noexcept;
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  // sem_close; and sem_unlink if this object created the semaphore.
  ~Semaphore();

  // P: waits until the value is above 0, then subtracts 1. Sleeps in the
  // kernel meanwhile (never polls); keeps waiting after EINTR.
  void P();
  // V: adds 1, waking one process waiting in P(), if any.
  void V();
  // P without waiting: true if it took a unit, false if the value was 0.
  [[nodiscard]] bool try_P();
  // P for at most `timeout`: true if it took a unit, false if the timeout
  // passed first. Sleeps meanwhile, and keeps waiting (until the same
  // deadline) after EINTR.
  [[nodiscard]] bool P_for(std::chrono::milliseconds timeout);

  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  Semaphore(sem_t* handle, std::string name, bool owner);

  sem_t* handle_ = nullptr;  // nullptr once moved from
  std::string name_;
  bool owner_ = false;  // created it, so unlinks it
};

// ---- Part 2: ordering -------------------------------------------------------
//
// Both functions below fork their own child processes, create the
// semaphores they need under names no other process uses (build them from
// getpid() and a counter, for example), wait for every child they forked
// (no zombie) and leave no semaphore behind, whatever happens.

// Runs two child processes that take turns, strictly alternating:
//
//   ping(0), pong(0), ping(1), pong(1), ..., ping(rounds-1), pong(rounds-1)
//
// ping(i) runs in the first child and pong(i) in the second; each call
// starts only after the one before it in that list has returned. Use one
// semaphore per side ("your turn"), not a shared flag and not sleeps.
//
// A callback that throws does not stop the game: its process catches the
// exception, goes on taking its turns (calling its callback for the next
// rounds), so that the other side is never left waiting, and exits with
// status 1 at the end. ping_pong then throws std::runtime_error once both
// children have ended. rounds == 0 runs no callback at all; a negative
// rounds throws std::invalid_argument.
void ping_pong(int rounds, const std::function<void(int)>& ping, const std::function<void(int)>& pong);

// Runs every steps[i]() in a child process of its own, all of them started at
// once, so that step i starts only after every step listed in after[i] has
// returned. Steps that do not wait for each other may run at the same time.
//
//   // make: compile 0 and 1 in parallel, then link (2)
//   run_in_order({compile_a, compile_b, link}, {{}, {}, {0, 1}});
//
// Idea: one semaphore per step, at 0 until the step is done. When a step has
// returned, its process V()s that semaphore once for each step that waits for
// it; a step first P()s the semaphore of each step it waits for.
//
// Throws std::invalid_argument, before starting anything, if `after` does not
// have one entry per step or lists a step that does not exist or the step
// itself. (A cycle would make its steps wait forever; you need not detect it.)
// A step that throws still counts as done: the steps after it run. Its
// process exits with status 1, and run_in_order throws std::runtime_error
// once every step's process has ended.
void run_in_order(const std::vector<std::function<void()>>& steps, const std::vector<std::vector<int>>& after);

// ---- Part 3: mutual exclusion ------------------------------------------------

// Starts `processes` child processes at once; each calls critical_section()
// `times` times. No two calls, in any of the processes, ever overlap: every
// call is made between P() and V() of one semaphore, created with value 1
// and shared by all of them (a "mutex"). Between two calls the semaphore is
// free, so the processes take turns as the kernel wakes them.
//
// critical_section is typically a read-modify-write of memory the processes
// share: "load the counter, add one, store it back". Without the semaphore
// two processes load the same value and one update is lost.
//
// Waits for every child. Throws std::invalid_argument if processes < 1 or
// times < 0; std::runtime_error if a child did not exit with status 0 (for
// example because critical_section threw — catch it in the child, release
// the semaphore, and _exit(1)). Leaves no semaphore behind.
void run_exclusively(int processes, int times, const std::function<void()>& critical_section);

// ---- Part 4: a barrier ----------------------------------------------------------

// A meeting point for `parties` processes: each one calls arrive_and_wait(),
// and none of those calls returns before all `parties` processes have
// called it. Then the barrier is ready for the next round at once: the same
// processes call arrive_and_wait() again, and again nobody passes round r+1
// before everybody has arrived at round r+1.
//
//   // in each of the 4 processes:
//   semlab::Barrier barrier = semlab::Barrier::open("/phase", 4);
//   for (int round = 0; round < 10; ++round) {
//     compute_my_part(round);
//     barrier.arrive_and_wait();  // everybody's part of this round is done
//   }
//
// Build it from Semaphores only. The hard part is reuse. Think of a process
// that leaves round r and arrives at round r+1 straight away: it must not
// use up a wake-up that was meant for a slower process still leaving round
// r. (One way out: two sets of semaphores, used in alternate rounds; the
// last process to arrive prepares the next round's set before it lets the
// others go. The last one is the one that finds no arrival left to take
// with try_P.) Waiting processes sleep in P(); nobody polls.
class Barrier {
 public:
  // Creates the semaphores the barrier needs, each named `name` followed by a
  // suffix of your choice ("/phase-gate0", ...). This object owns them: its
  // destructor unlinks them all. The creator need not take part itself.
  // parties < 1 throws std::invalid_argument.
  [[nodiscard]] static Barrier create(const std::string& name, int parties);
  // Opens the barrier another process created, with the same name and
  // parties; its destructor only closes the semaphores.
  [[nodiscard]] static Barrier open(const std::string& name, int parties);

  // Arrives at this process's next round and waits for all the others.
  void arrive_and_wait();

 private:
  Barrier(std::vector<Semaphore> semaphores, int parties);

  std::vector<Semaphore> semaphores_;  // in whatever order you choose
  int parties_ = 0;
  long round_ = 0;  // rounds this process has passed; each process counts its own
};

}  // namespace semlab
