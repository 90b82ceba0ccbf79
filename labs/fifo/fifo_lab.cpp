// Lab `fifo`: your implementation. Read fifo_lab.h first: it says exactly
// what each function must do. Replace each `throw` below with your code.
//
// Check your work with:   ./grade fifo
//
// Headers you will likely want: <sys/stat.h> (mkfifo, lstat, S_ISFIFO),
// <fcntl.h> (open, O_RDONLY, O_WRONLY, O_NONBLOCK, fcntl), <unistd.h> (read,
// write, close, unlink), <cerrno>, <cstring> (std::memcpy), <system_error>,
// <stdexcept>.

#include "labs/fifo/fifo_lab.h"

#include <stdexcept>

namespace fifolab {

// ---- Part 1 -----------------------------------------------------------------

FifoNode::FifoNode(std::filesystem::path path) : path_(std::move(path)) {
  // TODO: mkfifo(path_.c_str(), 0600). When it fails with EEXIST, lstat the
  // path: a FIFO is taken over; anything else is refused with
  // std::system_error(EEXIST, std::generic_category(), "<path>: ... not a FIFO").
  throw std::logic_error("not implemented: FifoNode (fifo_lab.cpp)");
}

FifoNode::~FifoNode() {
  // TODO: unlink the node. (A destructor must not throw.)
}

// ---- Part 2 -----------------------------------------------------------------

FifoWriter::FifoWriter(const std::filesystem::path& /*path*/, Open /*how*/) {
  // TODO: open O_WRONLY (plus O_NONBLOCK for Open::nonblocking); report
  // ENXIO clearly; then clear O_NONBLOCK again with fcntl(fd_, F_SETFL, ...).
  throw std::logic_error("not implemented: FifoWriter (fifo_lab.cpp)");
}

FifoWriter::~FifoWriter() {
  // TODO: close the descriptor.
}

void FifoWriter::send(std::string_view /*message*/) {
  // TODO: build the frame (length header, then the bytes) in one buffer and
  // write it all, looping on short writes and EINTR.
  throw std::logic_error("not implemented: FifoWriter::send (fifo_lab.cpp)");
}

FifoReader::FifoReader(const std::filesystem::path& /*path*/) {
  // TODO: open O_RDONLY (not O_RDWR: then you would never see EOF).
  throw std::logic_error("not implemented: FifoReader (fifo_lab.cpp)");
}

FifoReader::~FifoReader() {
  // TODO: close the descriptor.
}

std::optional<std::string> FifoReader::receive() {
  // TODO: read exactly kHeaderSize bytes (0 bytes at EOF: return
  // std::nullopt), then exactly `length` bytes. read() may return fewer
  // bytes than asked for: loop.
  throw std::logic_error("not implemented: FifoReader::receive (fifo_lab.cpp)");
}

// ---- Part 3 -----------------------------------------------------------------

std::size_t RequestServer::serve(const std::function<std::string(std::string_view)>& /*handler*/) {
  // TODO: open a FifoReader on the requests, then a FifoWriter on the
  // replies; for each request, send the handler's answer under its id.
  throw std::logic_error("not implemented: RequestServer::serve (fifo_lab.cpp)");
}

RequestId RequestClient::send_request(std::string_view /*text*/) {
  // TODO: take the next id, send id + text as one message, return the id.
  throw std::logic_error("not implemented: RequestClient::send_request (fifo_lab.cpp)");
}

std::string RequestClient::await_reply(RequestId /*id*/) {
  // TODO: a reply kept earlier? Return it. Otherwise receive replies until
  // the one for `id` arrives, keeping the others in early_replies_.
  throw std::logic_error("not implemented: RequestClient::await_reply (fifo_lab.cpp)");
}

}  // namespace fifolab
