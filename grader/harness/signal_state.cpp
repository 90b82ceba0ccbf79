#include "grader/harness/signal_state.h"

#include <signal.h>
#include <string.h>

#include <fstream>
#include <sstream>

namespace ipclab {
namespace {

void do_nothing(int /*signo*/) {}

// The hexadecimal set after "Key:", or nullopt when the line is missing.
std::optional<std::uint64_t> set_of(const std::string& status, const std::string& key) {
  const auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(status.substr(at + key.size() + 2), nullptr, 16);
}

std::string name_of(int signo) {
  if (signo >= SIGRTMIN && signo <= SIGRTMAX) {
    return signo == SIGRTMIN ? "SIGRTMIN" : "SIGRTMIN+" + std::to_string(signo - SIGRTMIN);
  }
  const char* abbreviation = ::sigabbrev_np(signo);
  return abbreviation ? std::string("SIG") + abbreviation : "signal " + std::to_string(signo);
}

}  // namespace

bool SignalState::contains(std::uint64_t set, int signo) {
  return signo >= 1 && signo <= 64 && (set >> (signo - 1)) & 1U;
}

std::optional<SignalState> signal_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::stringstream text;
  text << "\n" << in.rdbuf();
  const std::string status = text.str();
  const auto thread = set_of(status, "SigPnd"), shared = set_of(status, "ShdPnd");
  const auto blocked = set_of(status, "SigBlk"), ignored = set_of(status, "SigIgn");
  const auto caught = set_of(status, "SigCgt");
  if (!thread || !shared || !blocked || !ignored || !caught) return std::nullopt;
  return SignalState{*thread | *shared, *blocked, *ignored, *caught};
}

std::string signal_names(std::uint64_t set) {
  std::string names;
  for (int signo = 1; signo <= 64; ++signo) {
    if (SignalState::contains(set, signo)) names += (names.empty() ? "" : " ") + name_of(signo);
  }
  return names.empty() ? "none" : names;
}

std::string describe(const SignalState& state) {
  return "pending: " + signal_names(state.pending) + "; blocked: " + signal_names(state.blocked) +
         "; ignored: " + signal_names(state.ignored) + "; caught: " + signal_names(state.caught);
}

void interrupt_on(int signo) {
  struct sigaction action {};
  action.sa_handler = do_nothing;  // sa_flags 0: no SA_RESTART
  ::sigaction(signo, &action, nullptr);
}

}  // namespace ipclab
