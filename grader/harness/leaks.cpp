#include "grader/harness/leaks.h"

#include <mqueue.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "grader/harness/leak_record.h"
#include "grader/harness/snapshot.h"
#include "grader/harness/verdict.h"

namespace ipclab {
namespace {

std::string descriptor_target(int fd) {
  std::error_code error;
  const auto target = std::filesystem::read_symlink("/proc/self/fd/" + std::to_string(fd), error);
  return error ? "unknown" : target.string();
}

std::set<std::string> mapped_shm_files() {
  std::set<std::string> files;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto at = line.find("/dev/shm/");
    if (at != std::string::npos) files.insert(line.substr(at));
  }
  return files;
}

// A message queue descriptor is a descriptor to the kernel, but its owner's
// fix is mq_close(), not close(): mq_getattr() succeeds on a queue alone.
LeakFinding descriptor_finding(int fd) {
  const std::string target = " (" + descriptor_target(fd) + ")";
  mq_attr attributes{};
  if (::mq_getattr(fd, &attributes) == 0) {
    return {"descriptor", "message queue descriptor " + std::to_string(fd) + target, "mq_close(queue)"};
  }
  return {"descriptor", "fd " + std::to_string(fd) + target, "close(" + std::to_string(fd) + ")"};
}

LeakFinding mapping_finding(const std::string& file) {
  const std::string name = std::filesystem::path(file).filename().string();
  if (name.rfind("sem.", 0) == 0) {
    return {"mapping", "semaphore /" + name.substr(4) + " still open", "sem_close(sem)"};
  }
  return {"mapping", "shared memory " + file + " still mapped", "munmap(address, length)"};
}

LeakFinding child_finding(const ChildProcess& child) {
  const std::string who = "process " + std::to_string(child.pid) + " (" + child.command + ")";
  if (child.state == 'Z') {
    return {"zombie process", who + " exited but was never reaped",
            "waitpid(" + std::to_string(child.pid) + ", &status, 0)"};
  }
  return {"child process", who + " still running", "end it and waitpid(" + std::to_string(child.pid) + ", …)"};
}

// A child that has just called _exit takes a moment to become a zombie; give
// running children up to a second to settle, so that an exited child is
// always reported as unreaped, never as running. Only paid when a body
// leaves children behind.
std::vector<ChildProcess> settled_children() {
  auto children = children_of();
  for (int tries = 0; tries < 100; ++tries) {
    const bool settling = std::any_of(children.begin(), children.end(),
                                      [](const ChildProcess& c) { return c.state == 'R' || c.state == 'D'; });
    if (!settling) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    children = children_of();
  }
  return children;
}

}  // namespace

ProcessResources ProcessResources::now() { return {open_descriptors(), mapped_shm_files()}; }

std::vector<LeakFinding> leaks_since(const ProcessResources& before) {
  std::vector<LeakFinding> found;
  for (const int fd : open_descriptors()) {
    if (before.descriptors.count(fd)) continue;
    found.push_back(descriptor_finding(fd));
  }
  for (const auto& file : mapped_shm_files()) {
    if (!before.shm_mappings.count(file)) found.push_back(mapping_finding(file));
  }
  for (const auto& child : settled_children()) found.push_back(child_finding(child));
  return found;
}

std::string leak_record(const LeakFinding& finding) {
  // A name chosen by the code under test can be of any length; a record
  // must fit in one atomic write.
  constexpr std::size_t kLongestObject = 1000;
  const std::string object =
      finding.object.size() > kLongestObject ? finding.object.substr(0, kLongestObject) + "…" : finding.object;
  return leak_record(finding.kind, object, finding.fix, verdict::json_string) + "\n";
}

}  // namespace ipclab
