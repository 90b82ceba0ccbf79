// Lab `pipe`: the reference implementation.
#include "labs/pipe/pipe_lab.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace pipelab {
namespace {

[[noreturn]] void throw_errno(const char* call) { throw std::system_error(errno, std::generic_category(), call); }

// Owns one descriptor; closing twice or forgetting to close are the lab's
// classic bugs, so every descriptor here is closed by a destructor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~Fd() { close(); }
  int get() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct PipeEnds {
  Fd read, write;
};

PipeEnds make_pipe() {
  int fds[2];
  if (::pipe(fds) != 0) throw_errno("pipe");
  return {Fd(fds[0]), Fd(fds[1])};
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("waitpid");
  }
  return status;
}

// The status a shell reports for a process that ended with `status`.
int shell_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return status;
}

constexpr int kCannotRun = 127;

[[noreturn]] void exec_stage(const std::vector<std::string>& stage) {
  std::vector<char*> argv;
  for (const auto& arg : stage) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  ::_exit(kCannotRun);  // only reached when exec failed
}

}  // namespace

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("write");
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string read_all(int fd) {
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

std::string ask_child(std::string_view request, const std::function<std::string(std::string_view)>& serve) {
  PipeEnds to_child = make_pipe();
  PipeEnds to_parent = make_pipe();
  const pid_t child = ::fork();
  if (child < 0) throw_errno("fork");
  if (child == 0) {
    to_child.write.close();
    to_parent.read.close();
    int status = 0;
    try {
      write_all(to_parent.write.get(), serve(read_all(to_child.read.get())));
    } catch (...) {
      status = 1;
    }
    ::_exit(status);
  }
  to_child.read.close();
  to_parent.write.close();
  // The child reads the whole request before it answers, so writing it all
  // first cannot deadlock, whatever the sizes.
  write_all(to_child.write.get(), request);
  to_child.write.close();
  std::string answer = read_all(to_parent.read.get());
  const int status = wait_for(child);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("the child failed (status " + std::to_string(shell_status(status)) + ")");
  }
  return answer;
}

int run_pipeline(const std::vector<std::vector<std::string>>& stages) {
  if (stages.empty()) throw std::invalid_argument("run_pipeline: no stages");
  for (const auto& stage : stages) {
    if (stage.empty()) throw std::invalid_argument("run_pipeline: an empty stage");
  }
  std::vector<PipeEnds> links;
  for (size_t i = 0; i + 1 < stages.size(); ++i) links.push_back(make_pipe());

  std::vector<pid_t> children;
  for (size_t i = 0; i < stages.size(); ++i) {
    const pid_t child = ::fork();
    if (child < 0) throw_errno("fork");
    if (child == 0) {
      if (i > 0) ::dup2(links[i - 1].read.get(), STDIN_FILENO);
      if (i + 1 < stages.size()) ::dup2(links[i].write.get(), STDOUT_FILENO);
      links.clear();  // every pipe descriptor closes; only 0, 1, 2 remain
      exec_stage(stages[i]);
    }
    children.push_back(child);
  }
  links.clear();  // the parent's copies: without this no stage sees EOF

  int last = 0;
  for (pid_t child : children) last = wait_for(child);
  return shell_status(last);
}

}  // namespace pipelab
