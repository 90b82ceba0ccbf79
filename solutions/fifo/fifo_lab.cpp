// Lab `fifo`: the reference implementation.
#include "labs/fifo/fifo_lab.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace fifolab {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// open() on a FIFO may wait for the other side; a signal handled meanwhile
// interrupts it, which is no reason to give up.
int open_retrying(const std::filesystem::path& path, int flags) {
  for (;;) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

void write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("write");
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads exactly `size` bytes into `into`; returns how many it got before
// end-of-file (fewer than `size` only at EOF).
std::size_t read_fully(int fd, char* into, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, into + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read");
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::string with_id(RequestId id, std::string_view text) {
  std::string message(kIdSize, '\0');
  std::memcpy(message.data(), &id, kIdSize);
  message.append(text);
  return message;
}

RequestId id_of(const std::string& message) {
  if (message.size() < kIdSize) throw std::runtime_error("a message too short to hold a request id");
  RequestId id = 0;
  std::memcpy(&id, message.data(), kIdSize);
  return id;
}

}  // namespace

// ---- Part 1 -----------------------------------------------------------------

FifoNode::FifoNode(std::filesystem::path path) : path_(std::move(path)) {
  if (::mkfifo(path_.c_str(), 0600) == 0) return;
  if (errno != EEXIST) throw_errno("mkfifo " + path_.string());
  struct stat existing {};
  if (::lstat(path_.c_str(), &existing) != 0) throw_errno("lstat " + path_.string());
  if (!S_ISFIFO(existing.st_mode)) {
    throw std::system_error(EEXIST, std::generic_category(),
                            "mkfifo " + path_.string() + ": the path exists and is not a FIFO");
  }
  // A FIFO left behind by an earlier run: ours now, removed with us.
}

FifoNode::~FifoNode() { ::unlink(path_.c_str()); }

// ---- Part 2 -----------------------------------------------------------------

FifoWriter::FifoWriter(const std::filesystem::path& path, Open how) {
  const bool nonblocking = how == Open::nonblocking;
  fd_ = open_retrying(path, O_WRONLY | (nonblocking ? O_NONBLOCK : 0));
  if (fd_ < 0 && errno == ENXIO) {
    throw std::system_error(ENXIO, std::generic_category(),
                            "open " + path.string() + " for writing: no process has it open for reading");
  }
  if (fd_ < 0) throw_errno("open " + path.string() + " for writing");
  // O_NONBLOCK was for the open only: send() must wait on a full FIFO.
  if (nonblocking && ::fcntl(fd_, F_SETFL, 0) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::system_error(error, std::generic_category(), "fcntl " + path.string());
  }
}

FifoWriter::~FifoWriter() { ::close(fd_); }

void FifoWriter::send(std::string_view message) {
  const auto length = static_cast<std::uint32_t>(message.size());
  // Header and payload in one buffer, so a frame of up to PIPE_BUF bytes
  // goes out in one atomic write().
  std::string frame(kHeaderSize, '\0');
  std::memcpy(frame.data(), &length, kHeaderSize);
  frame.append(message);
  write_fully(fd_, frame);
}

FifoReader::FifoReader(const std::filesystem::path& path) {
  fd_ = open_retrying(path, O_RDONLY);
  if (fd_ < 0) throw_errno("open " + path.string() + " for reading");
}

FifoReader::~FifoReader() { ::close(fd_); }

std::optional<std::string> FifoReader::receive() {
  char header[kHeaderSize];
  const std::size_t got = read_fully(fd_, header, kHeaderSize);
  if (got == 0) return std::nullopt;  // EOF between two frames: the stream ended
  if (got < kHeaderSize) throw std::runtime_error("the stream ended inside a message header");
  std::uint32_t length = 0;
  std::memcpy(&length, header, kHeaderSize);
  std::string message(length, '\0');
  if (read_fully(fd_, message.data(), length) < length) {
    throw std::runtime_error("the stream ended inside a message of " + std::to_string(length) + " bytes");
  }
  return message;
}

// ---- Part 3 -----------------------------------------------------------------

std::size_t RequestServer::serve(const std::function<std::string(std::string_view)>& handler) {
  FifoReader requests(requests_.path());
  FifoWriter replies(replies_.path());
  std::size_t answered = 0;
  while (const auto request = requests.receive()) {
    const RequestId id = id_of(*request);
    replies.send(with_id(id, handler(std::string_view(*request).substr(kIdSize))));
    ++answered;
  }
  return answered;
}

RequestId RequestClient::send_request(std::string_view text) {
  const RequestId id = next_id_++;
  requests_.send(with_id(id, text));
  return id;
}

std::string RequestClient::await_reply(RequestId id) {
  if (const auto early = early_replies_.find(id); early != early_replies_.end()) {
    std::string text = std::move(early->second);
    early_replies_.erase(early);
    return text;
  }
  for (;;) {
    const auto reply = replies_.receive();
    if (!reply) {
      throw std::runtime_error("the server closed the reply FIFO before answering request " + std::to_string(id));
    }
    const RequestId answered = id_of(*reply);
    std::string text = reply->substr(kIdSize);
    if (answered == id) return text;
    early_replies_[answered] = std::move(text);
  }
}

}  // namespace fifolab
