// The inspector: runs inside a test's sandbox as the parent of the test
// binary, and is the only process there that speaks to the grader: on its own
// descriptor (--report-fd), never on the test's output. It sends one JSON
// object a line:
//
//   {"event": "started"}                      before the test binary starts
//   {"event": "case", "name": ..., ...}       the harness's records (verdict.h)
//   {"event":"leak","kind":"message queue",...}   as grader/harness/leak_record.h writes it
//   {"event": "forged", "lines": 2, "example": ...}   lines without this run's token
//   {"event": "exit", "status": 0} or {"event": "exit", "signal": 11}
//   {"event": "internal error", "why": ...}   the inspector's own failure
//
// The test binary gets the records pipe and a pipe holding a fresh token in
// IPCLAB_VERDICT (see grader/harness/verdict.h); a record without the token
// was written by something other than the harness. This process is not
// dumpable, so no process of the test can open its descriptors or its memory
// through /proc, and the sandbox's seccomp filter denies ptrace.
//
// Under bubblewrap the sandbox's /dev/shm, /dev/mqueue and /tmp are private,
// so everything found there is the test's. In reduced isolation they are the
// machine's: the inspector compares with what was there before the test, and
// removes what the test created, so the machine is left as it was.
//
//   inspector [--reduced] --report-fd N BINARY ARGS...
//
// Exit status: the test binary's (128 + signal when a signal ended it), or
// 125 when the inspector itself failed. It is native, not Python, because it
// runs once per test: its start-up is part of every test's cost.

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "grader/harness/leak_record.h"
#include "grader/inspector/descriptor.h"
#include "grader/inspector/json.h"

extern char** environ;

namespace ipclab::inspector {
namespace {

using sandbox::Descriptor;
using sandbox::failed;

constexpr std::size_t kMaxPerKind = 20;  // hundreds of leaked objects are summarised, not listed
// Half a second for dying processes to go, looked at often: most are gone
// within a millisecond or two, and every test waits for the look that sees it.
constexpr int kGraceSteps = 250;
constexpr auto kGraceStep = std::chrono::milliseconds(2);
// The harness sends a few records a test; more than this is the test
// writing on the channel, and the rest is read and dropped.
constexpr std::size_t kMaxRecordBytes = 1024 * 1024;
constexpr std::size_t kForgedExampleLength = 200;  // code points
constexpr int kInternalError = 125;

struct Finding {
  std::string kind;
  std::string object;
  std::string fix;
};

// ---- the report -------------------------------------------------------------

// The descriptor on which the grader reads this inspector's report.
class Grader {
 public:
  explicit Grader(int fd) : fd_(fd) {
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);  // never the test's
  }

