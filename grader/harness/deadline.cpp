#include "grader/harness/deadline.h"

#include <algorithm>
#include <thread>

namespace ipclab {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Deadline::Deadline(milliseconds budget) : until_(clock::now() + budget) {}

milliseconds Deadline::left() const {
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(until_ - clock::now()));
}

timespec Deadline::realtime() const {
  const auto rest = std::chrono::duration_cast<std::chrono::nanoseconds>(left());
  timespec at{};
  ::clock_gettime(CLOCK_REALTIME, &at);
  const long long nanoseconds = at.tv_nsec + rest.count() % 1'000'000'000;
  at.tv_sec += static_cast<time_t>(rest.count() / 1'000'000'000 + nanoseconds / 1'000'000'000);
  at.tv_nsec = static_cast<long>(nanoseconds % 1'000'000'000);
  return at;
}

bool eventually(const std::function<bool()>& condition, const Deadline& deadline) {
  // Short enough that a waiting test reacts at once, long enough that
  // checking (reading /proc, say) does not load a busy machine.
  constexpr auto kInterval = milliseconds(2);
  while (!deadline.passed()) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::min(kInterval, deadline.left()));
  }
  return condition();
}

bool eventually(const std::function<bool()>& condition, milliseconds patience) {
  return eventually(condition, Deadline(patience));
}

}  // namespace ipclab
