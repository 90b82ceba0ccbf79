#pragma once
// What the fifo lab's tests share: the test's own FIFO ends and framing (so a
// test never depends on the code it grades for its side of a conversation),
// the message sequences the stress tests send, and a request/reply channel
// whose server fails.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/deadline.h"
#include "grader/harness/errno_error.h"
#include "grader/harness/fd.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/snapshot.h"
#include "labs/fifo/fifo_lab.h"

namespace fifolab::testing {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Reaching it means a hang: usually a write end left open.
using ipclab::kDeadline;
// What is left of a deadline shared by the processes of one test, so that
// waiting for several of them costs at most kDeadline in all.
using ipclab::Deadline;
using ipclab::has_ended;

// A FIFO node made by the test, for tests of the ends (the directory it is in
// removes it).
inline fs::path make_fifo(const fs::path& path) {
  if (::mkfifo(path.c_str(), 0600) != 0) ipclab::throw_errno("the test's mkfifo " + path.string());
  return path;
}

// Opens the test's end of a FIFO in the test process itself, never blocking
// in open(): retries a non-blocking open while the other side is not there
// yet (a write-only open fails with ENXIO until a reader exists), then makes
// the descriptor blocking. Throws when process `peer`, which should open the
// other end, ends first or the deadline passes.
inline ipclab::Fd open_end(const fs::path& path, int mode, pid_t peer) {
  ipclab::Fd end;
  const auto opened_or_peer_gone = [&] {
    const int fd = ::open(path.c_str(), mode | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
      end = ipclab::Fd(fd);
      return true;
    }
    if (errno != ENXIO) ipclab::throw_errno("the test could not open " + path.string());
    return has_ended(peer);
  };
  if (!ipclab::eventually(opened_or_peer_gone) || end.get() < 0) {
    throw std::runtime_error("the code under test never opened " + path.string() + " for reading");
  }
  if (::fcntl(end.get(), F_SETFL, 0) != 0) ipclab::throw_errno("the test's fcntl");
  return end;
}

// The test's write end of `path`, once the student's `reader` has opened the
// FIFO; when the reader ends without opening it, the error says how it ended.
inline ipclab::Fd open_writer_for(const fs::path& path, ipclab::Child& reader) {
  try {
    return open_end(path, O_WRONLY, reader.pid());
  } catch (const std::runtime_error&) {
    throw std::runtime_error("the reader never opened the FIFO for reading (the reader process: " +
                             reader.finish(kDeadline).describe() + ")");
  }
}

// Opens a FIFO end with a plain, blocking open(): for the test's side of a
// conversation when it runs in a child of its own.
inline ipclab::Fd open_blocking(const fs::path& path, int mode) {
  const int fd = ::open(path.c_str(), mode | O_CLOEXEC);
  if (fd < 0) ipclab::throw_errno("the test could not open " + path.string());
  return ipclab::Fd(fd);
}

// The test's framing, as fifo_lab.h defines it.
inline std::string frame(std::string_view message) {
  const auto length = static_cast<std::uint32_t>(message.size());
  std::string bytes(kHeaderSize, '\0');
  std::memcpy(bytes.data(), &length, kHeaderSize);
  return bytes.append(message);
}

inline std::size_t read_exactly(int fd, char* into, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, into + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ipclab::throw_errno("the test's read");
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

// The next frame's message; nullopt at EOF; throws on a frame cut short.
inline std::optional<std::string> read_frame(int fd) {
  std::uint32_t length = 0;
  const std::size_t got = read_exactly(fd, reinterpret_cast<char*>(&length), kHeaderSize);
  if (got == 0) return std::nullopt;
  std::string message(length, '\0');
  if (got < kHeaderSize || read_exactly(fd, message.data(), length) < length) {
    throw std::runtime_error("the FIFO ended inside a frame");
  }
  return message;
}

inline std::string with_id(RequestId id, std::string_view text) {
  std::string message(kIdSize, '\0');
  std::memcpy(message.data(), &id, kIdSize);
  return message.append(text);
}

inline RequestId id_of(const std::string& message) {
  RequestId id = 0;
  if (message.size() >= kIdSize) std::memcpy(&id, message.data(), kIdSize);
  return id;
}

// The test's reader for a writer that must block on a full FIFO: opens the
// FIFO, waits for a byte on `go` (sent once the writer is seen blocked), then
// reads two frames and end-of-stream. "" when they are `first` and `second`.
inline std::string drain_when_told(const fs::path& path, const ipclab::Pipe& go, const std::string& first,
                                   const std::string& second) {
  ipclab::Fd end = open_blocking(path, O_RDONLY);
  char byte;
  if (::read(go.read.get(), &byte, 1) != 1) return "the test's go signal did not arrive";
  const auto got_first = read_frame(end.get());
  if (!got_first) return "end-of-stream instead of the first message";
  if (*got_first != first) return "the first message: " + ipclab::first_difference(first, *got_first);
  const auto got_second = read_frame(end.get());
  if (got_second != second) return "the second message is missing or wrong";
  if (read_frame(end.get())) return "a message arrived after the last one sent";
  return "";
}

// The sizes of a long run of messages: mostly small, and every size around
// PIPE_BUF (4096) and the pipe's capacity (65536), 0 bytes included.
inline std::vector<std::size_t> mixed_sizes(std::size_t count) {
  static constexpr std::size_t kEdges[] = {0,    1,    2,    3,     4,     100,   4091,  4092,  4093,  4095,
                                           4096, 4097, 8192, 65531, 65532, 65535, 65536, 65537, 70000, 200000};
  std::vector<std::size_t> sizes;
  std::uint32_t state = 12345;
  for (std::size_t i = 0; i < count; ++i) {
    state = state * 1103515245u + 12345u;
    const std::uint32_t pick = state >> 16;
    // One message in four has an edge size; the rest are small, up to 600 bytes.
    sizes.push_back(pick % 4 == 0 ? kEdges[(pick / 4) % std::size(kEdges)] : pick % 601);
  }
  return sizes;
}

// Message `index` of a run: its bytes reveal a message repeated, cut or
// swapped with another.
inline std::string message_number(std::size_t index, std::size_t size) {
  return ipclab::pattern(size, static_cast<std::uint32_t>(index) + 1);
}

// Receives with the student's FifoReader until end-of-stream and compares
// with `sizes`; "" when every message arrived whole and in order, else what
// went wrong first. Runs in the reading child.
inline std::string receive_and_compare(const fs::path& path, const std::vector<std::size_t>& sizes) {
  FifoReader reader(path);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto got = reader.receive();
    const std::string where = "message " + std::to_string(i) + " of " + std::to_string(sizes.size());
    if (!got) return where + ": end-of-stream came too early";
    const std::string expected = message_number(i, sizes[i]);
    if (*got != expected) return where + ": " + ipclab::first_difference(expected, *got);
  }
  if (reader.receive()) return "a message arrived after the last one sent";
  return "";
}

// Waits until `count` FIFO nodes exist in `dir`, which a server in process
// `server` creates; false when that process ends first or the deadline passes.
inline bool wait_for_nodes(const fs::path& dir, std::size_t count, pid_t server) {
  const auto created = [&] { return ipclab::fifo_nodes(dir).size() >= count; };
  return ipclab::eventually([&] { return created() || has_ended(server); }) && created();
}

using Handler = std::function<std::string(std::string_view)>;
using ClientBody = std::function<std::string(const fs::path& base)>;

// A conversation between the student's RequestServer, made inside a process
// of its own and serving with `handler`, and the student's RequestClient,
// running `client` once the server's two FIFOs exist.
struct Conversation {
  ipclab::Outcome server;            // value: "served N"
  ipclab::Outcome client;            // value: what `client` returned
  std::set<std::string> nodes_left;  // FIFO nodes left once both are gone
};

inline Conversation converse(const Handler& handler, const ClientBody& client) {
  ipclab::ScratchDir dir;
  const fs::path base = dir.path() / "control";
  ipclab::Child server([&] {
    RequestServer requests(base);
    return "served " + std::to_string(requests.serve(handler));
  });
  Conversation run;
  if (!wait_for_nodes(dir.path(), 2, server.pid())) {
    run.server = server.finish(kDeadline);
    run.client.kind = ipclab::Outcome::Kind::threw;
    run.client.value = "the client was not started: the server never created its two FIFOs";
    run.nodes_left = ipclab::fifo_nodes(dir.path());
    return run;
  }
  ipclab::Child asking([&] { return client(base); });
  const Deadline deadline;
  run.client = asking.finish(deadline.left());
  run.server = server.finish(deadline.left());
  run.nodes_left = ipclab::fifo_nodes(dir.path());
  return run;
}

// A conversation whose server fails: its handler answers "fine" and throws
// on "boom"; the client asks both.
inline Conversation run_failing_server() {
  return converse(
      [](std::string_view text) -> std::string {
        if (text == "boom") throw std::runtime_error("the handler failed on purpose");
        return "answer to " + std::string(text);
      },
      [](const fs::path& base) {
        RequestClient channel(base);
        std::string transcript = channel.ask("fine");
        try {
          transcript += " | " + channel.ask("boom");
        } catch (const std::runtime_error&) {
          transcript += " | runtime_error";
        }
        return transcript;
      });
}

}  // namespace fifolab::testing