  // Sends one line; `json_object` must be valid JSON without a line break.
  void send(std::string_view json_object) {
    std::string line(json_object);
    line += '\n';
    std::string_view rest = line;
    while (!rest.empty()) {
      const ssize_t n = ::write(fd_, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw failed("write", "report descriptor " + std::to_string(fd_));
      rest.remove_prefix(static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
};

std::string event(std::string_view name) { return "{\"event\": " + json::literal(name) + "}"; }

std::string leak_record(const Finding& finding) {
  return ipclab::leak_record(finding.kind, finding.object, finding.fix,
                             [](std::string_view text) { return json::literal(json::valid_utf8(text)); });
}

std::string exit_record(int status) {
  if (WIFSIGNALED(status)) return "{\"event\": \"exit\", \"signal\": " + std::to_string(WTERMSIG(status)) + "}";
  return "{\"event\": \"exit\", \"status\": " + std::to_string(WEXITSTATUS(status)) + "}";
}

// ---- what the test leaves behind ----------------------------------------------

std::vector<std::string> names_in(const std::string& directory) {
  std::vector<std::string> names;
  DIR* listing = ::opendir(directory.c_str());
  if (listing == nullptr) return names;  // not there in this sandbox: nothing left in it
  while (const dirent* entry = ::readdir(listing)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(listing);
  return names;
}

std::set<std::string> ipc_objects() {
  std::set<std::string> found;
  for (const std::string directory : {"/dev/shm", "/dev/mqueue"}) {
    for (const std::string& name : names_in(directory)) found.insert(directory + "/" + name);
  }
  return found;
}

// FIFO nodes anywhere under `top`. Symbolic links are neither followed nor
// counted: the node a link names is somewhere else, or is counted there.
std::set<std::string> fifo_nodes(const std::string& top) {
  std::set<std::string> found;
  std::vector<std::string> directories = {top};
  while (!directories.empty()) {
    const std::string directory = directories.back();
    directories.pop_back();
    for (const std::string& name : names_in(directory)) {
      const std::string path = directory + "/" + name;
      struct stat info {};
      if (::lstat(path.c_str(), &info) != 0) continue;  // gone while we looked
      if (S_ISDIR(info.st_mode)) directories.push_back(path);
      if (S_ISFIFO(info.st_mode)) found.insert(path);
    }
  }
  return found;
}

std::set<std::string> objects_and_fifos(const std::string& workdir) {
  std::set<std::string> found = ipc_objects();
  found.merge(fifo_nodes(workdir));
  return found;
}

std::string basename_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

Finding describe_object(const std::string& path) {
  const std::string name = basename_of(path);
  if (path.starts_with("/dev/mqueue/")) return {"message queue", path, "mq_unlink(\"/" + name + "\")"};
  if (name.starts_with("sem.")) return {"semaphore", path, "sem_unlink(\"/" + name.substr(4) + "\")"};
  if (path.starts_with("/dev/shm/")) return {"shared memory", path, "shm_unlink(\"/" + name + "\")"};
  return {"fifo", path, "unlink(\"" + path + "\")"};
}

std::string read_file(const std::string& path) {
  const Descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.get() < 0) return {};
  std::string content;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(file.get(), buffer, sizeof buffer)) > 0) content.append(buffer, static_cast<std::size_t>(n));
  return content;
}

bool all_digits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// Every process of the sandbox but `own`, as leak findings.
std::vector<Finding> processes_except(const std::set<long>& own) {
  std::vector<Finding> found;
  for (const std::string& entry : names_in("/proc")) {
    if (!all_digits(entry) || own.contains(std::stol(entry))) continue;
    // "PID (COMMAND) STATE ...": the command may hold spaces and parentheses.
    const std::string stat = read_file("/proc/" + entry + "/stat");
    const std::size_t open = stat.find('(');
    const std::size_t close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open || close + 2 >= stat.size()) {
      continue;  // it ended while we looked
    }
    const std::string command = stat.substr(open + 1, close - open - 1);
    const std::string who = "process " + entry + " (" + command + ")";
    if (stat[close + 2] == 'Z') {
      found.push_back({"zombie process", who + " exited but was never reaped", "waitpid for every child you start"});
    } else {
      found.push_back({"process", who + " still running after the test ended",
                       "waitpid for every child; never leave a daemon behind (setsid, double fork)"});
    }
  }
  return found;
}

// Processes of the sandbox other than bubblewrap's init and ourselves that
// are still there after a grace period: processes the test killed at its end
// (a timed-out child's group) are reaped by bubblewrap's init
// asynchronously, and are not leaks.
std::vector<Finding> leftover_processes(const std::set<long>& own) {
  std::vector<Finding> found = processes_except(own);
  for (int step = 0; step < kGraceSteps && !found.empty(); ++step) {
    std::this_thread::sleep_for(kGraceStep);
    found = processes_except(own);
  }
  return found;
}

// At most kMaxPerKind findings of each kind, kinds in the order first seen,
// the rest of a kind counted in one more finding.
std::vector<Finding> summarised(const std::vector<Finding>& findings) {
  std::vector<std::string> kinds;
  std::map<std::string, std::vector<const Finding*>> by_kind;
  for (const Finding& finding : findings) {
    if (!by_kind.contains(finding.kind)) kinds.push_back(finding.kind);
    by_kind[finding.kind].push_back(&finding);
  }
  std::vector<Finding> kept;
  for (const std::string& kind : kinds) {
    const std::vector<const Finding*>& items = by_kind[kind];
    for (std::size_t i = 0; i < items.size() && i < kMaxPerKind; ++i) kept.push_back(*items[i]);
    if (items.size() > kMaxPerKind) {
      kept.push_back({kind, "\u2026 and " + std::to_string(items.size() - kMaxPerKind) + " more", items[0]->fix});
    }
  }
  return kept;
}

// ---- the test binary ------------------------------------------------------------

std::string fresh_token() {
  unsigned char bytes[16];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) throw failed("getrandom", "16");
  std::string token;
  for (const unsigned char byte : bytes) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", byte);
    token += hex;
  }
  return token;
}

struct Pipe {
  Descriptor read;
  Descriptor write;
};

