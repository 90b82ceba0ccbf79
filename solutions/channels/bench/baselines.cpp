// Baselines: what this machine does with no protocol at all, measured in the
// same run as the channels so that a figure can be read as a ratio (absolute
// times on a shared machine move from run to run; ratios move much less).
//
// Each baseline moves what the channel it is compared with moves, the way
// that channel moves it: a file transfer asks for each chunk and waits for
// it, so the FIFO's baseline is a raw pipe request/reply copy (a stream
// overlaps chunks, which no request/reply protocol can); it copies the
// bytes of a whole file, so memcpy copies a file-sized source too (one
// chunk copied over and over stays in the cache, which no transfer of a
// file does).
//
// Always built from this file alone, never linked with a student's code: the
// grader takes the baselines from the reference's bench binary only.
#include <fcntl.h>
#include <mqueue.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "labs/channels/channels_lab.h"
#include "solutions/channels/bench/bench.h"

namespace bench {
namespace {

using ipclab::Child;
using ipclab::Pipe;

// A request and a reply of the size the channels' DATA requests have.
constexpr std::size_t kSmall = 32;
constexpr auto kDeadline = std::chrono::seconds(60);

[[noreturn]] void fail(const std::string& call) { throw std::system_error(errno, std::generic_category(), call); }

void read_exactly(int fd, char* into, std::size_t size) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::read(fd, into + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("read");
    done += static_cast<std::size_t>(n);
  }
}

void write_exactly(int fd, const char* from, std::size_t size) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, from + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write");
    done += static_cast<std::size_t>(n);
  }
}

void finish(Child& child, const char* what) {
  const ipclab::Outcome outcome = child.finish(kDeadline);
  if (!outcome.ok()) throw std::runtime_error(std::string(what) + ": the peer process " + outcome.describe());
}

void add_latency(Figures& out, const std::string& subject, const Latency& latency) {
  out.add(subject, 0, 0, "p50_us", latency.p50_us);
  out.add(subject, 0, 0, "p99_us", latency.p99_us);
  out.add(subject, 0, 0, "rps", latency.rps);
}

// Round trips of one small message through `round_trip`, the first
// sizes.warm_up untimed; each timed one's latency, and the wall time of all.
template <typename RoundTrip>
Latency timed_round_trips(const Sizes& sizes, RoundTrip round_trip) {
  char message[kSmall] = {};
  std::vector<double> times;
  double started = now();
  for (int i = 0; i < sizes.warm_up + sizes.round_trips; ++i) {
    if (i == sizes.warm_up) started = now();
    const double sent = now();
    round_trip(message);
    if (i >= sizes.warm_up) times.push_back((now() - sent) * 1e6);
  }
  return summarise(std::move(times), now() - started);
}

// ---- pipes ------------------------------------------------------------------

// Two pipes and an echoing child: the cheapest round trip the kernel offers
// two processes, and what a FIFO channel's round trip is compared with.
Latency pipe_pingpong(const Sizes& sizes) {
  Pipe there, back;
  const int total = sizes.warm_up + sizes.round_trips;
  Child echo([&] {
    char message[kSmall];
    for (int i = 0; i < total; ++i) {
      read_exactly(there.read.get(), message, sizeof message);
      write_exactly(back.write.get(), message, sizeof message);
    }
    return std::string();
  });
  const Latency latency = timed_round_trips(sizes, [&](char* message) {
    write_exactly(there.write.get(), message, kSmall);
    read_exactly(back.read.get(), message, kSmall);
  });
  finish(echo, "pipe ping-pong");
  return latency;
}

// A child writes `bytes` in writes of `chunk`; this side reads them with a
// buffer of `chunk`. Streaming, one direction, no request per chunk: the
// most a pipe moves. Shown beside the channels (what a request per chunk
// costs against a stream), but no channel is divided by it: see pipe_fetch.
double pipe_bulk_mb_s(int chunk, long long bytes) {
  Pipe pipe;
  Child writer([&] {
    std::vector<char> data(static_cast<std::size_t>(chunk), 'x');
    for (long long sent = 0; sent < 2 * bytes; sent += chunk) write_exactly(pipe.write.get(), data.data(), data.size());
    return std::string();
  });
  pipe.write.reset();
  std::vector<char> buffer(static_cast<std::size_t>(chunk));
  // The first half warms up (page faults, the pipe's pages), the second is timed.
  for (long long got = 0; got < bytes; got += chunk) read_exactly(pipe.read.get(), buffer.data(), buffer.size());
  const double started = now();
  for (long long got = 0; got < bytes; got += chunk) read_exactly(pipe.read.get(), buffer.data(), buffer.size());
  const double seconds = now() - started;
  finish(writer, "pipe bulk copy");
  return mb_per_s(bytes, seconds);
}

