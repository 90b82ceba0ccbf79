#include "grader/harness/observe.h"

#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace ipclab {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string proc_path(pid_t pid, const char* entry) { return "/proc/" + std::to_string(pid) + "/" + entry; }

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

// The fields after the command name, from the state (field 3 of proc(5)) on.
std::vector<std::string> fields_after_command(const std::string& stat) {
  std::vector<std::string> fields;
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(stat.substr(close + 1));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

bool is_sleeping(char state) { return state == 'S' || state == 'D'; }

// Faults past this many pages (64 MiB of 4 KiB pages) in one wait are memory
// being filled, not the few pages a polling loop touches.
constexpr std::uint64_t kGrowingFaults = 16384;

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
  sample.peak_rss_kib = field_of(status, "VmHWM");
  // minflt is field 10 of proc(5), the 8th after the command name.
  const auto fields = fields_after_command(stat);
  if (fields.size() > 7) sample.minor_faults = std::stoull(fields[7]);
  return sample;
}

bool has_ended(pid_t pid) {
  const auto sample = sample_process(pid);
  return !sample || sample->state == 'Z';
}

bool in_fifo_open(const ProcessSample& sample) {
  // fifo_open() sleeps in wait_for_partner(), which may be inlined into it.
  return sample.wait_channel == "wait_for_partner" || sample.wait_channel == "fifo_open";
}

Blocked wait_until_blocked(pid_t pid, std::chrono::milliseconds patience, std::chrono::milliseconds quiet) {
  using clock = std::chrono::steady_clock;
  const auto started = clock::now();
  const auto give_up = started + patience;
  const auto step = quiet / 6;
  const std::string who = "process " + std::to_string(pid);
  const std::string ended = who + " ended instead of blocking";
  // Totals over the whole wait, for the evidence when it never blocks: one
  // quiet window alone says little about a spinner, whose first sample
  // already shows it running and so ends the window at once.
  std::optional<ProcessSample> earliest, last;
  int samples = 0, awake = 0;
  auto observe = [&](const std::optional<ProcessSample>& sample) {
    if (!sample || sample->state == 'Z') return false;
    if (!earliest) earliest = sample;
    last = sample;
    ++samples;
    awake += !is_sleeping(sample->state);
    return true;
  };
  while (clock::now() < give_up) {
    const auto first = sample_process(pid);
    if (!observe(first)) return {false, ended};
    bool quiet_throughout = is_sleeping(first->state);
    for (std::chrono::milliseconds waited{0}; quiet_throughout && waited < quiet; waited += step) {
      std::this_thread::sleep_for(step);
      const auto current = sample_process(pid);
      if (!observe(current)) return {false, ended};
      quiet_throughout = is_sleeping(current->state) && current->cpu_ns == first->cpu_ns &&
                         current->context_switches == first->context_switches;
    }
    if (quiet_throughout) {
      return {true, who + " is blocked: " + describe(*last) + ", no CPU time and no wake-up in " +
                        std::to_string(quiet.count()) + " ms"};
    }
    std::this_thread::sleep_for(step);
  }
  if (!last) return {false, who + " was not observed: the patience was 0 ms"};
  const auto watched = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count();
  const std::string seen = who + " never blocked in " + std::to_string(patience.count()) + " ms: last seen in " +
                           describe(*last) + "; over " + std::to_string(watched) + " ms it used " +
                           std::to_string((last->cpu_ns - earliest->cpu_ns) / 1000000) + " ms of CPU";
  const std::uint64_t faults = last->minor_faults - earliest->minor_faults;
  if (faults >= kGrowingFaults) {
    Blocked growing{false, seen + " and took " + std::to_string(faults) + " page faults, its memory growing to " +
                               std::to_string(last->peak_rss_kib / 1024) +
                               " MiB: that CPU went into filling new memory, not into polling. Is it allocating a "
                               "buffer whose size came from the wrong bytes?"};
    growing.growing_memory = true;
    return growing;
  }
  return {false, seen + ", was awake in " + std::to_string(awake) + " of " + std::to_string(samples) +
                     " samples and was woken up " +
                     std::to_string(last->context_switches - earliest->context_switches) +
                     " times. Is it polling (busy-waiting) instead of waiting in a blocking call?"};
}

}  // namespace ipclab