Pipe make_pipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) throw failed("pipe2", "O_CLOEXEC");
  return {Descriptor{ends[0]}, Descriptor{ends[1]}};
}

// The environment the test binary gets: ours, with the verdict channel.
std::vector<std::string> test_environment(int records, int token) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (!std::string_view(*entry).starts_with("IPCLAB_VERDICT=")) entries.emplace_back(*entry);
  }
  entries.push_back("IPCLAB_VERDICT=" + std::to_string(records) + " " + std::to_string(token));
  return entries;
}

std::vector<char*> as_argv(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

struct Started {
  pid_t child;
  Descriptor records;  // the read end of its records pipe
};

// In the child, between fork and exec: system calls only.
[[noreturn]] void become_test(char* const* argv, char* const* environment, int records, int token) {
  // The descriptors the test inherits are the two of IPCLAB_VERDICT.
  ::fcntl(records, F_SETFD, 0);
  ::fcntl(token, F_SETFD, 0);
  // The Python inspector this program replaced left SIGPIPE and SIGXFSZ
  // ignored in the test binary (CPython ignores both at start-up and exec
  // keeps that); the labs' tests and expected results were made that way.
  // Code under test that forks gets every signal reset (harness child.cpp).
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGXFSZ, SIG_IGN);
  ::execve(argv[0], argv, environment);
  ::_exit(127);
}

// Starts the test binary with the verdict channel.
Started start_test(std::vector<std::string> command, const std::string& token) {
  Pipe records = make_pipe();
  Pipe token_pipe = make_pipe();
  // A few dozen bytes: they fit in the pipe, and the child reads them.
  if (::write(token_pipe.write.get(), token.data(), token.size()) != static_cast<ssize_t>(token.size())) {
    throw failed("write", "token pipe");
  }
  token_pipe.write.reset();
  std::vector<std::string> environment = test_environment(records.write.get(), token_pipe.read.get());
  const std::vector<char*> argv = as_argv(command);
  const std::vector<char*> envp = as_argv(environment);
  const pid_t child = ::fork();
  if (child < 0) throw failed("fork", command[0]);
  if (child == 0) become_test(argv.data(), envp.data(), records.write.get(), token_pipe.read.get());
  return {child, std::move(records.read)};
}

// Reads what is there into `received` (up to kMaxRecordBytes, the rest
// dropped); false at end of file, or when nothing is left to read now.
bool read_into(int fd, std::string& received) {
  char chunk[65536];
  ssize_t n = ::read(fd, chunk, sizeof chunk);
  while (n < 0 && errno == EINTR) n = ::read(fd, chunk, sizeof chunk);
  if (n < 0 && errno == EAGAIN) return false;
  if (n < 0) throw failed("read", "records pipe");
  const std::size_t room = kMaxRecordBytes - std::min(kMaxRecordBytes, received.size());
  received.append(chunk, std::min(room, static_cast<std::size_t>(n)));
  return n > 0;
}

int wait_for(pid_t child) {
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw failed("waitpid", std::to_string(child));
  }
  return status;
}

struct Collected {
  int status;
  std::string received;
};

