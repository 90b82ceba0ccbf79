#include "grader/harness/fd.h"

#include "grader/harness/errno_error.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace ipclab {

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.release();
  }
  return *this;
}

int Fd::release() {
  const int fd = fd_;
  fd_ = -1;
  return fd;
}

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Pipe::Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  read = Fd(fds[0]);
  write = Fd(fds[1]);
}

void write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("write");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void write_unless_reader_ended(int fd, std::string_view data) {
  try {
    write_fully(fd, data);
  } catch (const std::system_error& error) {
    if (error.code().value() != EPIPE) throw;
  }
}

std::string read_until_eof(int fd) {
  std::string all;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read");
    if (n == 0) return all;
    all.append(buffer, static_cast<size_t>(n));
  }
}

Fd memory_file(const char* name) {
  const int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) throw_errno("memfd_create");
  return Fd(fd);
}

std::string content_of(int fd) {
  if (::lseek(fd, 0, SEEK_SET) < 0) throw_errno("lseek");
  return read_until_eof(fd);
}

}  // namespace ipclab
