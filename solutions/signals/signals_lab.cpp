// Lab `signals`: the reference implementation.
#include "labs/signals/signals_lab.h"

#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace siglab {
namespace {

[[noreturn]] void throw_errno(const char* call) { throw std::system_error(errno, std::generic_category(), call); }

sigset_t set_of(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : signals) sigaddset(&set, signo);
  return set;
}

// Installs `handler` for `signo` and returns the action it replaced.
struct sigaction install(int signo, void (*handler)(int), int flags) {
  struct sigaction action {};
  action.sa_handler = handler;
  action.sa_flags = flags;
  sigemptyset(&action.sa_mask);
  struct sigaction previous {};
  if (::sigaction(signo, &action, &previous) != 0) throw_errno("sigaction");
  return previous;
}

void restore(int signo, const struct sigaction& previous) { ::sigaction(signo, &previous, nullptr); }

// Keeps errno as the interrupted code left it, for the length of a handler.
class SavedErrno {
 public:
  SavedErrno() : saved_(errno) {}
  ~SavedErrno() { errno = saved_; }
  SavedErrno(const SavedErrno&) = delete;
  SavedErrno& operator=(const SavedErrno&) = delete;

 private:
  int saved_;
};

// Owns one descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// ---- Part 1 ----

volatile sig_atomic_t caught[NSIG];

void set_flag(int signo) { caught[signo] = 1; }

// ---- Part 2 ----

// The self-pipe's write end and the signals that arrived, for the handler.
volatile sig_atomic_t self_pipe_write = -1;
volatile sig_atomic_t arrived[NSIG];

void note_and_wake(int signo) {
  SavedErrno keep;
  arrived[signo] = 1;
  const char byte = 0;
  // A full pipe already holds a wake-up, so a failed write loses nothing.
  [[maybe_unused]] ssize_t ignored = ::write(self_pipe_write, &byte, 1);
}

// ---- Part 3 ----

void reap_on_sigchld(int) { reap_children(); }

// ---- Part 8 ----

// A FIFO node, removed by the destructor.
class FifoNode {
 public:
  explicit FifoNode(std::filesystem::path path) : path_(std::move(path)) {
    if (::mkfifo(path_.c_str(), 0600) != 0) throw_errno("mkfifo");
  }
  ~FifoNode() { ::unlink(path_.c_str()); }
  FifoNode(const FifoNode&) = delete;
  FifoNode& operator=(const FifoNode&) = delete;

 private:
  std::filesystem::path path_;
};

// A message queue the server creates and sends to; closed and unlinked by the destructor.
class OwnedQueue {
 public:
  explicit OwnedQueue(std::string name) : name_(std::move(name)) {
    mq_attr attributes{};
    attributes.mq_maxmsg = 10;
    attributes.mq_msgsize = kServerMessageSize;
    queue_ = ::mq_open(name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attributes);
    if (queue_ == static_cast<mqd_t>(-1)) throw_errno("mq_open");
  }
  ~OwnedQueue() {
    ::mq_close(queue_);
    ::mq_unlink(name_.c_str());
  }
  OwnedQueue(const OwnedQueue&) = delete;
  OwnedQueue& operator=(const OwnedQueue&) = delete;

  void send(std::string_view message) {
    while (::mq_send(queue_, message.data(), message.size(), 0) != 0) {
      if (errno != EINTR) throw_errno("mq_send");
    }
  }

 private:
  std::string name_;
  mqd_t queue_;
};