// Reads the records pipe until the test binary has ended. Processes the
// test left behind may hold the pipe open: the end of the test binary is the
// end of its records.
Collected collect_records(const Started& test) {
  const Descriptor ended{static_cast<int>(::syscall(SYS_pidfd_open, test.child, 0))};
  if (ended.get() < 0) throw failed("pidfd_open", std::to_string(test.child));
  const int records = test.records.get();
  Collected collected{0, {}};
  while (true) {
    pollfd watched[2] = {{records, POLLIN, 0}, {ended.get(), POLLIN, 0}};
    if (::poll(watched, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw failed("poll", "records pipe and pidfd");
    }
    if (watched[0].revents != 0 && !read_into(records, collected.received)) {
      collected.status = wait_for(test.child);
      return collected;
    }
    if (watched[1].revents != 0) {
      collected.status = wait_for(test.child);
      ::fcntl(records, F_SETFL, O_NONBLOCK);
      while (read_into(records, collected.received)) {
      }
      return collected;
    }
  }
}

// ---- the harness's records ------------------------------------------------------

// Lines as Python's bytes.splitlines() cuts them: at LF, CR or CR LF, with
// no empty line after a final line break.
std::vector<std::string_view> lines_of(std::string_view data) {
  std::vector<std::string_view> lines;
  while (!data.empty()) {
    const std::size_t end = data.find_first_of("\r\n");
    if (end == std::string_view::npos) {
      lines.push_back(data);
      break;
    }
    lines.push_back(data.substr(0, end));
    const std::size_t next = data.substr(end, 2) == "\r\n" ? end + 2 : end + 1;
    data.remove_prefix(next);
  }
  return lines;
}

struct Sorted {
  std::vector<std::string> records;  // the harness's, each a JSON object
  std::vector<std::string> forged;   // the first kForgedExampleLength code points of each other line
};

// The harness's records, and the lines that were not (without the token, or
// not a JSON object with an event).
Sorted authentic_records(std::string_view received, const std::string& token) {
  Sorted sorted;
  const std::string prefix = token + " ";
  for (const std::string_view line : lines_of(received)) {
    if (line.starts_with(prefix)) {
      const std::string record = json::valid_utf8(line.substr(prefix.size()));
      if (json::is_harness_record(record)) {
        sorted.records.emplace_back(json::trimmed(record));
        continue;
      }
    }
    sorted.forged.push_back(json::first_code_points(json::valid_utf8(line), kForgedExampleLength));
  }
  return sorted;
}

// ---- the whole run ------------------------------------------------------------------

std::string working_directory() {
  char buffer[4096];
  if (::getcwd(buffer, sizeof buffer) == nullptr) throw failed("getcwd", "");
  return buffer;
}

void not_dumpable() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw failed("prctl", "PR_SET_DUMPABLE, 0");
}

int inspect(Grader& grader, bool reduced, const std::vector<std::string>& command) {
  not_dumpable();
  grader.send(event("started"));
  const std::string workdir = working_directory();
  const std::set<std::string> before = reduced ? objects_and_fifos(workdir) : std::set<std::string>{};
  const std::string token = fresh_token();
  const Started test = start_test(command, token);
  const Collected collected = collect_records(test);

  std::vector<Finding> findings;
  std::vector<std::string> left;
  for (const std::string& path : objects_and_fifos(workdir)) {
    if (before.contains(path)) continue;
    left.push_back(path);
    findings.push_back(describe_object(path));
  }
  if (reduced) {
    for (const std::string& path : left) ::unlink(path.c_str());
  } else {
    const std::vector<Finding> processes = leftover_processes({1, static_cast<long>(::getpid())});
    findings.insert(findings.end(), processes.begin(), processes.end());
  }

  const Sorted sorted = authentic_records(collected.received, token);
  for (const std::string& record : sorted.records) grader.send(record);
  for (const Finding& finding : summarised(findings)) grader.send(leak_record(finding));
  if (!sorted.forged.empty()) {
    grader.send("{\"event\": \"forged\", \"lines\": " + std::to_string(sorted.forged.size()) +
                ", \"example\": " + json::literal(sorted.forged.front()) + "}");
  }
  grader.send(exit_record(collected.status));
  if (WIFSIGNALED(collected.status)) return 128 + WTERMSIG(collected.status);
  return WEXITSTATUS(collected.status);
}

std::optional<int> descriptor_number(std::string_view text) {
  if (!all_digits(text) || text.size() > 6) return std::nullopt;
  return std::stoi(std::string(text));
}

int usage() {
  std::fputs("usage: inspector [--reduced] --report-fd N BINARY ARGS...\n", stderr);
  return kInternalError;
}

int main(std::vector<std::string> args) {
  const bool reduced = !args.empty() && args[0] == "--reduced";
  if (reduced) args.erase(args.begin());
  if (args.size() < 3 || args[0] != "--report-fd") return usage();
  const std::optional<int> fd = descriptor_number(args[1]);
  if (!fd) return usage();
  // A report the grader stopped reading is an error to report, not a death.
  ::signal(SIGPIPE, SIG_IGN);
  Grader grader(*fd);
  try {
    return inspect(grader, reduced, std::vector<std::string>(args.begin() + 2, args.end()));
  } catch (const std::exception& e) {  // the inspector's own failure: never the student's
    try {
      grader.send("{\"event\": \"internal error\", \"why\": " + json::literal(json::valid_utf8(e.what())) + "}");
    } catch (const std::exception&) {
      // The report itself failed: the missing exit record says it.
    }
    return kInternalError;
  }
}

}  // namespace
}  // namespace ipclab::inspector

int main(int argc, char** argv) { return ipclab::inspector::main(std::vector<std::string>(argv + 1, argv + argc)); }
