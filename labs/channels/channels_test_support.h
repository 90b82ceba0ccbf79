#pragma once
// What the channels lab's tests share: running the student's client program
// in a process of its own (its working directory, output and exit status
// captured), running one side of a channel in a child, the message sequences
// the channel tests send, and what a run may leave behind.
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/deadline.h"
#include "grader/harness/fd.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/snapshot.h"
#include "labs/channels/channels_lab.h"
#include "labs/channels/channels_server.h"

namespace channels::testing {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using ipclab::kDeadline;

inline const char* mechanism_name(char mechanism) {
  return mechanism == 'f' ? "FIFO" : mechanism == 'q' ? "message queue" : "shared memory";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A prefix no other test process uses, for tests that make channels directly.
inline std::string test_prefix() {
  static int count = 0;
  return "chan" + std::to_string(::getpid()) + "x" + std::to_string(++count) + "_";
}

// Objects made since `before` in /dev/shm and /dev/mqueue, and FIFO nodes
// or files named fifo_* in `dir`. Objects of the other labs' tests (their
// names start with "ipclab-"), which may run beside these outside a sandbox,
// are not counted.
inline std::vector<std::string> objects_left(const ipclab::IpcObjects& before, const fs::path& dir) {
  std::vector<std::string> left;
  for (const auto& path : ipclab::IpcObjects::now().created_since(before)) {
    if (!contains(path, "ipclab-")) left.push_back(path);
  }
  for (const auto& name : ipclab::entries_of(dir)) {
    if (name.rfind("fifo_", 0) == 0) left.push_back((dir / name).string());
  }
  return left;
}

// glibc's sem_open(O_CREAT) makes a semaphore as /dev/shm/sem.XXXXXX (six
// random letters and digits), then links it under its name: a snapshot
// taken while a semaphore is being made can see that file, which is not an
// object the channel named.
inline bool is_sem_open_scratch(const std::string& path) {
  const std::string stem = "/dev/shm/sem.";
  if (path.rfind(stem, 0) != 0 || path.size() != stem.size() + 6) return false;
  return std::all_of(path.begin() + static_cast<std::ptrdiff_t>(stem.size()), path.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0; });
}

inline std::string describe_left(const std::vector<std::string>& left) {
  return ipclab::leak_report("objects left behind", left);
}

// ---- the client program ------------------------------------------------------

// How a run of the student's client_main ended.
struct ClientRun {
  ipclab::Outcome outcome;  // of the process that ran client_main
  int status = -1;          // what client_main returned (-1: it did not return)
  std::string out;          // its standard output (and the server's)
  std::string err;          // its standard error (and the server's)
  std::string children;     // children it left (zombies included), "" when none

  [[nodiscard]] bool returned() const { return outcome.ok(); }
  // For failure messages: how it ended, and what it wrote on stderr.
  [[nodiscard]] std::string describe() const {
    std::string text = returned() ? "client_main returned " + std::to_string(status) : outcome.describe();
    if (!err.empty()) text += "; its stderr: " + err.substr(0, 600);
    return text;
  }
};

struct ClientOptions {
  int delay_us = 0;           // CHANNELS_DELAY_US for the server
  bool wait_for_go = false;   // start client_main only once go() is called
  std::string mark;           // CHANNELS_MARK for the server (an absolute path)
  long file_size_limit = -1;  // RLIMIT_FSIZE for client_main (and its server), in bytes; -1: none
};

inline ClientOptions with_delay(int delay_us, std::string mark = "") {
  ClientOptions options;
  options.delay_us = delay_us;
  options.mark = std::move(mark);
  return options;
}

inline ClientOptions waiting_for_go() {
  ClientOptions options;
  options.wait_for_go = true;
  return options;
}

// The student's client_main, run in a child whose working directory is
// `dir`, with argv {"client", args...}.
class ClientProcess {
 public:
  ClientProcess(const fs::path& dir, std::vector<std::string> args, ClientOptions options = {})
      : out_(ipclab::memory_file("client-stdout")), err_(ipclab::memory_file("client-stderr")) {
    args.insert(args.begin(), "client");
    child_ = std::make_unique<ipclab::Child>([this, dir, args, options] { return body(dir, args, options); });
  }

  [[nodiscard]] pid_t pid() const { return child_->pid(); }
  // The prefix the client's objects carry (run_prefix of its pid).
  [[nodiscard]] std::string prefix() const { return run_prefix(pid()); }

