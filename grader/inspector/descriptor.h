#pragma once
// What the inspector and the launcher share: an owning descriptor, and the
// one way both report a failed system call.
//
//   ipclab::sandbox::Descriptor dir{::open("/dev/shm", O_RDONLY | O_CLOEXEC)};
//   if (dir.get() < 0) throw ipclab::sandbox::failed("open", "/dev/shm");
//   // closed when `dir` goes out of scope, whichever way that happens
//
// Header-only and free of the test harness on purpose: these programs run in
// every sandbox, and must not carry the harness's .preinit_array channel code.

#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace ipclab::sandbox {

class Descriptor {
 public:
  Descriptor() = default;
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { reset(); }

  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// The error for a failed call, naming the call and its argument, as in
// "open(/dev/shm): Permission denied". Reads errno: call it right away.
[[nodiscard]] inline std::system_error failed(std::string_view call, std::string_view argument) {
  const int error = errno;
  return std::system_error(error, std::generic_category(), std::string(call) + "(" + std::string(argument) + ")");
}

}  // namespace ipclab::sandbox
