// Lab `sem`: the reference implementation.
#include "labs/sem/sem_lab.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace semlab {
namespace {

[[noreturn]] void throw_errno(const char* call) { throw std::system_error(errno, std::generic_category(), call); }

// A name no other process uses: this process's id and a counter.
std::string fresh_name(const char* what) {
  static unsigned counter = 0;
  return "/semlab-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + "-" + what;
}

// The absolute CLOCK_REALTIME time `timeout` from now, as sem_timedwait wants it.
timespec deadline_after(std::chrono::milliseconds timeout) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const long long ns = now.tv_nsec + (timeout.count() % 1000) * 1000000LL;
  timespec deadline{};
  deadline.tv_sec = now.tv_sec + static_cast<time_t>(timeout.count() / 1000 + ns / 1000000000LL);
  deadline.tv_nsec = static_cast<long>(ns % 1000000000LL);
  return deadline;
}

// The child processes one call forks. Each runs a body and _exits with the
// status it returns: a child never returns into the caller's code. If the
// call leaves early (an exception), the destructor kills and reaps the
// children still running, so none is left waiting for a V() that never comes.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (pid_t child : running_) {
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
  }

  void spawn(const std::function<int()>& body) {
    const pid_t child = ::fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) {
      int status = 1;
      try {
        status = body();
      } catch (...) {
      }
      ::_exit(status);
    }
    running_.push_back(child);
  }

  // Reaps every child; throws std::runtime_error naming `what` if one of
  // them did not exit with status 0.
  void wait_all(const char* what) {
    bool ok = true;
    while (!running_.empty()) {
      int status = 0;
      if (::waitpid(running_.back(), &status, 0) < 0) {
        if (errno == EINTR) continue;
        throw_errno("waitpid");
      }
      running_.pop_back();
      ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!ok) throw std::runtime_error(std::string(what) + ": a child process failed");
  }

 private:
  std::vector<pid_t> running_;
};

// Runs `action`; true if it threw (which it reports as a failure, not a crash).
bool throws(const std::function<void()>& action) {
  try {
    action();
    return false;
  } catch (...) {
    return true;
  }
}

}  // namespace

// ---- Part 1 -----------------------------------------------------------------

Semaphore::Semaphore(sem_t* handle, std::string name, bool owner)
    : handle_(handle), name_(std::move(name)), owner_(owner) {}

Semaphore Semaphore::create(const std::string& name, unsigned int value) {
  sem_t* handle = ::sem_open(name.c_str(), O_CREAT | O_EXCL, 0600, value);
  if (handle == SEM_FAILED) throw_errno("sem_open(O_CREAT | O_EXCL)");
  return Semaphore(handle, name, true);
}

Semaphore Semaphore::open(const std::string& name) {
  sem_t* handle = ::sem_open(name.c_str(), 0);
  if (handle == SEM_FAILED) throw_errno("sem_open");
  return Semaphore(handle, name, false);
}

Semaphore::Semaphore(Semaphore&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)),
      name_(std::move(other.name_)),
      owner_(std::exchange(other.owner_, false)) {}

Semaphore& Semaphore::operator=(Semaphore&& other) noexcept {
  std::swap(handle_, other.handle_);
  std::swap(name_, other.name_);
  std::swap(owner_, other.owner_);
  return *this;
}

Semaphore::~Semaphore() {
  if (handle_ == nullptr) return;
  ::sem_close(handle_);
  if (owner_) ::sem_unlink(name_.c_str());
}

void Semaphore::P() {
  while (::sem_wait(handle_) != 0) {
    if (errno != EINTR) throw_errno("sem_wait");
  }
}

void Semaphore::V() {
  if (::sem_post(handle_) != 0) throw_errno("sem_post");
}

bool Semaphore::try_P() {
  while (::sem_trywait(handle_) != 0) {
    if (errno == EAGAIN) return false;
    if (errno != EINTR) throw_errno("sem_trywait");
  }
  return true;
}

bool Semaphore::P_for(std::chrono::milliseconds timeout) {
  const timespec deadline = deadline_after(timeout);
  while (::sem_timedwait(handle_, &deadline) != 0) {
    if (errno == ETIMEDOUT) return false;
    if (errno != EINTR) throw_errno("sem_timedwait");
  }
  return true;
}

// ---- Part 2 -----------------------------------------------------------------

namespace {

// One side of ping_pong: waits for its turn, plays, hands the turn over.
int take_turns(Semaphore& mine, Semaphore& theirs, int rounds, const std::function<void(int)>& play) {
  bool failed = false;
  for (int round = 0; round < rounds; ++round) {
    mine.P();
    failed = throws([&] { play(round); }) || failed;
    theirs.V();  // even after a failure: the other side must not wait forever
  }
  return failed ? 1 : 0;
}

}  // namespace