// A file transfer with no protocol: a child holds a file of `bytes` bytes
// and answers each request (an offset, in a message the size of the
// channels' FILE request) with the `chunk` bytes there, in one write; this
// side asks for every chunk in turn and reads each reply whole before it
// asks again. Pipes as pipe() makes them. Warmed up and timed as the
// channels' transfers are (two chunks first, then every chunk once): what
// a FIFO channel's file transfer (and a queue's) is compared with.
double pipe_fetch_mb_s(int chunk, long long bytes) {
  Pipe requests, replies;
  constexpr int kWarmUp = 2;
  const long long chunks = bytes / chunk;
  Child server([&] {
    const std::vector<char> file(static_cast<std::size_t>(bytes), 'x');
    char request[kFileRequestBytes];
    for (long long n = 0; n < kWarmUp + chunks; ++n) {
      read_exactly(requests.read.get(), request, sizeof request);
      std::int64_t offset = 0;
      std::memcpy(&offset, request, sizeof offset);
      write_exactly(replies.write.get(), file.data() + offset, static_cast<std::size_t>(chunk));
    }
    return std::string();
  });
  replies.write.reset();  // a child that died is end-of-file here, not a wait for ever
  std::vector<char> reply(static_cast<std::size_t>(chunk));
  const auto fetch = [&](std::int64_t offset) {
    char request[kFileRequestBytes] = {};
    std::memcpy(request, &offset, sizeof offset);
    write_exactly(requests.write.get(), request, sizeof request);
    read_exactly(replies.read.get(), reply.data(), reply.size());
  };
  for (int n = 0; n < kWarmUp; ++n) fetch(0);
  const double started = now();
  for (long long n = 0; n < chunks; ++n) fetch(n * chunk);
  const double seconds = now() - started;
  finish(server, "pipe request/reply copy");
  return mb_per_s(chunks * chunk, seconds);
}

// ---- message queues ------------------------------------------------------------

// An mq_open'd queue that is closed and unlinked when it goes.
class Queue {
 public:
  Queue(std::string name, int flags) : name_(std::move(name)) {
    mq_attr attr{};
    attr.mq_maxmsg = 1;
    attr.mq_msgsize = kSmall;
    queue_ = ::mq_open(name_.c_str(), flags | O_CREAT, 0600, &attr);
    if (queue_ == static_cast<mqd_t>(-1)) fail("mq_open " + name_);
  }
  ~Queue() {
    ::mq_close(queue_);
    ::mq_unlink(name_.c_str());
  }
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  void send(const char* message) const {
    while (::mq_send(queue_, message, kSmall, 0) != 0) {
      if (errno != EINTR) fail("mq_send " + name_);
    }
  }
  void receive(char* message) const {
    while (::mq_receive(queue_, message, kSmall, nullptr) < 0) {
      if (errno != EINTR) fail("mq_receive " + name_);
    }
  }

 private:
  std::string name_;
  mqd_t queue_;
};

// Two queues of depth 1, as the channels use them, and an echoing child.
Latency mq_pingpong(const Sizes& sizes) {
  const std::string prefix = "/bench" + std::to_string(::getpid()) + "_";
  const Queue there(prefix + "there", O_RDWR);
  const Queue back(prefix + "back", O_RDWR);
  const int total = sizes.warm_up + sizes.round_trips;
  Child echo([&] {
    char message[kSmall];
    for (int i = 0; i < total; ++i) {
      there.receive(message);
      back.send(message);
    }
    return std::string();
  });
  const Latency latency = timed_round_trips(sizes, [&](char* message) {
    there.send(message);
    back.receive(message);
  });
  finish(echo, "message-queue ping-pong");
  return latency;
}

// ---- memory --------------------------------------------------------------------

// memcpy of a file of `bytes` bytes, `chunk` bytes at a time, into one
// buffer of `chunk` bytes: the bytes a file transfer moves, each copied
// once. One copy is the least a message costs, and a shared-memory channel
// copies each chunk twice (into the segment, out of it). Four passes over
// the file after one untimed pass, so the figure is not one scheduler tick.
double memcpy_mb_s(int chunk, long long bytes) {
  const std::vector<char> file(static_cast<std::size_t>(bytes), 'x');
  std::vector<char> to(static_cast<std::size_t>(chunk));
  const auto copy_all = [&] {
    for (long long offset = 0; offset + chunk <= bytes; offset += chunk) {
      std::memcpy(to.data(), file.data() + offset, to.size());
      // The compiler may not drop a copy whose result is never read.
      asm volatile("" : : "r"(to.data()) : "memory");
    }
  };
  constexpr int kPasses = 4;
  copy_all();  // warm-up: page faults
  const double started = now();
  for (int pass = 0; pass < kPasses; ++pass) copy_all();
  return mb_per_s(kPasses * (bytes / chunk) * chunk, now() - started);
}

}  // namespace

void measure_baselines(const Sizes& sizes, Figures& out) {
  add_latency(out, "pipe_pingpong", pipe_pingpong(sizes));
  add_latency(out, "mq_pingpong", mq_pingpong(sizes));
  for (const int chunk : kChunks) {
    out.add("pipe_bulk", 0, chunk, "mb_s", pipe_bulk_mb_s(chunk, sizes.bulk_bytes));
    out.add("pipe_fetch", 0, chunk, "mb_s", pipe_fetch_mb_s(chunk, sizes.bulk_bytes));
    out.add("memcpy", 0, chunk, "mb_s", memcpy_mb_s(chunk, sizes.bulk_bytes));
  }
}

}  // namespace bench