// A shared-memory object holding one ServerInfo; unmapped and unlinked by the destructor.
class OwnedInfo {
 public:
  explicit OwnedInfo(std::string name) : name_(std::move(name)) {
    Fd fd(::shm_open(name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) throw_errno("shm_open");
    // From here on the name exists: a failure must still remove it.
    try {
      if (::ftruncate(fd.get(), sizeof(ServerInfo)) != 0) throw_errno("ftruncate");
      void* where = ::mmap(nullptr, sizeof(ServerInfo), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
      if (where == MAP_FAILED) throw_errno("mmap");
      info_ = static_cast<ServerInfo*>(where);
    } catch (...) {
      ::shm_unlink(name_.c_str());
      throw;
    }
    info_->pid = ::getpid();
  }
  ~OwnedInfo() {
    ::munmap(info_, sizeof(ServerInfo));
    ::shm_unlink(name_.c_str());
  }
  OwnedInfo(const OwnedInfo&) = delete;
  OwnedInfo& operator=(const OwnedInfo&) = delete;

 private:
  std::string name_;
  ServerInfo* info_ = nullptr;
};

}  // namespace

// ---- Part 1: a handler that only sets a flag ------------------------------

SignalFlag::SignalFlag(int signo) : signo_(signo) {
  caught[signo] = 0;
  previous_ = install(signo, set_flag, 0);  // no SA_RESTART: blocking calls see EINTR
}

SignalFlag::~SignalFlag() { restore(signo_, previous_); }

bool SignalFlag::take() {
  if (!caught[signo_]) return false;
  caught[signo_] = 0;  // one arriving just now merges with the one reported
  return true;
}

// ---- Part 2: the self-pipe trick -------------------------------------------

struct EventLoop::State {
  Fd wake_read, wake_write;
  std::map<int, Callback> signal_callbacks;
  std::map<int, struct sigaction> replaced;  // signal -> the action to restore
  std::vector<std::pair<int, Callback>> readers;
  bool stopped = false;

