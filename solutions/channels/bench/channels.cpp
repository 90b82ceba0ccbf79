// The lab's request channels, measured as a client uses them: the bundled
// server (built against the channel classes this binary links) is started
// with the data delay at 0, and this side asks it for data points (latency)
// or a file in chunks (throughput), over 1 or 4 channels opened with
// NEWCHANNEL, one thread per channel.
//
// Linked with a student's channels, this file runs in the same process as
// their code: its figures are the submission's, and the grader never takes
// a reference's or a baseline's figure from such a binary.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "labs/channels/channels_lab.h"
#include "labs/channels/channels_server.h"
#include "solutions/channels/bench/bench.h"

namespace bench {
namespace {

using channels::RequestChannel;

const std::vector<int> kChannelCounts{1, 4};

// ---- the server, started as the client starts it ------------------------------

class Server {
 public:
  Server(char mechanism, int capacity, const std::string& prefix) {
    std::vector<std::string> args = channels::server_command();
    for (const std::string& extra : {std::string("-i"), std::string(1, mechanism), std::string("-m"),
                                     std::to_string(capacity), std::string("-r"), prefix}) {
      args.push_back(extra);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::unsetenv("CHANNELS_DELAY_US");  // the benchmark's whole point: no artificial delay
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
    if (pid_ == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Server() {
    if (reaped_) return;
    ::kill(pid_, SIGKILL);
    reap();
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }

  // Waits for the server's end; true when it ended with status 0.
  bool reap() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// ---- a conversation: the control channel and `extra` channels -----------------

std::string fresh_prefix() {
  // Unique per measurement: a measurement never meets a previous one's objects.
  static int measurements = 0;
  return channels::run_prefix(::getpid()) + "b" + std::to_string(++measurements) + "_";
}

// One request, its reply checked: status ok and `expected` bytes of answer.
// Returns where the answer starts in `reply`.
const char* ask(RequestChannel& channel, const void* request, int length, std::vector<char>& reply, int expected) {
  channel.cwrite(request, length);
  const int got = channel.cread(reply.data(), static_cast<int>(reply.size()));
  channels::ReplyStatus status{};
  if (got >= static_cast<int>(sizeof status)) std::memcpy(&status, reply.data(), sizeof status);
  if (status != channels::ReplyStatus::ok || (expected >= 0 && got != expected + static_cast<int>(sizeof status))) {
    throw std::runtime_error("channel " + channel.name() + ": a reply of " + std::to_string(got) +
                             " bytes, not the ok reply expected");
  }
  return reply.data() + sizeof status;
}

class Session {
 public:
  Session(char mechanism, int capacity, int extra)
      : mechanism_(mechanism), capacity_(capacity), prefix_(fresh_prefix()) {
    channels::remove_channel_objects(mechanism_, "control", prefix_);
    server_ = std::make_unique<Server>(mechanism_, capacity_, prefix_);
    names_.push_back("control");
    control_ = open("control");
    std::vector<char> reply(static_cast<std::size_t>(capacity_));
    for (int i = 0; i < extra; ++i) {
      const auto type = channels::MessageType::new_channel;
      control_->cwrite(&type, sizeof type);
      const int got = control_->cread(reply.data(), capacity_);
      if (got <= static_cast<int>(sizeof(channels::ReplyStatus))) throw std::runtime_error("NEWCHANNEL failed");
      names_.emplace_back(reply.data() + sizeof(channels::ReplyStatus), reply.data() + got);
      workers_.push_back(open(names_.back()));
    }
  }

  // QUIT every channel, then the server's end; throws when it did not end well.
  void close() {
    const auto quit = channels::MessageType::quit;
    for (auto& worker : workers_) worker->cwrite(&quit, sizeof quit);
    control_->cwrite(&quit, sizeof quit);
    workers_.clear();
    control_.reset();
    if (!server_->reap()) throw std::runtime_error("the server did not end with status 0");
  }

  ~Session() {
    workers_.clear();
    control_.reset();
    server_.reset();  // killed and reaped if close() did not run
    for (const auto& name : names_) channels::remove_channel_objects(mechanism_, name, prefix_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  RequestChannel& control() { return *control_; }
  std::vector<std::unique_ptr<RequestChannel>>& workers() { return workers_; }
  [[nodiscard]] int capacity() const { return capacity_; }

 private:
  std::unique_ptr<RequestChannel> open(const std::string& name) {
    auto channel = channels::make_channel(mechanism_, name, prefix_, channels::Side::client, capacity_);
    const pid_t pid = server_->pid();
    channel->watch_peer([pid] { return channels::process_running(pid); });
    return channel;
  }

  char mechanism_;
  int capacity_;
  std::string prefix_;
  std::unique_ptr<Server> server_;
  std::vector<std::string> names_;
  std::unique_ptr<RequestChannel> control_;
  std::vector<std::unique_ptr<RequestChannel>> workers_;
};

// Runs work(i, channel) on every worker channel, one thread each, and returns
// the wall time of the part after each thread's warm-up: the threads meet at
// a barrier before the timed part, and the clock starts in the barrier's
// completion (before any thread is released) and stops when the last one
// ends, so a thread scheduled late cannot shorten the measurement.
template <typename Warm, typename Work>
double on_every_channel(Session& session, const Warm& warm, const Work& work) {
  auto& workers = session.workers();
  double started = 0;
  std::barrier ready(static_cast<std::ptrdiff_t>(workers.size()), [&started]() noexcept { started = now(); });
  std::vector<std::thread> threads;
  std::vector<double> ended(workers.size());
  std::vector<std::exception_ptr> failures(workers.size());
  for (std::size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        warm(i, *workers[i]);
      } catch (...) {
        failures[i] = std::current_exception();
      }
      ready.arrive_and_wait();
      try {
        if (!failures[i]) work(i, *workers[i]);
      } catch (...) {
        failures[i] = std::current_exception();
      }
      ended[i] = now();
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& failure : failures) {
    if (failure) std::rethrow_exception(failure);
  }
  return *std::max_element(ended.begin(), ended.end()) - started;
}

// ---- latency: small DATA requests ----------------------------------------------

channels::DataRequest data_request(int i) {
  channels::DataRequest request;
  request.person = 1 + i % channels::kPersons;
  request.seconds = (i % channels::kRows) * channels::kSecondsPerRow;
  request.ecg = 1 + i % 2;
  return request;
}

Latency latency(char mechanism, int extra, const Sizes& sizes) {
  Session session(mechanism, channels::kDefaultCapacity, extra);
  const int per_channel = sizes.round_trips / extra;
  std::vector<std::vector<double>> times(static_cast<std::size_t>(extra));
  const auto one = [&](RequestChannel& channel, int i) {
    std::vector<char> reply(static_cast<std::size_t>(session.capacity()));
    const auto request = data_request(i);
    ask(channel, &request, sizeof request, reply, sizeof(double));
  };
  const double wall = on_every_channel(
      session,
      [&](std::size_t, RequestChannel& channel) {
        for (int i = 0; i < sizes.warm_up; ++i) one(channel, i);
      },
      [&](std::size_t c, RequestChannel& channel) {
        for (int i = 0; i < per_channel; ++i) {
          const double sent = now();
          one(channel, i);
          times[c].push_back((now() - sent) * 1e6);
        }
      });
  session.close();
  std::vector<double> all;
  for (const auto& some : times) all.insert(all.end(), some.begin(), some.end());
  return summarise(std::move(all), wall);
}

// ---- throughput: a file in chunks -----------------------------------------------

// BIMDC/bench.bin: word n (8 bytes) holds n, so the first word of a chunk
// says whether the chunk came from the right offset.
void make_file(long long bytes) {
  static long long made = 0;
  if (made == bytes) return;
  std::vector<std::uint64_t> words(static_cast<std::size_t>(bytes / 8));
  for (std::size_t n = 0; n < words.size(); ++n) words[n] = n;
  ::mkdir("BIMDC", 0755);
  std::ofstream out(std::string("BIMDC/") + kBenchFile, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(words.data()), static_cast<std::streamsize>(bytes));
  if (!out.flush()) throw std::runtime_error("could not write BIMDC/bench.bin");
  made = bytes;
}

std::string file_request(std::int64_t offset, int length) {
  channels::FileRequest request;
  request.offset = offset;
  request.length = length;
  std::string message(sizeof request, '\0');
  std::memcpy(message.data(), &request, sizeof request);
  message.append(kBenchFile, sizeof kBenchFile);  // the name and its NUL
  return message;
}

// One thread's FILE requests for chunks of bench.bin: built once, since
// they differ only in the offset (the raw request/reply baseline builds
// nothing per chunk either).
class ChunkRequest {
 public:
  explicit ChunkRequest(int length) : message_(file_request(0, length)) {}
  const std::string& at(std::int64_t offset) {
    std::memcpy(message_.data() + offsetof(channels::FileRequest, offset), &offset, sizeof offset);
    return message_;
  }

 private:
  std::string message_;
};

void fetch_chunk(RequestChannel& channel, ChunkRequest& requests, std::int64_t offset, int chunk,
                 std::vector<char>& reply) {
  const std::string& request = requests.at(offset);
  const char* bytes = ask(channel, request.data(), static_cast<int>(request.size()), reply, chunk);
  std::uint64_t first = 0;
  std::memcpy(&first, bytes, sizeof first);
  if (first != static_cast<std::uint64_t>(offset / 8)) {
    throw std::runtime_error("the chunk at offset " + std::to_string(offset) + " holds other bytes");
  }
}

double throughput_mb_s(char mechanism, int extra, int chunk, const Sizes& sizes) {
  make_file(sizes.bulk_bytes);
  Session session(mechanism, chunk + static_cast<int>(sizeof(channels::ReplyStatus)), extra);
  std::vector<char> reply(static_cast<std::size_t>(session.capacity()));
  // The size request makes the server read and keep the file, untimed.
  ask(session.control(), file_request(0, 0).data(), static_cast<int>(file_request(0, 0).size()), reply,
      sizeof(std::int64_t));
  const long long chunks = sizes.bulk_bytes / chunk;
  // Each thread's reply buffer and requests, used by its warm-up first, so
  // the timed part never pays the buffer's first page faults.
  std::vector<std::vector<char>> replies(static_cast<std::size_t>(extra), std::vector<char>(reply.size()));
  std::vector<ChunkRequest> requests(static_cast<std::size_t>(extra), ChunkRequest(chunk));
  const double seconds = on_every_channel(
      session,
      [&](std::size_t c, RequestChannel& channel) {
        for (int i = 0; i < 2; ++i) fetch_chunk(channel, requests[c], 0, chunk, replies[c]);
      },
      [&](std::size_t c, RequestChannel& channel) {
        for (long long n = static_cast<long long>(c); n < chunks; n += extra) {
          fetch_chunk(channel, requests[c], n * chunk, chunk, replies[c]);
        }
      });
  session.close();
  return mb_per_s(chunks * chunk, seconds);
}

long msgsize_max() {
  std::ifstream limit("/proc/sys/fs/mqueue/msgsize_max");
  long value = 8192;  // the kernel's default, should the file be unreadable
  limit >> value;
  return value;
}

}  // namespace

void measure_channel(char mechanism, const Sizes& sizes, Figures& out) {
  ::signal(SIGPIPE, SIG_IGN);  // as the client does: a server gone is an error, not a death
  const std::string subject(1, mechanism);
  for (const int extra : kChannelCounts) {
    const Latency figures = latency(mechanism, extra, sizes);
    out.add(subject, extra, 0, "p50_us", figures.p50_us);
    out.add(subject, extra, 0, "p99_us", figures.p99_us);
    out.add(subject, extra, 0, "rps", figures.rps);
  }
  for (const int chunk : kChunks) {
    const long capacity = chunk + static_cast<long>(sizeof(channels::ReplyStatus));
    if (mechanism == 'q' && capacity > msgsize_max()) {
      out.skip(subject, chunk,
               "a chunk of " + std::to_string(chunk) + " bytes needs messages of " + std::to_string(capacity) +
                   " bytes; msgsize_max is " + std::to_string(msgsize_max()) + " (/proc/sys/fs/mqueue/msgsize_max)");
      continue;
    }
    for (const int extra : kChannelCounts) {
      out.add(subject, extra, chunk, "mb_s", throughput_mb_s(mechanism, extra, chunk, sizes));
    }
  }
}

}  // namespace bench
