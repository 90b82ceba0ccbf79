#pragma once
// Lab `fifo` — named pipes: mkfifo, open, read/write, close, unlink.
//
// A FIFO (a *named* pipe) is a pipe with a name in the file system. Two
// processes that are not related at all — no fork between them — can talk
// through it, as long as they agree on the path: the server side creates the
// node with mkfifo(), each side open()s it, one for reading and one for
// writing, and the server side removes the name with unlink() when it is done
// ("cleanup via unlink"). In this lab you build, each part declared below:
//
//   1. FifoNode                   — creates the node, and removes it when destroyed;
//   2. FifoWriter / FifoReader    — the two ends, carrying whole *messages*;
//   3. RequestServer / RequestClient — a request/reply channel over two FIFOs,
//                                   like the `control` channel of a client/server.
//
// Implement them in fifo_lab.cpp. This header is the contract the tests use:
// do not change it.
//
// Facts you will need (see `man 7 fifo`, `man 7 pipe`, `man 3 mkfifo`):
//   * Opening a FIFO is a rendezvous: open(path, O_RDONLY) blocks until some
//     process opens it for writing, and open(path, O_WRONLY) blocks until
//     some process opens it for reading. With O_NONBLOCK, a read-only open
//     returns at once, and a write-only open with no reader fails with ENXIO.
//   * Once open, a FIFO behaves exactly like an unnamed pipe: a bounded buffer
//     of 64 KiB, a *byte stream* (the kernel keeps no message boundaries),
//     read() returns 0 (end-of-file) once every writer has closed, and a
//     write() of at most PIPE_BUF (4096) bytes is atomic: it is never mixed
//     with another writer's bytes.
//   * O_RDWR on a FIFO always succeeds on Linux, and makes the process a
//     writer too — so a reader that opens O_RDWR never sees end-of-file.
//   * The node stays in the file system after every process has closed it,
//     until someone unlinks it. Whoever creates it must remove it, on every
//     path out, an exception included: that is a destructor's job.
//   * A blocking call is "synchronous": the kernel puts the process to sleep
//     until it can go on. Never retry an O_NONBLOCK call in a loop instead
//     (busy-waiting).

