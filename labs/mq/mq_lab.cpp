// Lab `mq`: your implementation. Read mq_lab.h first: it says exactly what
// each function must do. Replace each `throw` below with your code.
//
// Check your work with:   ./grade mq
//
// Headers you will likely want: <mqueue.h> (mq_open, mq_send, mq_receive,
// mq_timedreceive, mq_getattr, mq_setattr, mq_close, mq_unlink), <fcntl.h>
// (O_CREAT, O_EXCL, O_RDWR, O_NONBLOCK), <time.h> (clock_gettime), <cerrno>,
// <system_error>, <stdexcept>, <vector>.

#include "labs/mq/mq_lab.h"

#include <stdexcept>

namespace mqlab {

MessageQueue::MessageQueue(const std::string& name, std::size_t /*capacity*/, std::size_t /*message_size*/)
    : name_(name), owner_(true) {
  // TODO: check the name, capacity and message size (std::invalid_argument);
  // fill a struct mq_attr; mq_open with O_RDWR | O_CREAT | O_EXCL, 0600.
  throw std::logic_error("not implemented: MessageQueue (create) (mq_lab.cpp)");
}

MessageQueue::MessageQueue(const std::string& name) : name_(name) {
  // TODO: check the name; mq_open with O_RDWR only.
  throw std::logic_error("not implemented: MessageQueue (open) (mq_lab.cpp)");
}

MessageQueue::~MessageQueue() {
  // TODO: mq_close; the owner also mq_unlinks. (A destructor must not throw.)
}

std::size_t MessageQueue::capacity() const {
  // TODO: mq_getattr(queue_, &attributes): the capacity is mq_maxmsg.
  throw std::logic_error("not implemented: MessageQueue::capacity (mq_lab.cpp)");
}

std::size_t MessageQueue::message_size() const {
  // TODO: mq_getattr(queue_, &attributes): the message size is mq_msgsize.
  throw std::logic_error("not implemented: MessageQueue::message_size (mq_lab.cpp)");
}

void MessageQueue::send(std::string_view /*message*/, unsigned /*priority*/) {
  // TODO: mq_send(queue_, data, size, priority); retry EINTR; throw
  // std::system_error(errno, std::generic_category(), "mq_send") otherwise.
  throw std::logic_error("not implemented: MessageQueue::send (mq_lab.cpp)");
}

bool MessageQueue::try_send(std::string_view /*message*/, unsigned /*priority*/) {
  // TODO: set O_NONBLOCK with mq_setattr, send, clear it again (also when
  // the send fails); EAGAIN means "full": return false.
  throw std::logic_error("not implemented: MessageQueue::try_send (mq_lab.cpp)");
}

Message MessageQueue::receive() {
  // TODO: a buffer of message_size() bytes; mq_receive returns the length.
  throw std::logic_error("not implemented: MessageQueue::receive (mq_lab.cpp)");
}

std::optional<Message> MessageQueue::try_receive() {
  // TODO: as try_send: O_NONBLOCK for this one call; EAGAIN means "empty".
  throw std::logic_error("not implemented: MessageQueue::try_receive (mq_lab.cpp)");
}

std::optional<Message> MessageQueue::receive_for(std::chrono::milliseconds /*timeout*/) {
  // TODO: the deadline is clock_gettime(CLOCK_REALTIME) + timeout, as a
  // timespec (carry nanoseconds over 1e9 into seconds); mq_timedreceive
  // fails with ETIMEDOUT once it passes.
  throw std::logic_error("not implemented: MessageQueue::receive_for (mq_lab.cpp)");
}

}  // namespace mqlab
