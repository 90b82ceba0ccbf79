#include "grader/harness/shared.h"

#include "grader/harness/errno_error.h"

#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <system_error>

namespace ipclab {

void* map_shared_anonymous(std::size_t size) {
  void* at = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (at == MAP_FAILED) throw_errno("mmap(shared, anonymous)");
  return at;
}

void unmap_shared(void* at, std::size_t size) { ::munmap(at, size); }

void Flag::raise() { write_fully(pipe_.write.get(), "!"); }

bool Flag::wait(std::chrono::milliseconds patience) {
  using clock = std::chrono::steady_clock;
  const auto until = clock::now() + patience;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
    pollfd readable{pipe_.read.get(), POLLIN, 0};
    const int ready = ::poll(&readable, 1, static_cast<int>(std::max<long>(0, left.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    char mark;
    const ssize_t n = ::read(pipe_.read.get(), &mark, 1);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

bool private_dev_shm() {
  static bool done = false;
  if (done) return true;
  // Private propagation first, so the new tmpfs is never seen outside.
  done = ::unshare(CLONE_NEWNS) == 0 && ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
         ::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0;
  return done;
}

std::vector<std::string> mappings_containing(std::string_view needle, pid_t pid) {
  std::ifstream maps("/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/maps");
  std::vector<std::string> found;
  for (std::string line; std::getline(maps, line);) {
    // address perms offset dev inode path: the path starts after the inode's spaces.
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find(needle) != std::string::npos) found.push_back(path);
  }
  return found;
}

}  // namespace ipclab
