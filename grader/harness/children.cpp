#include "grader/harness/children.h"

#include <algorithm>

namespace ipclab {

using clock = std::chrono::steady_clock;

Child& Children::start(const Child::Body& body) {
  children_.push_back(std::make_unique<Child>(body));
  return *children_.back();
}

std::vector<pid_t> Children::pids() const {
  std::vector<pid_t> pids;
  for (const auto& child : children_) pids.push_back(child->pid());
  return pids;
}

std::string Children::finish_all(milliseconds deadline) {
  const auto until = clock::now() + deadline;
  std::string failure;
  outcomes_.clear();
  for (std::size_t i = 0; i < children_.size(); ++i) {
    // Each child still gets a moment once the deadline has passed, so one
    // that has already ended reports how, instead of "timed out".
    const auto left = std::chrono::duration_cast<milliseconds>(until - clock::now());
    outcomes_.push_back(children_[i]->finish(std::max(left, milliseconds(100))));
    if (failure.empty() && !outcomes_.back().ok()) {
      failure = "process " + std::to_string(i) + ": " + outcomes_.back().describe();
    }
  }
  return failure;
}

bool wait_for(Flag& flag, const Child& child, milliseconds patience) {
  const auto until = clock::now() + patience;
  while (clock::now() < until) {
    if (flag.wait(milliseconds(20))) return true;
    if (child.has_ended()) return flag.wait(milliseconds(0));
  }
  return false;
}

}  // namespace ipclab