  void go() {
    go_.read.reset();
    ipclab::write_fully(go_.write.get(), "g");
  }

  ClientRun finish(std::chrono::milliseconds deadline = kDeadline) {
    ClientRun run;
    run.outcome = child_->finish(deadline);
    run.out = ipclab::content_of(out_.get());
    run.err = ipclab::content_of(err_.get());
    if (run.outcome.ok()) {
      const auto bar = run.outcome.value.find('|');
      run.status = std::atoi(run.outcome.value.substr(0, bar).c_str());
      run.children = run.outcome.value.substr(bar + 1);
    }
    return run;
  }

 private:
  std::string body(const fs::path& dir, const std::vector<std::string>& args, const ClientOptions& options) {
    if (options.wait_for_go) {
      go_.write.reset();
      char byte;
      if (::read(go_.read.get(), &byte, 1) != 1) return "-1|the test never said go";
    }
    if (::chdir(dir.c_str()) != 0) return "-1|chdir failed";
    // A shell starts a program with SIGPIPE at its default action; the tests
    // run with it ignored. The client must ignore it itself (the header).
    ::signal(SIGPIPE, SIG_DFL);
    ::setenv("CHANNELS_DELAY_US", std::to_string(options.delay_us).c_str(), 1);
    if (!options.mark.empty()) ::setenv("CHANNELS_MARK", options.mark.c_str(), 1);
    if (options.file_size_limit >= 0) {
      // A write past the limit then fails with EFBIG instead of raising SIGXFSZ.
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit limit{static_cast<rlim_t>(options.file_size_limit), static_cast<rlim_t>(options.file_size_limit)};
      if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return "-1|setrlimit failed";
    }
    std::fflush(stdout);
    ::dup2(out_.get(), STDOUT_FILENO);
    ::dup2(err_.get(), STDERR_FILENO);
    std::vector<std::string> copies = args;  // client_main may modify argv (getopt permutes it)
    std::vector<char*> argv;
    for (auto& arg : copies) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int status = client_main(static_cast<int>(copies.size()), argv.data());
    std::fflush(stdout);
    std::fflush(stderr);
    return std::to_string(status) + "|" + ipclab::leak_report(ipclab::children_of());
  }