  // Calls the callback of every signal that arrived since the last call.
  void dispatch_signals() {
    // Drain first, then look at the flags: a signal arriving in between
    // leaves a byte for the next poll(), so none is ever missed.
    char bytes[256];
    while (::read(wake_read.get(), bytes, sizeof bytes) > 0) {
    }
    for (auto& [signo, callback] : signal_callbacks) {
      if (stopped) return;
      if (!arrived[signo]) continue;
      arrived[signo] = 0;
      callback();
    }
  }
};

EventLoop::EventLoop() : state_(std::make_unique<State>()) {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw_errno("pipe2");
  state_->wake_read = Fd(fds[0]);
  state_->wake_write = Fd(fds[1]);
  self_pipe_write = fds[1];
}

EventLoop::~EventLoop() {
  for (const auto& [signo, previous] : state_->replaced) restore(signo, previous);
  self_pipe_write = -1;
}

void EventLoop::on_signal(int signo, Callback callback) {
  state_->signal_callbacks[signo] = std::move(callback);
  if (state_->replaced.count(signo)) return;
  arrived[signo] = 0;
  state_->replaced[signo] = install(signo, note_and_wake, SA_RESTART);
}

void EventLoop::on_readable(int fd, Callback callback) { state_->readers.emplace_back(fd, std::move(callback)); }

void EventLoop::stop() { state_->stopped = true; }

void EventLoop::run() {
  State& s = *state_;
  s.stopped = false;
  s.dispatch_signals();  // those that arrived before run()
  while (!s.stopped) {
    std::vector<pollfd> watched{{s.wake_read.get(), POLLIN, 0}};
    for (const auto& reader : s.readers) watched.push_back({reader.first, POLLIN, 0});
    if (::poll(watched.data(), watched.size(), -1) < 0) {
      if (errno == EINTR) continue;
      throw_errno("poll");
    }
    if (watched[0].revents != 0) s.dispatch_signals();
    // Callbacks may register readers: call those that were polled, by index.
    for (std::size_t i = 1; i < watched.size() && !s.stopped; ++i) {
      if (watched[i].revents != 0) s.readers[i - 1].second();
    }
  }
}

// ---- Part 3: reaping on SIGCHLD --------------------------------------------

int reap_children() {
  SavedErrno keep;
  int reaped = 0;
  for (;;) {
    const pid_t pid = ::waitpid(-1, nullptr, WNOHANG);
    if (pid > 0) {
      ++reaped;
    } else if (pid < 0 && errno == EINTR) {
      continue;
    } else {
      return reaped;  // 0: none has ended (yet); ECHILD: no children at all
    }
  }
}

ChildReaper::ChildReaper() { previous_ = install(SIGCHLD, reap_on_sigchld, SA_RESTART | SA_NOCLDSTOP); }

ChildReaper::~ChildReaper() { restore(SIGCHLD, previous_); }

// ---- Part 4: masks and waiting ---------------------------------------------

SignalBlock::SignalBlock(std::initializer_list<int> signals) {
  const sigset_t blocked = set_of(signals);
  if (::sigprocmask(SIG_BLOCK, &blocked, &previous_) != 0) throw_errno("sigprocmask");
}

SignalBlock::~SignalBlock() { ::sigprocmask(SIG_SETMASK, &previous_, nullptr); }

int wait_for_signal(std::initializer_list<int> signals) {
  const sigset_t waited = set_of(signals);
  for (;;) {
    const int signo = ::sigwaitinfo(&waited, nullptr);
    if (signo > 0) return signo;
    if (errno != EINTR) throw_errno("sigwaitinfo");
  }
}

// ---- Part 5: signals as messages -------------------------------------------

void send_values(pid_t pid, int signo, const std::vector<int>& values) {
  for (int value : values) {
    sigval carried{};
    carried.sival_int = value;
    if (::sigqueue(pid, signo, carried) != 0) throw_errno("sigqueue");
  }
}

std::vector<int> receive_values(int signo, std::size_t count) {
  if (signo < SIGRTMIN || signo > SIGRTMAX) {
    throw std::invalid_argument("receive_values: signal " + std::to_string(signo) +
                                " is a standard signal, which does not queue");
  }
  const sigset_t waited = set_of({signo});
  std::vector<int> values;
  while (values.size() < count) {
    siginfo_t info{};
    if (::sigwaitinfo(&waited, &info) < 0) {
      if (errno == EINTR) continue;
      throw_errno("sigwaitinfo");
    }
    values.push_back(info.si_value.sival_int);
  }
  return values;
}

// ---- Part 6: SIGPIPE and EPIPE ---------------------------------------------

bool write_unless_closed(int fd, std::string_view data) {
  // Ignored, a SIGPIPE is discarded as it is raised, and write reports EPIPE.
  const struct sigaction previous = install(SIGPIPE, SIG_IGN, 0);
  int failure = 0;
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failure = errno;
      break;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  restore(SIGPIPE, previous);
  if (failure == 0) return true;
  if (failure == EPIPE) return false;
  throw std::system_error(failure, std::generic_category(), "write");
}

// ---- Part 7: EINTR ---------------------------------------------------------

std::string read_retrying(int fd, std::size_t max) {
  std::string buffer(max, '\0');
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), max);
    if (n >= 0) {
      buffer.resize(static_cast<std::size_t>(n));
      return buffer;
    }
    if (errno != EINTR) throw_errno("read");
  }
}

// ---- Part 8: cleanup on termination ----------------------------------------

void run_server(const ServerNames& names) {
  EventLoop loop;  // first: a stop request from now on is noted, not fatal
  loop.on_signal(SIGTERM, [&] { loop.stop(); });
  loop.on_signal(SIGINT, [&] { loop.stop(); });

  // Each object removes its name when destroyed: on the way out, and on any
  // failure while the next one is being created.
  FifoNode fifo(names.fifo);
  OwnedQueue queue(names.queue);
  OwnedInfo info(names.shm);
  Fd requests(::open(names.fifo.c_str(), O_RDWR | O_CLOEXEC));
  if (requests.get() < 0) throw_errno("open");

  loop.on_readable(requests.get(), [&] { queue.send(read_retrying(requests.get(), kServerMessageSize)); });
  loop.run();
}

}  // namespace siglab
