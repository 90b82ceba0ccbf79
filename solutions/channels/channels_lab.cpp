// Lab `channels`: the reference implementation.
#include "labs/channels/channels_lab.h"

#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

namespace channels {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw ChannelError(ChannelError::Kind::system, what + ": " + std::strerror(errno));
}

[[noreturn]] void peer_gone(const std::string& name) {
  throw ChannelError(ChannelError::Kind::peer_gone, "the other side of channel " + name + " has gone");
}

void check_length(int len, int capacity) {
  if (len < 0 || len > capacity) {
    throw ChannelError(ChannelError::Kind::too_long, "a message of " + std::to_string(len) +
                                                         " bytes does not fit a channel of capacity " +
                                                         std::to_string(capacity));
  }
}

[[noreturn]] void too_small(int length, int capacity) {
  throw ChannelError(ChannelError::Kind::too_small, "a message of " + std::to_string(length) +
                                                        " bytes does not fit a buffer of " + std::to_string(capacity));
}

// An absolute CLOCK_REALTIME time kPeerCheckMillis from now, for the timed waits.
timespec next_check() {
  timespec at{};
  ::clock_gettime(CLOCK_REALTIME, &at);
  at.tv_sec += kPeerCheckMillis / 1000;
  at.tv_nsec += (kPeerCheckMillis % 1000) * 1000000L;
  if (at.tv_nsec >= 1000000000L) {
    at.tv_sec += 1;
    at.tv_nsec -= 1000000000L;
  }
  return at;
}

// ---- FIFO helpers -------------------------------------------------------------

// Reads exactly size bytes; how many arrived before end-of-file.
std::size_t read_fully(int fd, char* into, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, into + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read");
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

// Writes both parts (a frame's length, then its bytes) with writev: one
// system call for a small message, and no copy of a large one into a frame
// buffer first (the benchmark showed that copy costing a FIFO much of its
// throughput at 1 MiB).
void write_parts(int fd, const void* head, std::size_t head_size, const void* body, std::size_t body_size,
                 const std::string& name) {
  iovec parts[2] = {{const_cast<void*>(head), head_size}, {const_cast<void*>(body), body_size}};
  iovec* next = parts;
  int left = body_size > 0 ? 2 : 1;
  while (left > 0) {
    const ssize_t n = ::writev(fd, next, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) peer_gone(name);
    if (n < 0) fail("writev");
    // Skip what was written: whole parts, then into the part it stopped in.
    auto written = static_cast<std::size_t>(n);
    while (left > 0 && written >= next->iov_len) {
      written -= next->iov_len;
      ++next;
      --left;
    }
    if (left > 0) {
      next->iov_base = static_cast<char*>(next->iov_base) + written;
      next->iov_len -= written;
    }
  }
}

// Reads and drops `size` bytes: a message too long for the caller's buffer
// still leaves the stream, so the next cread gets the next message.
std::size_t discard(int fd, std::size_t size) {
  std::vector<char> scratch(std::min<std::size_t>(size, 64 * 1024));
  std::size_t done = 0;
  while (done < size) {
    const std::size_t got = read_fully(fd, scratch.data(), std::min(scratch.size(), size - done));
    if (got == 0) break;
    done += got;
  }
  return done;
}

void make_fifo(const std::string& path) {
  if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST) fail("mkfifo " + path);
}

int open_fifo(const std::string& path, int mode) {
  for (;;) {
    const int fd = ::open(path.c_str(), mode | O_CLOEXEC);
    if (fd >= 0) return fd;
    if (errno != EINTR) fail("open " + path);
  }
}

// The most an unprivileged process may make a pipe hold (F_SETPIPE_SZ).
long pipe_max_size() {
  std::ifstream limit("/proc/sys/fs/pipe-max-size");
  long value = 1 << 20;  // the kernel's default, should the file be unreadable
  limit >> value;
  return value;
}

