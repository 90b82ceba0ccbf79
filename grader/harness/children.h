#pragma once
// Several children of one test at once, finished within one deadline for all
// of them, so a hang costs the test its deadline once, not once per child:
//
//   ipclab::Children workers;
//   for (int i = 0; i < 4; ++i) workers.start([&, i] { return work(i); });
//   const std::string failed = workers.finish_all(std::chrono::seconds(10));
//   CHECK_MESSAGE(failed == "", failed);   // "process 2: timed out after ..."
//
// And a wait for a Flag that gives up as soon as the child that should raise
// it has ended (its code threw, say) instead of waiting out the deadline:
//
//   if (!ipclab::wait_for(created, creator, 10s)) FAIL(creator.finish(10s).describe());

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "grader/harness/child.h"
#include "grader/harness/shared.h"

namespace ipclab {

class Children {
 public:
  Child& start(const Child::Body& body);

  [[nodiscard]] std::size_t size() const { return children_.size(); }
  [[nodiscard]] Child& operator[](std::size_t i) { return *children_[i]; }
  [[nodiscard]] std::vector<pid_t> pids() const;

  // Finishes every child, `deadline` for all of them together. "" when every
  // body returned; otherwise what happened to the first that did not, as
  // "process I: <Outcome::describe()>". Values are in outcomes().
  [[nodiscard]] std::string finish_all(milliseconds deadline);
  [[nodiscard]] const std::vector<Outcome>& outcomes() const { return outcomes_; }

 private:
  std::vector<std::unique_ptr<Child>> children_;
  std::vector<Outcome> outcomes_;
};

// Waits up to `patience` for `flag`; false if it was not raised by then, or
// if `child` ended without raising it.
[[nodiscard]] bool wait_for(Flag& flag, const Child& child, milliseconds patience);

}  // namespace ipclab