  ipclab::Fd out_;
  ipclab::Fd err_;
  ipclab::Pipe go_;
  std::unique_ptr<ipclab::Child> child_;
};

inline ClientRun run_client(const fs::path& dir, const std::vector<std::string>& args, ClientOptions options = {}) {
  ClientProcess client(dir, args, options);
  return client.finish();
}

// What the client must print for -p P -t T -e E.
inline std::string expected_point(int person, double seconds, int ecg) {
  char line[64];
  std::snprintf(line, sizeof line, "%g\n", ecg_value(person, row_of(seconds), ecg));
  return line;
}

inline std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return "(no file " + path.string() + ")";
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

inline void write_file(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// A scratch directory with BIMDC/ holding the named files.
struct ServerDir {
  ipclab::ScratchDir scratch;
  [[nodiscard]] const fs::path& path() const { return scratch.path(); }
  fs::path add(const std::string& name, const std::string& content) {
    write_file(path() / "BIMDC" / name, content);
    return path() / "BIMDC" / name;
  }
};

// The names of a channel's objects, as they appear in the file system.
inline std::vector<std::string> object_paths(char mechanism, const fs::path& dir, const std::string& prefix,
                                             const std::string& name) {
  std::vector<std::string> paths;
  for (int d = 1; d <= 2; ++d) {
    if (mechanism == 'f') paths.push_back((dir / fifo_path(prefix, name, d)).string());
    if (mechanism == 'q') paths.push_back("/dev/mqueue" + mq_name(prefix, name, d));
    if (mechanism == 's') {
      paths.push_back("/dev/shm" + shm_name(prefix, name, d));
      paths.push_back("/dev/shm/sem." + free_sem_name(prefix, name, d).substr(1));
      paths.push_back("/dev/shm/sem." + ready_sem_name(prefix, name, d).substr(1));
    }
  }
  return paths;
}

inline bool all_exist(const std::vector<std::string>& paths) {
  std::error_code error;
  return std::all_of(paths.begin(), paths.end(), [&](const std::string& p) { return fs::exists(p, error); });
}

// Removes, with the test's own calls, whatever objects channel `name` of run
// `prefix` still has: for objects the test itself made (stale ones, its own
// end of a channel), so that a failing submission is not also charged with
// a leak it did not make.
inline void scrub(char mechanism, const fs::path& dir, const std::string& prefix, const std::string& name) {
  for (int d = 1; d <= 2; ++d) {
    if (mechanism == 'f') ::unlink((dir / fifo_path(prefix, name, d)).c_str());
    if (mechanism == 'q') ::mq_unlink(mq_name(prefix, name, d).c_str());
    if (mechanism == 's') {
      ::shm_unlink(shm_name(prefix, name, d).c_str());
      ::sem_unlink(free_sem_name(prefix, name, d).c_str());
      ::sem_unlink(ready_sem_name(prefix, name, d).c_str());
    }
  }
}

// Waits until every path exists while process `pid` runs; false otherwise.
inline bool wait_for_paths(const std::vector<std::string>& paths, pid_t pid) {
  return ipclab::eventually([&] { return all_exist(paths) || ipclab::has_ended(pid); }) && all_exist(paths);
}

// The server process a client started (its only child), or 0.
inline pid_t server_of(pid_t client) {
  const auto children = ipclab::children_of(client);
  return children.empty() ? 0 : children.front().pid;
}

// ---- one side of a channel ---------------------------------------------------

using SideBody = std::function<std::string(RequestChannel&)>;

// The student's channel side `side`, made in a child whose working directory
// is `dir`, running `body`; the channel is destroyed when the body returns.
inline std::unique_ptr<ipclab::Child> start_side(const fs::path& dir, char mechanism, const std::string& prefix,
                                                 Side side, int capacity, const SideBody& body,
                                                 const std::string& name = "control") {
  return std::make_unique<ipclab::Child>([=] {
    if (::chdir(dir.c_str()) != 0) return std::string("chdir failed");
    ::signal(SIGPIPE, SIG_IGN);
    std::string result;
    {
      auto channel = make_channel(mechanism, name, prefix, side, capacity);
      result = body(*channel);
    }
    return result;
  });
}

// Message sizes for a sequence on a channel of `capacity`: every size from 0
// to the capacity once, in a scrambled order, then the edges again.
inline std::vector<int> sequence_sizes(int capacity) {
  std::vector<int> sizes;
  for (int size = 0; size <= capacity; ++size) sizes.push_back(size);
  std::uint32_t state = 777;
  for (std::size_t i = sizes.size(); i > 1; --i) {
    state = state * 1103515245u + 12345u;
    std::swap(sizes[i - 1], sizes[(state >> 8) % i]);
  }
  for (int size : {0, 1, capacity - 1, capacity, 0, 0, capacity}) sizes.push_back(size);
  return sizes;
}

// Message `index` of a sequence: bytes of every value (NULs included) that
// tell it from every other message.
inline std::string message_number(std::size_t index, int size) {
  return ipclab::pattern(static_cast<std::size_t>(size), static_cast<std::uint32_t>(index) * 7 + 3);
}

inline std::string send_sequence(RequestChannel& channel, const std::vector<int>& sizes) {
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const std::string message = message_number(i, sizes[i]);
    const int sent = channel.cwrite(message.data(), sizes[i]);
    if (sent != sizes[i]) {
      return "cwrite of " + std::to_string(sizes[i]) + " bytes returned " + std::to_string(sent);
    }
  }
  return "";
}

// "" when every message of the sequence arrives whole, with its own length,
// in order; else what went wrong first.
inline std::string receive_sequence(RequestChannel& channel, const std::vector<int>& sizes, int capacity) {
  std::vector<char> buffer(static_cast<std::size_t>(capacity) + 16);
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const int length = channel.cread(buffer.data(), capacity);
    const std::string where = "message " + std::to_string(i) + " of " + std::to_string(sizes.size()) + " (" +
                              std::to_string(sizes[i]) + " bytes)";
    if (length != sizes[i]) return where + ": cread returned " + std::to_string(length);
    const std::string got(buffer.data(), static_cast<std::size_t>(length));
    if (const std::string difference = ipclab::first_difference(message_number(i, sizes[i]), got);
        !difference.empty()) {
      return where + ": " + difference;
    }
  }
  return "";
}

}  // namespace channels::testing