// Lets the pipe behind `fd` hold a whole frame of a channel of `capacity`,
// as far as pipe-max-size allows. A frame bigger than the pipe (64 KiB
// unless changed) goes through in pieces, and every piece costs the writer
// a sleep and the reader a wake-up: 16 of each for a 1 MiB message, and on
// a busy machine every wake-up waits for a CPU. The pipe only ever grows,
// and a refusal (EPERM past the per-user limit
// /proc/sys/fs/pipe-user-pages-soft) leaves it as it was: slower, never
// wrong, so it is not an error.
void fit_frames(int fd, int capacity) {
  const long frame = static_cast<long>(sizeof(std::int32_t)) + capacity;
  if (frame <= ::fcntl(fd, F_GETPIPE_SZ)) return;
  ::fcntl(fd, F_SETPIPE_SZ, std::min(frame, pipe_max_size()));
}

// ---- MQ helpers -------------------------------------------------------------------

long msgsize_max() {
  std::ifstream limit("/proc/sys/fs/mqueue/msgsize_max");
  long value = 8192;
  limit >> value;
  return value;
}

mqd_t open_queue(const std::string& name, int mode, int capacity) {
  mq_attr attr{};
  attr.mq_maxmsg = kQueueDepth;
  attr.mq_msgsize = capacity;
  const mqd_t queue = ::mq_open(name.c_str(), mode | O_CREAT | O_CLOEXEC, 0600, &attr);
  if (queue == static_cast<mqd_t>(-1)) fail("mq_open " + name);
  return queue;
}

// ---- SHM helpers --------------------------------------------------------------------

sem_t* open_semaphore(const std::string& name, unsigned initial) {
  sem_t* sem = ::sem_open(name.c_str(), O_CREAT, 0600, initial);
  if (sem == SEM_FAILED) fail("sem_open " + name);
  return sem;
}

// P(sem), waking every kPeerCheckMillis to ask whether the peer is still there.
template <class Alive>
void wait_for(sem_t* sem, const std::string& name, const Alive& alive) {
  for (;;) {
    const timespec at = next_check();
    if (::sem_timedwait(sem, &at) == 0) return;
    if (errno == EINTR) continue;
    if (errno != ETIMEDOUT) fail("sem_timedwait");
    if (!alive()) peer_gone(name);
  }
}

char* slot_of(void* base, int capacity, std::uint64_t n) {
  return static_cast<char*>(base) + sizeof(ShmRingHeader) + (n % kShmSlots) * shm_slot_size(capacity);
}

// ---- the client -------------------------------------------------------------------

struct Options {
  int person = 0;
  std::optional<double> seconds;
  int ecg = 0;
  std::string file;
  int capacity = kDefaultCapacity;
  int extra = 0;
  char mechanism = 'f';
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A failure of the run that has its own exit status.
struct RunError : std::runtime_error {
  RunError(Status status, const std::string& what) : std::runtime_error(what), status(status) {}
  Status status;
};

constexpr const char* kUsageLine = "usage: client (-p P [-t T -e E] | -f FILE) [-m CAP] [-c N] [-i f|q|s]\n";

long number(const char* text, char flag, long low, long high) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < low || value > high) {
    throw UsageError(std::string("-") + flag + " wants a whole number from " + std::to_string(low) + " to " +
                     std::to_string(high) + ", not '" + text + "'");
  }
  return value;
}

double seconds_of(const char* text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !(value >= 0) || !(value < 60)) {
    throw UsageError(std::string("-t wants seconds from 0 to 59.996, not '") + text + "'");
  }
  return value;
}

