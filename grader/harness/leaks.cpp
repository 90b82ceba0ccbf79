#include "grader/harness/leaks.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "grader/harness/snapshot.h"

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

std::string json_string(const std::string& text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      quoted += escaped;
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
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

}  // namespace

ProcessResources ProcessResources::now() { return {open_descriptors(), mapped_shm_files()}; }

std::vector<LeakFinding> leaks_since(const ProcessResources& before) {
  std::vector<LeakFinding> found;
  for (const int fd : open_descriptors()) {
    if (before.descriptors.count(fd)) continue;
    found.push_back({"descriptor", "fd " + std::to_string(fd) + " (" + descriptor_target(fd) + ")",
                     "close(" + std::to_string(fd) + ")"});
  }
  for (const auto& file : mapped_shm_files()) {
    if (!before.shm_mappings.count(file)) found.push_back(mapping_finding(file));
  }
  for (const auto& child : children_of()) found.push_back(child_finding(child));
  return found;
}

std::string leak_line(const LeakFinding& finding) {
  return "[ipclab-leak] {\"kind\":" + json_string(finding.kind) + ",\"object\":" + json_string(finding.object) +
         ",\"fix\":" + json_string(finding.fix) + "}\n";
}

}  // namespace ipclab
