// The launcher: the first process of every test's sandbox. As root, it puts
// itself in the test's cgroup, sets the test's resource limits, drops to the
// test's uid, then execs the rest of its command line (bubblewrap, or the
// inspector in reduced isolation). One exec instead of a shell, prlimit and
// setpriv: these steps run once per test, so their cost is every test's.
//
//   launcher [--cgroup PROCS_FILE]... [--limit RESOURCE=VALUE]... [--uid UID] -- PROGRAM ARGS...
//
//   RESOURCE: cpu (seconds), as, fsize (bytes), nofile, nproc; soft = hard.
//
// The order is the security argument (grader/grading/sandbox.py says it whole):
//   1. cgroup       while root, as only root may move a process into it; every
//                   process the test starts is then born inside it
//   2. limits       while root, hard limits included, which the test can then
//                   never raise again
//   3. credentials  supplementary groups cleared, then real, effective and
//                   saved gid and uid all the test's: no way back to root
//   4. exec         PROGRAM (found on PATH) makes the namespaces and filters
//
// Any failure stops before the exec, with the call and its argument on
// stderr and exit status 125: the sandbox's failure, never the student's.

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "grader/inspector/descriptor.h"

namespace ipclab::launcher {
namespace {

using sandbox::Descriptor;
using sandbox::failed;

constexpr int kSandboxFailed = 125;

struct Limit {
  int resource;
  rlim_t value;
};

struct Plan {
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to write our pid to
  std::vector<Limit> limits;
  std::optional<uid_t> uid;  // gid too: the same number
  std::vector<std::string> command;
};

struct Usage : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::optional<int> resource_named(std::string_view name) {
  if (name == "cpu") return RLIMIT_CPU;
  if (name == "as") return RLIMIT_AS;
  if (name == "fsize") return RLIMIT_FSIZE;
  if (name == "nofile") return RLIMIT_NOFILE;
  if (name == "nproc") return RLIMIT_NPROC;
  return std::nullopt;
}

unsigned long long number(std::string_view text, std::string_view what) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos || text.size() > 19) {
    throw Usage("not a number for " + std::string(what) + ": " + std::string(text));
  }
  return std::stoull(std::string(text));
}

Limit limit_of(std::string_view setting) {
  const std::size_t equals = setting.find('=');
  const std::optional<int> resource = resource_named(setting.substr(0, equals));
  if (equals == std::string_view::npos || !resource) throw Usage("unknown limit: " + std::string(setting));
  return {*resource, static_cast<rlim_t>(number(setting.substr(equals + 1), setting.substr(0, equals)))};
}

// Options are all read, and checked, before anything is changed.
Plan plan_of(const std::vector<std::string>& args) {
  Plan plan;
  std::size_t at = 0;
  for (; at < args.size() && args[at] != "--"; ++at) {
    if (at + 1 >= args.size()) throw Usage("missing value after " + args[at]);
    const std::string& value = args[++at];
    if (args[at - 1] == "--cgroup") {
      plan.cgroup_procs.push_back(value);
    } else if (args[at - 1] == "--limit") {
      plan.limits.push_back(limit_of(value));
    } else if (args[at - 1] == "--uid") {
      plan.uid = static_cast<uid_t>(number(value, "--uid"));
    } else {
      throw Usage("unknown option " + args[at - 1]);
    }
  }
  if (at + 1 >= args.size()) throw Usage("no program after --");
  plan.command.assign(args.begin() + static_cast<long>(at) + 1, args.end());
  return plan;
}

// ---- the steps, in order ------------------------------------------------------

void join_cgroups(const std::vector<std::string>& procs_files) {
  const std::string pid = std::to_string(::getpid()) + "\n";
  for (const std::string& path : procs_files) {
    const Descriptor procs{::open(path.c_str(), O_WRONLY | O_CLOEXEC)};
    if (procs.get() < 0) throw failed("open", path);
    if (::write(procs.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) throw failed("write", path);
  }
}

void set_limits(const std::vector<Limit>& limits) {
  for (const Limit& limit : limits) {
    const rlimit both = {limit.value, limit.value};
    if (::setrlimit(limit.resource, &both) != 0) {
      throw failed("setrlimit", std::to_string(limit.resource) + ", " + std::to_string(limit.value));
    }
  }
}

void drop_credentials(uid_t uid) {
  const std::string id = std::to_string(uid);
  if (::setgroups(0, nullptr) != 0) throw failed("setgroups", "0");
  if (::setresgid(uid, uid, uid) != 0) throw failed("setresgid", id);
  if (::setresuid(uid, uid, uid) != 0) throw failed("setresuid", id);
  // Belt and braces: a kernel that let us back would break the whole box.
  if (::setuid(0) == 0) throw std::runtime_error("setuid(0) succeeded after dropping to uid " + id);
}

[[noreturn]] void exec(std::vector<std::string> command) {
  std::vector<char*> argv;
  for (std::string& arg : command) argv.push_back(arg.data());
  argv.push_back(nullptr);
  ::execvp(argv[0], argv.data());
  throw failed("execvp", command[0]);
}

int main(const std::vector<std::string>& args) {
  try {
    const Plan plan = plan_of(args);
    join_cgroups(plan.cgroup_procs);
    set_limits(plan.limits);
    if (plan.uid) drop_credentials(*plan.uid);
    exec(plan.command);
  } catch (const Usage& e) {
    std::fprintf(stderr,
                 "launcher: %s\nusage: launcher [--cgroup PROCS_FILE]... [--limit RESOURCE=VALUE]... [--uid UID] "
                 "-- PROGRAM ARGS...\n",
                 e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "launcher: %s\n", e.what());
  }
  return kSandboxFailed;
}

}  // namespace
}  // namespace ipclab::launcher

int main(int argc, char** argv) { return ipclab::launcher::main(std::vector<std::string>(argv + 1, argv + argc)); }