Options parse(int argc, char** argv) {
  Options options;
  std::string seen;
  optind = 1;
  opterr = 0;  // our own sentences instead of getopt's
  int opt;
  while ((opt = ::getopt(argc, argv, ":p:t:e:f:m:c:i:")) != -1) {
    if (opt == '?') throw UsageError(std::string("unknown flag -") + static_cast<char>(optopt));
    if (opt == ':') throw UsageError(std::string("-") + static_cast<char>(optopt) + " needs a value");
    if (seen.find(static_cast<char>(opt)) != std::string::npos) {
      throw UsageError(std::string("-") + static_cast<char>(opt) + " given twice");
    }
    seen += static_cast<char>(opt);
    switch (opt) {
      case 'p': options.person = static_cast<int>(number(optarg, 'p', 1, 15)); break;
      case 't': options.seconds = seconds_of(optarg); break;
      case 'e': options.ecg = static_cast<int>(number(optarg, 'e', 1, 2)); break;
      case 'm': options.capacity = static_cast<int>(number(optarg, 'm', kMinCapacity, 1 << 20)); break;
      case 'c': options.extra = static_cast<int>(number(optarg, 'c', 0, 100)); break;
      case 'f':
        options.file = optarg;
        if (options.file.empty() || options.file.find('/') != std::string::npos) {
          throw UsageError("-f wants a file name without '/', not '" + options.file + "'");
        }
        break;
      case 'i':
        if (std::strlen(optarg) != 1 || std::strchr("fqs", optarg[0]) == nullptr) {
          throw UsageError(std::string("-i wants f, q or s, not '") + optarg + "'");
        }
        options.mechanism = optarg[0];
        break;
    }
  }
  if (optind < argc) throw UsageError(std::string("unexpected argument '") + argv[optind] + "'");
  const bool point = options.seconds || options.ecg != 0;
  if (options.person == 0 && options.file.empty()) throw UsageError("say what to ask for: -p or -f");
  if (options.person != 0 && !options.file.empty()) throw UsageError("-p and -f cannot be combined");
  if (point && !(options.seconds && options.ecg != 0 && options.person != 0)) {
    throw UsageError("a data point needs all of -p, -t and -e");
  }
  if (!options.file.empty() &&
      sizeof(FileRequest) + options.file.size() + 1 > static_cast<std::size_t>(options.capacity)) {
    throw UsageError("-f: the file name does not fit a request of -m " + std::to_string(options.capacity) + " bytes");
  }
  return options;
}