void ping_pong(int rounds, const std::function<void(int)>& ping, const std::function<void(int)>& pong) {
  if (rounds < 0) throw std::invalid_argument("ping_pong: negative rounds");
  // Ping moves first: its turn starts at 1, pong's at 0.
  Semaphore ping_turn = Semaphore::create(fresh_name("ping"), 1);
  Semaphore pong_turn = Semaphore::create(fresh_name("pong"), 0);
  Children children;
  children.spawn([&] { return take_turns(ping_turn, pong_turn, rounds, ping); });
  children.spawn([&] { return take_turns(pong_turn, ping_turn, rounds, pong); });
  children.wait_all("ping_pong");
}

void run_in_order(const std::vector<std::function<void()>>& steps, const std::vector<std::vector<int>>& after) {
  const int count = static_cast<int>(steps.size());
  if (static_cast<int>(after.size()) != count) throw std::invalid_argument("run_in_order: one 'after' per step");
  std::vector<int> waiting_for(static_cast<size_t>(count), 0);  // how many steps wait for step i
  for (int step = 0; step < count; ++step) {
    for (int before : after[static_cast<size_t>(step)]) {
      if (before < 0 || before >= count || before == step) {
        throw std::invalid_argument("run_in_order: step " + std::to_string(step) + " waits for step " +
                                    std::to_string(before));
      }
      ++waiting_for[static_cast<size_t>(before)];
    }
  }
  std::vector<Semaphore> done;  // done[i]: one unit per step waiting for step i, once i has returned
  for (int step = 0; step < count; ++step) done.push_back(Semaphore::create(fresh_name("done"), 0));

  Children children;
  for (int step = 0; step < count; ++step) {
    const auto index = static_cast<size_t>(step);
    children.spawn([&, index] {
      for (int before : after[index]) done[static_cast<size_t>(before)].P();
      const bool failed = throws(steps[index]);
      for (int i = 0; i < waiting_for[index]; ++i) done[index].V();
      return failed ? 1 : 0;
    });
  }
  children.wait_all("run_in_order");
}

// ---- Part 3 -----------------------------------------------------------------

void run_exclusively(int processes, int times, const std::function<void()>& critical_section) {
  if (processes < 1 || times < 0) throw std::invalid_argument("run_exclusively: processes < 1 or times < 0");
  Semaphore mutex = Semaphore::create(fresh_name("mutex"), 1);
  Children children;
  for (int i = 0; i < processes; ++i) {
    children.spawn([&] {
      bool failed = false;
      for (int call = 0; call < times; ++call) {
        mutex.P();
        failed = throws(critical_section) || failed;
        mutex.V();
      }
      return failed ? 1 : 0;
    });
  }
  children.wait_all("run_exclusively");
}

// ---- Part 4 -----------------------------------------------------------------
//
// Two sets of semaphores, used in alternate rounds: set s = round % 2 has
// "seats" (parties - 1 places for the processes that arrive before the last
// one) and "gate" (where they wait). The last to arrive finds no seat left:
// it refills the seats of the next round's set, then opens this round's gate
// once for each waiting process. A process that hurries on to the next round
// uses the other set, so it cannot take a wake-up meant for a slower one.

namespace {

// semaphores_ holds the seats and the gate of set 0, then those of set 1.
const char* const kBarrierParts[] = {"-seats0", "-gate0", "-seats1", "-gate1"};

Semaphore& seats(std::vector<Semaphore>& semaphores, long set) { return semaphores[static_cast<size_t>(2 * set)]; }
Semaphore& gate(std::vector<Semaphore>& semaphores, long set) { return semaphores[static_cast<size_t>(2 * set + 1)]; }

}  // namespace

Barrier::Barrier(std::vector<Semaphore> semaphores, int parties)
    : semaphores_(std::move(semaphores)), parties_(parties) {}

Barrier Barrier::create(const std::string& name, int parties) {
  if (parties < 1) throw std::invalid_argument("Barrier: parties < 1");
  std::vector<Semaphore> semaphores;
  for (const char* part : kBarrierParts) semaphores.push_back(Semaphore::create(name + part, 0));
  // Round 0 uses set 0: parties - 1 seats for those who arrive before the last.
  for (int i = 1; i < parties; ++i) seats(semaphores, 0).V();
  return Barrier(std::move(semaphores), parties);
}

Barrier Barrier::open(const std::string& name, int parties) {
  if (parties < 1) throw std::invalid_argument("Barrier: parties < 1");
  std::vector<Semaphore> semaphores;
  for (const char* part : kBarrierParts) semaphores.push_back(Semaphore::open(name + part));
  return Barrier(std::move(semaphores), parties);
}

void Barrier::arrive_and_wait() {
  const long set = round_ % 2;
  if (seats(semaphores_, set).try_P()) {
    gate(semaphores_, set).P();
  } else {  // the last to arrive
    for (int i = 1; i < parties_; ++i) seats(semaphores_, 1 - set).V();
    for (int i = 1; i < parties_; ++i) gate(semaphores_, set).V();
  }
  ++round_;
}

}  // namespace semlab
