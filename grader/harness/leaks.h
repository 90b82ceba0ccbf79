#pragma once
// What code under test left behind when it returned, found by comparing the
// process before and after: descriptors it opened and did not close, shared
// memory and semaphores it mapped and did not unmap or close, and children
// it started and did not reap. Child (child.h) runs these checks around
// every body and reports the findings to the grader, which names each one
// with the call that would have cleaned it up and deducts as lab.toml says.
//
// A finding travels as one record on the verdict channel (verdict.h), in
// the form leak_record.h defines.

#include <set>
#include <string>
#include <vector>

namespace ipclab {

struct LeakFinding {
  std::string kind;    // "descriptor", "mapping", "child process", "zombie process"
  std::string object;  // what was left, by name
  std::string fix;     // the call that would have cleaned it up
};

// The state a body starts from.
struct ProcessResources {
  std::set<int> descriptors;
  std::set<std::string> shm_mappings;  // files under /dev/shm mapped into memory

  [[nodiscard]] static ProcessResources now();
};

// What this process holds now that it did not hold at `before`, and the
// children it still has.
[[nodiscard]] std::vector<LeakFinding> leaks_since(const ProcessResources& before);

// The record the grader reads (verdict.h), one line; the object's name is
// cut short when it would not fit in one record.
[[nodiscard]] std::string leak_record(const LeakFinding& finding);

}  // namespace ipclab