// The server process, started with fork + exec; reaped once.
class ServerProcess {
 public:
  ServerProcess(const Options& options, const std::string& prefix) {
    std::vector<std::string> args = server_command();
    for (const std::string& extra : {std::string("-i"), std::string(1, options.mechanism), std::string("-m"),
                                     std::to_string(options.capacity), std::string("-r"), prefix}) {
      args.push_back(extra);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw RunError(kServerFailed, std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      ::execv(argv[0], argv.data());
      std::fprintf(stderr, "client: exec %s: %s\n", argv[0], std::strerror(errno));
      ::_exit(127);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      reap();
    }
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }

  // Waits for the server to end; how it ended, as a sentence ("" for status 0).
  std::string reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    if (WIFEXITED(status))
      return WEXITSTATUS(status) == 0 ? "" : "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status));
    return "ended";
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// One request and its reply's answer (status ok), on one channel.
std::string ask(RequestChannel& channel, const void* request, int length) {
  channel.cwrite(request, length);
  std::vector<char> buffer(static_cast<std::size_t>(channel.capacity()));
  const int got = channel.cread(buffer.data(), channel.capacity());
  ReplyStatus status = ReplyStatus::error;
  if (got < static_cast<int>(sizeof status))
    throw RunError(kRequestFailed, "the server sent a reply too short to read");
  std::memcpy(&status, buffer.data(), sizeof status);
  std::string answer(buffer.data() + sizeof status, static_cast<std::size_t>(got) - sizeof status);
  if (status != ReplyStatus::ok) throw RunError(kRequestFailed, "the server answered: " + answer);
  return answer;
}

void quit(RequestChannel& channel) {
  const MessageType type = MessageType::quit;
  channel.cwrite(&type, sizeof type);
}

double data_point(RequestChannel& channel, int person, double seconds, int ecg) {
  DataRequest request;
  request.person = person;
  request.seconds = seconds;
  request.ecg = ecg;
  const std::string answer = ask(channel, &request, sizeof request);
  double value = 0;
  if (answer.size() != sizeof value) throw RunError(kRequestFailed, "a DATA reply is not a double");
  std::memcpy(&value, answer.data(), sizeof value);
  return value;
}

std::string file_request(const std::string& name, std::int64_t offset, int length) {
  FileRequest request;
  request.offset = offset;
  request.length = length;
  std::string message(reinterpret_cast<const char*>(&request), sizeof request);
  message += name;
  message.push_back('\0');
  return message;
}

// Runs work(i, channel) for every channel, one thread each; the first
// failure is rethrown once all have finished.
template <class Work>
void on_every_channel(std::vector<std::unique_ptr<RequestChannel>>& workers, const Work& work) {
  std::vector<std::exception_ptr> failures(workers.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        work(i, *workers[i]);
      } catch (...) {
        failures[i] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
}

void write_output(const std::filesystem::path& path, const std::string& content) {
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw RunError(kOutputFailed, "could not write " + path.string());
}

void get_rows(std::vector<std::unique_ptr<RequestChannel>>& workers, int person) {
  constexpr int kRowsWanted = 1000;
  std::vector<std::string> lines(kRowsWanted);
  on_every_channel(workers, [&](std::size_t i, RequestChannel& channel) {
    for (std::size_t row = i; row < kRowsWanted; row += workers.size()) {
      const double t = static_cast<double>(row) * 0.004;
      const double ecg1 = data_point(channel, person, t, 1);
      const double ecg2 = data_point(channel, person, t, 2);
      char line[96];
      std::snprintf(line, sizeof line, "%g,%g,%g\n", t, ecg1, ecg2);
      lines[row] = line;
    }
  });
  std::string csv;
  for (const auto& line : lines) csv += line;
  write_output("received/x1.csv", csv);
}

void get_file(RequestChannel& control, std::vector<std::unique_ptr<RequestChannel>>& workers, const std::string& name) {
  const std::string request = file_request(name, 0, 0);
  const std::string answer = ask(control, request.data(), static_cast<int>(request.size()));
  std::int64_t size = 0;
  if (answer.size() != sizeof size) throw RunError(kRequestFailed, "a file size reply is not an int64");
  std::memcpy(&size, answer.data(), sizeof size);
  std::string content(static_cast<std::size_t>(size), '\0');
  const std::int64_t chunk = max_chunk(control.capacity());
  const std::int64_t chunks = (size + chunk - 1) / chunk;
  on_every_channel(workers, [&](std::size_t i, RequestChannel& channel) {
    for (auto n = static_cast<std::int64_t>(i); n < chunks; n += static_cast<std::int64_t>(workers.size())) {
      const std::int64_t offset = n * chunk;
      const int length = static_cast<int>(std::min(chunk, size - offset));
      const std::string part = file_request(name, offset, length);
      const std::string bytes = ask(channel, part.data(), static_cast<int>(part.size()));
      if (bytes.size() != static_cast<std::size_t>(length)) throw RunError(kRequestFailed, "a chunk came back short");
      std::memcpy(content.data() + offset, bytes.data(), bytes.size());
    }
  });
  write_output(std::filesystem::path("received") / name, content);
}

// The run once the server is started; every channel's name, for cleanup.
void run(const Options& options, const std::string& prefix, ServerProcess& server, std::vector<std::string>& names) {
  const pid_t pid = server.pid();
  const auto alive = [pid] { return process_running(pid); };
  auto control = make_channel(options.mechanism, "control", prefix, Side::client, options.capacity);
  control->watch_peer(alive);
  std::vector<std::unique_ptr<RequestChannel>> extra;
  for (int i = 0; i < options.extra; ++i) {
    const MessageType type = MessageType::new_channel;
    const std::string name = ask(*control, &type, sizeof type);
    names.push_back(name);
    extra.push_back(make_channel(options.mechanism, name, prefix, Side::client, options.capacity));
    extra.back()->watch_peer(alive);
  }
  std::vector<std::unique_ptr<RequestChannel>> just_control;
  if (extra.empty()) just_control.push_back(std::move(control));
  auto& used = extra.empty() ? just_control : extra;
  RequestChannel& first = extra.empty() ? *just_control.front() : *control;
  try {
    if (!options.file.empty()) {
      get_file(first, used, options.file);
    } else if (options.seconds) {
      std::printf("%g\n", data_point(first, options.person, *options.seconds, options.ecg));
      std::fflush(stdout);
    } else {
      get_rows(used, options.person);
    }
  } catch (const RunError&) {
    // The server is fine: let it end the usual way, then report.
    for (auto& channel : extra) quit(*channel);
    quit(first);
    throw;
  }
  for (auto& channel : extra) quit(*channel);
  quit(first);
}

// A channel failed during the run: stop the server if it still runs, reap
// it, remove every object of the run, and say what happened.
int channel_failed(const ChannelError& e, const Options& options, const std::string& prefix,
                   const std::vector<std::string>& names, ServerProcess& server) {
  const bool server_died = !process_running(server.pid());
  if (!server_died) ::kill(server.pid(), SIGKILL);
  const std::string how = server.reap();
  for (const auto& name : names) remove_channel_objects(options.mechanism, name, prefix);
  if (e.kind() == ChannelError::Kind::capacity) {
    std::cerr << "client: " << e.what() << "\n";
    return kChannelFailed;
  }
  if (server_died || e.kind() == ChannelError::Kind::peer_gone) {
    std::cerr << "client: the server (pid " << server.pid() << ") " << (how.empty() ? "ended" : how)
              << " before the work was done (" << e.what() << ")\n";
    return kServerFailed;
  }
  std::cerr << "client: " << e.what() << "\n";
  return kChannelFailed;
}

}  // namespace

// ---- FIFO --------------------------------------------------------------------------

FIFORequestChannel::FIFORequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity)
    : RequestChannel(name, prefix, side, capacity) {
  const std::string to_client = fifo_path(prefix, name, 1);
  const std::string to_server = fifo_path(prefix, name, 2);
  make_fifo(to_client);
  make_fifo(to_server);
  // Same order on both sides: direction 1 first, then 2.
  if (side == Side::server) {
    write_fd_ = open_fifo(to_client, O_WRONLY);
    read_fd_ = open_fifo(to_server, O_RDONLY);
  } else {
    read_fd_ = open_fifo(to_client, O_RDONLY);
    write_fd_ = open_fifo(to_server, O_WRONLY);
  }
  // Each side sizes the direction it writes, before it writes anything.
  fit_frames(write_fd_, capacity);
}

FIFORequestChannel::~FIFORequestChannel() {
  if (read_fd_ >= 0) ::close(read_fd_);
  if (write_fd_ >= 0) ::close(write_fd_);
  if (side() == Side::server) {
    ::unlink(fifo_path(prefix(), name(), 1).c_str());
    ::unlink(fifo_path(prefix(), name(), 2).c_str());
  }
}

int FIFORequestChannel::cread(void* buf, int capacity) {
  std::int32_t length = 0;
  const std::size_t got = read_fully(read_fd_, reinterpret_cast<char*>(&length), sizeof length);
  if (got < sizeof length || length < 0) peer_gone(name());
  const auto size = static_cast<std::size_t>(length);
  if (length > capacity) {
    if (discard(read_fd_, size) < size) peer_gone(name());
    too_small(length, capacity);
  }
  // Straight into the caller's buffer: no copy of the message on the way.
  if (read_fully(read_fd_, static_cast<char*>(buf), size) < size) peer_gone(name());
  return length;
}

int FIFORequestChannel::cwrite(const void* buf, int len) {
  check_length(len, this->capacity());
  const std::int32_t length = len;
  write_parts(write_fd_, &length, sizeof length, buf, static_cast<std::size_t>(len), name());
  return len;
}

// ---- MQ ------------------------------------------------------------------------------

MQRequestChannel::MQRequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity)
    : RequestChannel(name, prefix, side, capacity) {
  if (const long limit = msgsize_max(); capacity > limit) {
    throw ChannelError(ChannelError::Kind::capacity,
                       "a message queue carries messages of at most " + std::to_string(limit) +
                           " bytes (msgsize_max, set in /proc/sys/fs/mqueue/msgsize_max), so a capacity of " +
                           std::to_string(capacity) + " bytes cannot be used with -i q");
  }
  const std::string to_client = mq_name(prefix, name, 1);
  const std::string to_server = mq_name(prefix, name, 2);
  read_queue_ = open_queue(side == Side::server ? to_server : to_client, O_RDONLY, capacity);
  try {
    write_queue_ = open_queue(side == Side::server ? to_client : to_server, O_WRONLY, capacity);
  } catch (...) {
    ::mq_close(read_queue_);
    throw;
  }
}