#include <limits.h>  // PIPE_BUF

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fifolab {

// ---- Part 1: the FIFO node ------------------------------------------------

// Owns a FIFO node in the file system: the server side of a channel.
//
//   {
//     fifolab::FifoNode node("/tmp/control");   // the node now exists
//     ...                                      // clients open it by that path
//   }                                          // and here it is gone again
class FifoNode {
 public:
  // Creates a FIFO at `path` with mkfifo(path, 0600).
  //
  // If `path` already exists and IS a FIFO (left behind by an earlier run
  // that crashed), takes it over: it is removed when this object is gone.
  // If `path` exists and is NOT a FIFO (a regular file, a directory, ...),
  // leaves it untouched and throws std::system_error with errno EEXIST whose
  // message names the path and says it is not a FIFO.
  // Any other failure throws std::system_error carrying errno.
  explicit FifoNode(std::filesystem::path path);

  // Removes the node (unlink). Runs however the owner's scope is left,
  // through an exception too. A destructor must not throw: if unlink fails
  // there is nobody left to tell.
  ~FifoNode();

  FifoNode(const FifoNode&) = delete;
  FifoNode& operator=(const FifoNode&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// ---- Part 2: messages through a FIFO --------------------------------------

// A pipe is a byte stream: two writes may arrive as one read, one write as
// several. To keep message boundaries, every message travels as a *frame*:
//
//   [ length: std::uint32_t, kHeaderSize bytes, host byte order ][ length bytes ]
//
// A message may be empty (length 0): that is a message, not end-of-file.
inline constexpr std::size_t kHeaderSize = sizeof(std::uint32_t);

// The largest message whose whole frame fits in PIPE_BUF: sent with ONE
// write(), it is atomic, so several writers' messages never interleave.
inline constexpr std::size_t kMaxAtomicMessage = PIPE_BUF - kHeaderSize;

// How to open the write end.
enum class Open {
  blocking,     // wait in open() until a reader opens the FIFO
  nonblocking,  // fail at once with ENXIO when no process has it open for reading
};

// The write end of a FIFO: opens it, sends framed messages, closes it.
class FifoWriter {
 public:
  // Opens `path` for writing (O_WRONLY).
  //
  // Open::blocking waits until a reader opens the FIFO. Open::nonblocking
  // uses O_NONBLOCK: when no process has the FIFO open for reading, throws
  // std::system_error with errno ENXIO whose message names the path and says
  // that no reader is there. Once open, the descriptor is switched back to
  // blocking mode (fcntl), so send() waits on a full FIFO in both cases.
  // Any other failure throws std::system_error carrying errno.
  explicit FifoWriter(const std::filesystem::path& path, Open how = Open::blocking);

  // Closes the write end: when the last writer closes, the reader sees EOF.
  ~FifoWriter();

  FifoWriter(const FifoWriter&) = delete;
  FifoWriter& operator=(const FifoWriter&) = delete;

  // Sends `message` as one frame, of any size from 0 bytes to many MiB.
  // Blocks while the FIFO is full. A frame of at most PIPE_BUF bytes (that
  // is, a message of at most kMaxAtomicMessage bytes) goes out in a single
  // write(), so it is never interleaved with another writer's messages.
  // Retries EINTR; throws std::system_error carrying errno on any other
  // failure (EPIPE when no reader is left and SIGPIPE is ignored).
  void send(std::string_view message);

 private:
  int fd_ = -1;
};

// The read end of a FIFO: opens it, receives framed messages, closes it.
class FifoReader {
 public:
  // Opens `path` for reading (O_RDONLY), waiting until a writer opens it.
  // Throws std::system_error carrying errno on failure.
  explicit FifoReader(const std::filesystem::path& path);
  ~FifoReader();

  FifoReader(const FifoReader&) = delete;
  FifoReader& operator=(const FifoReader&) = delete;

  // Receives the next whole message, blocking while the FIFO is empty and a
  // writer still has it open. Returns std::nullopt at end-of-stream: every
  // writer has closed the FIFO between two messages.
  // Throws std::runtime_error when the stream ends in the middle of a frame
  // (a writer died half-way through a message), and std::system_error
  // carrying errno on a read error. Retries EINTR.
  [[nodiscard]] std::optional<std::string> receive();

 private:
  int fd_ = -1;
};

// ---- Part 3: request and reply ---------------------------------------------

// A FIFO carries bytes one way, so a conversation needs two of them: clients
// write requests into `<base>.req`, the server writes replies into
// `<base>.rep`. Both sides open them in the same order — requests first,
// then replies — because each open() waits for the other side's matching
// open: opening them in opposite orders leaves both processes waiting forever.
inline std::filesystem::path requests_path(const std::filesystem::path& base) { return base.string() + ".req"; }
inline std::filesystem::path replies_path(const std::filesystem::path& base) { return base.string() + ".rep"; }

// Every request and every reply is one message (Part 2) that starts with the
// request's id, kIdSize bytes in host byte order, followed by the text. A
// reply carries the id of the request it answers, which is how a client that
// has several requests outstanding matches replies to requests.
using RequestId = std::uint32_t;
inline constexpr std::size_t kIdSize = sizeof(RequestId);

// The server side: owns both FIFO nodes, and answers requests.
class RequestServer {
 public:
  // Creates both FIFOs (see FifoNode). Does not open them: that is serve()'s
  // job, so creating a server never blocks.
  explicit RequestServer(const std::filesystem::path& base)
      : requests_(requests_path(base)), replies_(replies_path(base)) {}

  // Opens the request FIFO for reading, then the reply FIFO for writing, and
  // answers every request: for each one, sends back handler(text) under the
  // request's own id. Returns how many requests it answered once the client
  // has closed the request FIFO (end-of-stream).
  // An exception from `handler` propagates out of serve(); both FIFOs are
  // closed on the way out, so the client sees end-of-stream, not a hang.
  // Throws std::runtime_error for a message too short to hold an id.
  std::size_t serve(const std::function<std::string(std::string_view)>& handler);

 private:
  // Destroyed, like every member, whenever the server is: both nodes go.
  FifoNode requests_;
  FifoNode replies_;
};

// The client side: opens both FIFOs, sends requests, collects replies.
class RequestClient {
 public:
  // Opens the request FIFO for writing, then the reply FIFO for reading
  // (members are constructed in the order they are declared below), each
  // open waiting until the server opens the other end.
  explicit RequestClient(const std::filesystem::path& base)
      : requests_(requests_path(base)), replies_(replies_path(base)) {}

  // Sends `text` as a new request and returns its id. Ids are 1, 2, 3, ...
  // in the order requests are sent; no two requests of a client share one.
  RequestId send_request(std::string_view text);

  // Returns the reply to request `id`, which this client has sent, waiting
  // for it if need be. Replies to other requests that arrive first are kept
  // until they are asked for, so replies can be collected in any order.
  // Throws std::runtime_error when the server closes the reply FIFO before
  // that reply arrives (the server failed), or sends a malformed reply.
  std::string await_reply(RequestId id);

  // One request and its reply.
  std::string ask(std::string_view text) { return await_reply(send_request(text)); }

 private:
  FifoWriter requests_;
  FifoReader replies_;
  RequestId next_id_ = 1;
  std::map<RequestId, std::string> early_replies_;  // arrived before they were asked for
};

}  // namespace fifolab
