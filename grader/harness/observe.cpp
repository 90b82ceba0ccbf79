#include "grader/harness/observe.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

namespace ipclab {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string proc_path(pid_t pid, const char* entry) {
  return "/proc/" + std::to_string(pid) + "/" + entry;
}

// The state letter follows the command name, which is in parentheses and may
// itself contain spaces and parentheses: take the last ')'.
std::optional<char> state_of(const std::string& stat) {
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return std::nullopt;
  return stat[close + 2];
}

std::uint64_t field_of(const std::string& status, const std::string& key) {
  const auto at = status.find(key + ":");
  if (at == std::string::npos) return 0;
  return std::stoull(status.substr(at + key.size() + 1));
}

bool is_sleeping(char state) { return state == 'S' || state == 'D'; }

std::string describe(const ProcessSample& s) {
  std::string text = std::string("state ") + s.state;
  if (!s.wait_channel.empty() && s.wait_channel != "0") text += ", waiting in " + s.wait_channel;
  return text;
}

}  // namespace

std::optional<ProcessSample> sample_process(pid_t pid) {
  const std::string stat = read_text(proc_path(pid, "stat"));
  const auto state = state_of(stat);
  if (!state) return std::nullopt;
  ProcessSample sample;
  sample.state = *state;
  std::istringstream(read_text(proc_path(pid, "schedstat"))) >> sample.cpu_ns;
  const std::string status = read_text(proc_path(pid, "status"));
  sample.context_switches =
      field_of(status, "voluntary_ctxt_switches") + field_of(status, "nonvoluntary_ctxt_switches");
  sample.wait_channel = read_text(proc_path(pid, "wchan"));
  return sample;
}

Blocked wait_until_blocked(pid_t pid, std::chrono::milliseconds patience,
                           std::chrono::milliseconds quiet) {
  using clock = std::chrono::steady_clock;
  const auto give_up = clock::now() + patience;
  const auto step = quiet / 6;
  const std::string who = "process " + std::to_string(pid);
  std::optional<ProcessSample> last;
  std::uint64_t busiest_cpu_ns = 0, busiest_switches = 0;
  while (clock::now() < give_up) {
    auto first = sample_process(pid);
    if (!first || first->state == 'Z') return {false, who + " ended instead of blocking"};
    bool quiet_throughout = is_sleeping(first->state);
    auto current = first;
    for (std::chrono::milliseconds waited{0}; quiet_throughout && waited < quiet; waited += step) {
      std::this_thread::sleep_for(step);
      current = sample_process(pid);
      if (!current || current->state == 'Z') return {false, who + " ended instead of blocking"};
      quiet_throughout = is_sleeping(current->state) && current->cpu_ns == first->cpu_ns &&
                         current->context_switches == first->context_switches;
    }
    if (quiet_throughout) {
      return {true, who + " is blocked: " + describe(*current) + ", no CPU time and no wake-up in " +
                        std::to_string(quiet.count()) + " ms"};
    }
    busiest_cpu_ns = std::max(busiest_cpu_ns, current->cpu_ns - first->cpu_ns);
    busiest_switches = std::max(busiest_switches, current->context_switches - first->context_switches);
    last = current;
    std::this_thread::sleep_for(step);
  }
  if (!last) return {false, who + " was not observed: the patience was 0 ms"};
  return {false, who + " never blocked in " + std::to_string(patience.count()) +
                     " ms: last seen in " + describe(*last) + "; it used up to " +
                     std::to_string(busiest_cpu_ns / 1000000) + " ms of CPU and was woken up to " +
                     std::to_string(busiest_switches) +
                     " times within one quiet window. Is it polling (busy-waiting) instead of "
                     "waiting in a blocking call?"};
}

}  // namespace ipclab