MQRequestChannel::~MQRequestChannel() {
  if (read_queue_ != static_cast<mqd_t>(-1)) ::mq_close(read_queue_);
  if (write_queue_ != static_cast<mqd_t>(-1)) ::mq_close(write_queue_);
  if (side() == Side::server) {
    ::mq_unlink(mq_name(prefix(), name(), 1).c_str());
    ::mq_unlink(mq_name(prefix(), name(), 2).c_str());
  }
}

int MQRequestChannel::cread(void* buf, int capacity) {
  // The buffer must hold mq_msgsize bytes, whatever the caller's capacity.
  std::vector<char> message(static_cast<std::size_t>(this->capacity()));
  for (;;) {
    const timespec at = next_check();
    const ssize_t n = ::mq_timedreceive(read_queue_, message.data(), message.size(), nullptr, &at);
    if (n >= 0) {
      if (n > capacity) too_small(static_cast<int>(n), capacity);
      std::memcpy(buf, message.data(), static_cast<std::size_t>(n));
      return static_cast<int>(n);
    }
    if (errno == EINTR) continue;
    if (errno != ETIMEDOUT) fail("mq_timedreceive " + mq_name(prefix(), name(), side() == Side::server ? 2 : 1));
    if (!peer_alive()) peer_gone(name());
  }
}

