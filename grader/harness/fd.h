#pragma once
// Descriptors for the test side: an owning Fd, a pipe whose ends close
// themselves, and read/write loops the tests trust (they are the harness's,
// not the student's, so a test never depends on the code it is grading).
//
//   ipclab::Pipe pipe;                       // both ends close-on-exec
//   ipclab::write_fully(pipe.write.get(), "hello");
//   pipe.write.reset();                      // the reader can now see EOF
//   std::string got = ipclab::read_until_eof(pipe.read.get());

#include <string>
#include <string_view>

namespace ipclab {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  [[nodiscard]] int get() const { return fd_; }
  [[nodiscard]] int release();
  void reset();

 private:
  int fd_ = -1;
};

struct Pipe {
  Pipe();  // pipe2(O_CLOEXEC); throws std::system_error on failure
  Fd read;
  Fd write;
};

// Writes every byte, retrying short writes and EINTR; throws std::system_error.
void write_fully(int fd, std::string_view data);
// As write_fully, but a reading end that has closed (EPIPE) ends the write
// quietly. For writes to a process under test that may already have ended (a
// skeleton that threw, a read that gave up on EINTR): the test then reports
// why that process ended, from its outcome, rather than "Broken pipe".
// Tests run with SIGPIPE ignored (the inspector's), so EPIPE is what a write sees.
void write_unless_reader_ended(int fd, std::string_view data);
// Reads until end-of-file; throws std::system_error.
[[nodiscard]] std::string read_until_eof(int fd);

// Opens a memfd (an anonymous in-memory file), for capturing a program's output.
[[nodiscard]] Fd memory_file(const char* name);
// The whole content of a memfd or regular file, read from offset 0.
[[nodiscard]] std::string content_of(int fd);

}  // namespace ipclab
