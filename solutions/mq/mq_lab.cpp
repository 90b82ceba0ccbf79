// Lab `mq`: the reference implementation.
#include "labs/mq/mq_lab.h"

#include <fcntl.h>
#include <time.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace mqlab {
namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void check_name(const std::string& name) {
  const bool valid =
      name.size() >= 2 && name.size() <= kMaxNameLength + 1 && name[0] == '/' && name.find('/', 1) == std::string::npos;
  if (!valid) {
    throw std::invalid_argument("invalid queue name \"" + name + "\": a name is '/' followed by 1 to " +
                                std::to_string(kMaxNameLength) + " characters, none of them '/'");
  }
}

void check_size(const char* what, std::size_t value, std::size_t most) {
  if (value < 1 || value > most) {
    throw std::invalid_argument(std::string(what) + " " + std::to_string(value) + " is outside 1.." +
                                std::to_string(most));
  }
}

mq_attr attributes_of(mqd_t queue) {
  mq_attr attributes{};
  if (::mq_getattr(queue, &attributes) != 0) throw_errno("mq_getattr");
  return attributes;
}

// Sets O_NONBLOCK on the descriptor for one call, and clears it again
// however the call ends, so the handle blocks as before.
class NonBlockingCall {
 public:
  explicit NonBlockingCall(mqd_t queue) : queue_(queue) { set_flags(O_NONBLOCK); }
  ~NonBlockingCall() { set_flags(0); }
  NonBlockingCall(const NonBlockingCall&) = delete;
  NonBlockingCall& operator=(const NonBlockingCall&) = delete;

 private:
  void set_flags(long flags) {
    mq_attr attributes{};
    attributes.mq_flags = flags;
    ::mq_setattr(queue_, &attributes, nullptr);  // only fails for a bad descriptor
  }
  mqd_t queue_;
};

// mq_timedreceive wants an absolute time on CLOCK_REALTIME.
timespec realtime_after(std::chrono::milliseconds timeout) {
  timespec at{};
  ::clock_gettime(CLOCK_REALTIME, &at);
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count() + at.tv_nsec;
  at.tv_sec += static_cast<time_t>(ns / 1'000'000'000);
  at.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return at;
}

}  // namespace

MessageQueue::MessageQueue(const std::string& name, std::size_t capacity, std::size_t message_size)
    : name_(name), owner_(true) {
  check_name(name);
  check_size("capacity", capacity, kMaxCapacity);
  check_size("message size", message_size, kMaxMessageSize);
  mq_attr attributes{};
  attributes.mq_maxmsg = static_cast<long>(capacity);
  attributes.mq_msgsize = static_cast<long>(message_size);
  queue_ = ::mq_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600, &attributes);
  if (queue_ == static_cast<mqd_t>(-1)) throw_errno("mq_open " + name + " (create)");
}

MessageQueue::MessageQueue(const std::string& name) : name_(name) {
  check_name(name);
  queue_ = ::mq_open(name.c_str(), O_RDWR);
  if (queue_ == static_cast<mqd_t>(-1)) throw_errno("mq_open " + name);
}

MessageQueue::~MessageQueue() {
  ::mq_close(queue_);
  if (owner_) ::mq_unlink(name_.c_str());
}

std::size_t MessageQueue::capacity() const { return static_cast<std::size_t>(attributes_of(queue_).mq_maxmsg); }

std::size_t MessageQueue::message_size() const { return static_cast<std::size_t>(attributes_of(queue_).mq_msgsize); }

void MessageQueue::send(std::string_view message, unsigned priority) {
  while (::mq_send(queue_, message.data(), message.size(), priority) != 0) {
    if (errno == EINTR) continue;
    if (errno == EMSGSIZE) {
      throw std::system_error(EMSGSIZE, std::generic_category(),
                              "mq_send " + name_ + ": a message of " + std::to_string(message.size()) +
                                  " bytes is longer than the queue's message size");
    }
    throw_errno("mq_send " + name_);
  }
}

bool MessageQueue::try_send(std::string_view message, unsigned priority) {
  const NonBlockingCall once(queue_);
  try {
    send(message, priority);
  } catch (const std::system_error& e) {
    if (e.code() == std::errc::resource_unavailable_try_again) return false;
    throw;
  }
  return true;
}

Message MessageQueue::receive() {
  // The buffer must hold the queue's largest message, whatever comes.
  std::vector<char> buffer(message_size());
  unsigned priority = 0;
  for (;;) {
    const ssize_t n = ::mq_receive(queue_, buffer.data(), buffer.size(), &priority);
    if (n >= 0) return {std::string(buffer.data(), static_cast<std::size_t>(n)), priority};
    if (errno != EINTR) throw_errno("mq_receive " + name_);
  }
}

std::optional<Message> MessageQueue::try_receive() {
  const NonBlockingCall once(queue_);
  try {
    return receive();
  } catch (const std::system_error& e) {
    if (e.code() == std::errc::resource_unavailable_try_again) return std::nullopt;
    throw;
  }
}

std::optional<Message> MessageQueue::receive_for(std::chrono::milliseconds timeout) {
  std::vector<char> buffer(message_size());
  const timespec deadline = realtime_after(timeout);
  unsigned priority = 0;
  for (;;) {
    const ssize_t n = ::mq_timedreceive(queue_, buffer.data(), buffer.size(), &priority, &deadline);
    if (n >= 0) return Message{std::string(buffer.data(), static_cast<std::size_t>(n)), priority};
    if (errno == ETIMEDOUT) return std::nullopt;
    if (errno != EINTR) throw_errno("mq_timedreceive " + name_);
  }
}

}  // namespace mqlab