int MQRequestChannel::cwrite(const void* buf, int len) {
  check_length(len, this->capacity());
  for (;;) {
    const timespec at = next_check();
    if (::mq_timedsend(write_queue_, static_cast<const char*>(buf), static_cast<std::size_t>(len), 0, &at) == 0) {
      return len;
    }
    if (errno == EINTR) continue;
    if (errno != ETIMEDOUT) fail("mq_timedsend " + mq_name(prefix(), name(), side() == Side::server ? 1 : 2));
    if (!peer_alive()) peer_gone(name());
  }
}

// ---- SHM --------------------------------------------------------------------------------

SHMRequestChannel::SHMRequestChannel(const std::string& name, const std::string& prefix, Side side, int capacity)
    : RequestChannel(name, prefix, side, capacity) {
  const std::size_t size = shm_segment_size(capacity);
  for (int d = 1; d <= 2; ++d) {
    Direction& direction = (d == 1) == (side == Side::server) ? out_ : in_;
    const std::string segment = shm_name(prefix, name, d);
    direction.fd = ::shm_open(segment.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (direction.fd < 0) fail("shm_open " + segment);
    if (::ftruncate(direction.fd, static_cast<off_t>(size)) != 0) fail("ftruncate " + segment);
    void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, direction.fd, 0);
    if (base == MAP_FAILED) fail("mmap " + segment);
    direction.base = base;
    direction.free_sem = open_semaphore(free_sem_name(prefix, name, d), kShmSlots);
    direction.ready_sem = open_semaphore(ready_sem_name(prefix, name, d), 0);
  }
}

