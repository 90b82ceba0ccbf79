#include "grader/harness/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace ipclab {
namespace fs = std::filesystem;
namespace {

pid_t or_self(pid_t pid) { return pid == 0 ? ::getpid() : pid; }

// "" when the file cannot be read. A /proc entry whose process ends between
// open and read fails with ESRCH, and reading through istreambuf_iterator
// would throw then; operator<< on the buffer only sets failbit.
std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

}  // namespace

std::set<std::string> entries_of(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

IpcObjects IpcObjects::now() { return {entries_of("/dev/shm"), entries_of("/dev/mqueue")}; }

std::vector<std::string> IpcObjects::created_since(const IpcObjects& before) const {
  std::vector<std::string> created;
  for (const auto& name : shm) {
    if (!before.shm.count(name)) created.push_back("/dev/shm/" + name);
  }
  for (const auto& name : mqueue) {
    if (!before.mqueue.count(name)) created.push_back("/dev/mqueue/" + name);
  }
  return created;
}

std::set<std::string> fifo_nodes(const fs::path& dir) {
  std::set<std::string> fifos;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_fifo(error)) fifos.insert(entry.path().string());
  }
  return fifos;
}

std::set<int> open_descriptors(pid_t pid) {
  std::set<int> fds;
  // Listing /proc/self/fd opens a descriptor for the listing itself; it is
  // closed again before we return, so drop whatever no longer exists.
  for (const auto& name : entries_of("/proc/" + std::to_string(or_self(pid)) + "/fd")) {
    fds.insert(std::stoi(name));
  }
  if (pid == 0 || pid == ::getpid()) {
    for (auto it = fds.begin(); it != fds.end();) {
      it = ::fcntl(*it, F_GETFD) == -1 ? fds.erase(it) : std::next(it);
    }
  }
  return fds;
}

std::vector<ChildProcess> children_of(pid_t pid) {
  const pid_t parent = or_self(pid);
  std::vector<ChildProcess> children;
  for (const auto& name : entries_of("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_text("/proc/" + name + "/stat");
    const auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;  // it just ended
    std::istringstream rest(stat.substr(close + 2));
    char state = '?';
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    children.push_back({std::stoi(name), state, stat.substr(open + 1, close - open - 1)});
  }
  return children;
}

std::string leak_report(const std::string& what, const std::vector<std::string>& items) {
  return items.empty() ? "" : what + ": " + join(items);
}

std::string leak_report(const std::string& what, const std::set<std::string>& items) {
  return leak_report(what, std::vector<std::string>(items.begin(), items.end()));
}

std::string leak_report(const std::vector<ChildProcess>& children) {
  std::vector<std::string> items;
  for (const auto& child : children) {
    items.push_back(std::to_string(child.pid) + " (" + child.command +
                    (child.state == 'Z' ? ", zombie: exited but never reaped with waitpid)" : ", still running)"));
  }
  return leak_report("child processes left behind", items);
}

std::string describe(const std::set<int>& descriptors) {
  std::string text = "descriptors open:";
  for (int fd : descriptors) text += " " + std::to_string(fd);
  return text;
}

}  // namespace ipclab
