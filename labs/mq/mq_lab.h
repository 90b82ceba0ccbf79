#pragma once
// Lab `mq` — POSIX message queues: mq_open, mq_send, mq_receive, mq_getattr,
// mq_setattr, mq_close, mq_unlink.
//
// A message queue is a *mailbox* in the lecture's words: indirect message
// passing. Processes never name each other; they share a mailbox with a name
// such as "/requests", kept by the kernel. Unlike a pipe, a queue carries
// whole messages — each receive returns exactly one message, as it was sent —
// and every message has a priority: the queue hands out the highest priority
// first, and messages of one priority in the order they were sent.
//
// In this lab you build one class, MessageQueue, declared below: a handle on
// a queue that either creates it (the owner, whose destructor removes the
// name: "cleanup via unlink") or opens an existing one (a user). Implement it
// in mq_lab.cpp. This header is the contract the tests use: do not change it.
//
// Facts you will need (see `man 7 mq_overview`, `man 3 mq_open`, ...):
//   * A queue has a capacity (mq_maxmsg: how many messages it holds) and a
//     message size (mq_msgsize: the largest message it accepts), fixed when
//     it is created. An ordinary user may ask for at most 10 messages of at
//     most 8192 bytes (/proc/sys/fs/mqueue/msg_max and msgsize_max).
//   * mq_receive needs a buffer of at least the queue's message size, even for
//     a short message, or it fails with EMSGSIZE. Ask mq_getattr for it.
//   * mq_send on a full queue and mq_receive on an empty one block — the
//     kernel puts the process to sleep (synchronous message passing). With
//     O_NONBLOCK set on the descriptor (mq_setattr) they fail with EAGAIN
//     instead (asynchronous). mq_timedreceive waits until an absolute time on
//     CLOCK_REALTIME, then fails with ETIMEDOUT.
//   * A queue lives in the kernel, visible in /dev/mqueue, until it is
//     unlinked — even after every process has closed it. mq_unlink removes
//     the name at once; processes that have the queue open keep using it.
//   * Queue data is raw bytes: a message may contain '\0', so it is never a
//     C string. Its length is what mq_receive returns.

#include <mqueue.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mqlab {

// The limits a queue must stay within (the Linux defaults for msg_max and
// msgsize_max), and the longest name after its '/' (NAME_MAX).
inline constexpr std::size_t kMaxCapacity = 10;
inline constexpr std::size_t kMaxMessageSize = 8192;
inline constexpr std::size_t kMaxNameLength = 255;

// One message and the priority it was sent with.
struct Message {
  std::string data;
  unsigned priority = 0;
};

// A handle on one POSIX message queue: a mailbox shared by any processes
// that know its name.
//
//   {
//     mqlab::MessageQueue mailbox("/jobs", 10, 256);  // creates "/jobs": the owner
//     mailbox.send("urgent", 9);
//     // another process: mqlab::MessageQueue("/jobs").receive() -> {"urgent", 9}
//   }                                                // "/jobs" is unlinked here
class MessageQueue {
 public:
  // Creates the queue `name` (O_CREAT | O_EXCL, mode 0600) with room for
  // `capacity` messages of at most `message_size` bytes each, open for
  // sending and receiving. This handle is the queue's owner: its destructor
  // removes the queue's name.
  //
  // A valid name is '/' followed by 1 to kMaxNameLength characters, none of
  // them '/'. Throws std::invalid_argument, whose message names the problem,
  // for an invalid name, a capacity outside 1..kMaxCapacity or a message size
  // outside 1..kMaxMessageSize — before asking the kernel for anything.
  // Throws std::system_error with errno EEXIST when a queue of that name
  // exists already, and std::system_error carrying errno on other failures.
  MessageQueue(const std::string& name, std::size_t capacity, std::size_t message_size);

  // Opens the existing queue `name` for sending and receiving. This handle
  // is a user: its destructor closes it and leaves the queue to its owner.
  // Throws std::invalid_argument for an invalid name (as above), and
  // std::system_error carrying errno on failure (ENOENT: no such queue).
  explicit MessageQueue(const std::string& name);

  // Closes the descriptor (mq_close); the owner also removes the name
  // (mq_unlink), so no queue is left behind in /dev/mqueue. A user's
  // destructor leaves the messages in the queue for the others; once the
  // owner has removed the name, they go with the last handle. A destructor
  // must not throw.
  ~MessageQueue();

  MessageQueue(const MessageQueue&) = delete;
  MessageQueue& operator=(const MessageQueue&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }

  // The queue's capacity and message size, as the kernel reports them
  // (mq_getattr) — for a user handle too, which did not choose them.
  [[nodiscard]] std::size_t capacity() const;
  [[nodiscard]] std::size_t message_size() const;

  // Sends `message` with `priority` (0 is the lowest), blocking while the
  // queue is full. Throws std::system_error with errno EMSGSIZE when the
  // message is longer than message_size() (nothing is sent), and
  // std::system_error carrying errno on any other failure. Retries EINTR.
  void send(std::string_view message, unsigned priority = 0);

  // Sends without blocking: returns false at once, sending nothing, when the
  // queue is full ("would block": EAGAIN). Other errors as for send().
  // Afterwards the handle blocks again as before.
  [[nodiscard]] bool try_send(std::string_view message, unsigned priority = 0);

  // Receives the oldest message of the highest priority present, blocking
  // while the queue is empty. Each call returns exactly one whole message.
  // Throws std::system_error carrying errno on failure. Retries EINTR.
  [[nodiscard]] Message receive();

  // Receives without blocking: returns std::nullopt at once when the queue
  // is empty ("would block": EAGAIN). Afterwards the handle blocks again.
  [[nodiscard]] std::optional<Message> try_receive();

  // Receives, waiting at most `timeout` for a message to arrive; returns
  // std::nullopt when none came in that time (ETIMEDOUT).
  [[nodiscard]] std::optional<Message> receive_for(std::chrono::milliseconds timeout);

 private:
  std::string name_;
  mqd_t queue_ = static_cast<mqd_t>(-1);
  bool owner_ = false;
};

}  // namespace mqlab