SHMRequestChannel::~SHMRequestChannel() {
  const std::size_t size = shm_segment_size(capacity());
  for (Direction* direction : {&in_, &out_}) {
    if (direction->base != nullptr) ::munmap(direction->base, size);
    if (direction->fd >= 0) ::close(direction->fd);
    if (direction->free_sem != nullptr) ::sem_close(direction->free_sem);
    if (direction->ready_sem != nullptr) ::sem_close(direction->ready_sem);
  }
  if (side() == Side::server) {
    for (int d = 1; d <= 2; ++d) {
      ::shm_unlink(shm_name(prefix(), name(), d).c_str());
      ::sem_unlink(free_sem_name(prefix(), name(), d).c_str());
      ::sem_unlink(ready_sem_name(prefix(), name(), d).c_str());
    }
  }
}

int SHMRequestChannel::cread(void* buf, int capacity) {
  wait_for(in_.ready_sem, name(), [this] { return peer_alive(); });
  auto* header = static_cast<ShmRingHeader*>(in_.base);
  const char* slot = slot_of(in_.base, this->capacity(), header->taken);
  std::int32_t length = 0;
  std::memcpy(&length, slot, sizeof length);
  header->taken += 1;
  const bool fits = length <= capacity;
  if (fits) std::memcpy(buf, slot + sizeof length, static_cast<std::size_t>(length));
  if (::sem_post(in_.free_sem) != 0) fail("sem_post");
  if (!fits) too_small(length, capacity);
  return length;
}

int SHMRequestChannel::cwrite(const void* buf, int len) {
  check_length(len, this->capacity());
  wait_for(out_.free_sem, name(), [this] { return peer_alive(); });
  auto* header = static_cast<ShmRingHeader*>(out_.base);
  char* slot = slot_of(out_.base, this->capacity(), header->written);
  const std::int32_t length = len;
  std::memcpy(slot, &length, sizeof length);
  std::memcpy(slot + sizeof length, buf, static_cast<std::size_t>(len));
  header->written += 1;
  if (::sem_post(out_.ready_sem) != 0) fail("sem_post");
  return len;
}

// ---- factory and cleanup --------------------------------------------------------------

std::unique_ptr<RequestChannel> make_channel(char mechanism, const std::string& name, const std::string& prefix,
                                             Side side, int capacity) {
  switch (mechanism) {
    case 'f': return std::make_unique<FIFORequestChannel>(name, prefix, side, capacity);
    case 'q': return std::make_unique<MQRequestChannel>(name, prefix, side, capacity);
    case 's': return std::make_unique<SHMRequestChannel>(name, prefix, side, capacity);
  }
  throw std::invalid_argument(std::string("no channel mechanism '") + mechanism + "': use f, q or s");
}

void remove_channel_objects(char mechanism, const std::string& name, const std::string& prefix) {
  for (int d = 1; d <= 2; ++d) {
    if (mechanism == 'f') ::unlink(fifo_path(prefix, name, d).c_str());
    if (mechanism == 'q') ::mq_unlink(mq_name(prefix, name, d).c_str());
    if (mechanism == 's') {
      ::shm_unlink(shm_name(prefix, name, d).c_str());
      ::sem_unlink(free_sem_name(prefix, name, d).c_str());
      ::sem_unlink(ready_sem_name(prefix, name, d).c_str());
    }
  }
}

int client_main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "client: " << e.what() << "\n" << kUsageLine;
    return kUsage;
  }
  const std::string prefix = run_prefix(::getpid());
  remove_channel_objects(options.mechanism, "control", prefix);
  std::vector<std::string> names{"control"};
  try {
    ServerProcess server(options, prefix);
    try {
      run(options, prefix, server, names);
    } catch (const ChannelError& e) {
      return channel_failed(e, options, prefix, names, server);
    } catch (const RunError& e) {
      if (const std::string how = server.reap(); !how.empty()) std::cerr << "client: the server " << how << "\n";
      std::cerr << "client: " << e.what() << "\n";
      return e.status;
    }
    if (const std::string how = server.reap(); !how.empty()) {
      std::cerr << "client: the server " << how << "\n";
      return kServerFailed;
    }
  } catch (const RunError& e) {
    std::cerr << "client: " << e.what() << "\n";
    return e.status;
  }
  return kOk;
}

}  // namespace channels
