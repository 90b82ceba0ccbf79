// The harness judges student code, so it is tested first: each helper must
// both accept what is right and reject what is wrong.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "grader/harness/checks.h"
#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/helper.h"
#include "grader/harness/names.h"
#include "grader/harness/observe.h"
#include "grader/harness/payload.h"
#include "grader/harness/snapshot.h"

using namespace std::chrono_literals;
using ipclab::Outcome;

TEST_SUITE("harness") {

TEST_CASE("run_in_child carries the body's result back") {
  const std::string big = ipclab::pattern(1 << 20, 3);
  Outcome outcome = ipclab::run_in_child([&] { return big; }, 10s);
  REQUIRE_RETURNED(outcome);
  CHECK(ipclab::first_difference(big, outcome.value) == "");
}

TEST_CASE("run_in_child names each way a body can fail") {
  Outcome threw = ipclab::run_in_child([]() -> std::string { throw std::logic_error("not implemented: x"); }, 5s);
  CHECK(threw.kind == Outcome::Kind::threw);
  CHECK(threw.describe() == "threw std::logic_error: not implemented: x");

  Outcome exited = ipclab::run_in_child([]() -> std::string { std::exit(4); }, 5s);
  CHECK(exited.kind == Outcome::Kind::exited);
  CHECK(exited.code == 4);

  Outcome crashed = ipclab::run_in_child([]() -> std::string { ::raise(SIGSEGV); return ""; }, 5s);
  CHECK(crashed.kind == Outcome::Kind::signaled);
  CHECK(crashed.code == SIGSEGV);
}

TEST_CASE("a body that hangs is killed at its deadline with its whole process group") {
  ipclab::Pipe grandchild_pid;
  Outcome outcome = ipclab::run_in_child(
      [&] {
        const pid_t grandchild = ::fork();
        if (grandchild == 0) {
          ::pause();
          ::_exit(0);
        }
        ipclab::write_fully(grandchild_pid.write.get(), std::to_string(grandchild));
        ::pause();
        return std::string();
      },
      300ms);
  CHECK(outcome.kind == Outcome::Kind::timed_out);
  CHECK(outcome.describe().find("timed out after") == 0);
  CHECK_FALSE(outcome.blocked_in_fifo_open);  // asleep in pause(), not in open()
  grandchild_pid.write.reset();
  const pid_t grandchild = std::stoi(ipclab::read_until_eof(grandchild_pid.read.get()));
  // The grandchild was killed; it may linger as a zombie until init reaps it.
  for (int tries = 0; tries < 500; ++tries) {
    auto sample = ipclab::sample_process(grandchild);
    if (!sample || sample->state == 'Z') break;
    std::this_thread::sleep_for(10ms);
  }
  auto sample = ipclab::sample_process(grandchild);
  CHECK((!sample || sample->state == 'Z'));
}

TEST_CASE("a forked child that returns into the test does not report a result") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        const pid_t child = ::fork();
        if (child > 0) ::waitpid(child, nullptr, 0);
        return std::string(child == 0 ? "from the stray child" : "from the body");
      },
      5s);
  REQUIRE(outcome.ok());
  CHECK(outcome.value == "from the body");
}

TEST_CASE("wait_until_blocked sees a reader asleep on an empty pipe") {
  ipclab::Pipe pipe;
  ipclab::Child reader([&] {
    pipe.write.reset();  // the child's copy; the parent still holds one
    char byte;
    return std::to_string(::read(pipe.read.get(), &byte, 1));
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(reader.pid());
  CHECK_MESSAGE(blocked.yes, blocked.evidence);
  pipe.write.reset();
  Outcome outcome = reader.finish(5s);
  CHECK(outcome.value == "0");
}

TEST_CASE("wait_until_blocked rejects a busy-waiting reader") {
  ipclab::Pipe pipe;
  ipclab::Child spinner([&] {
    ::fcntl(pipe.read.get(), F_SETFL, O_NONBLOCK);
    char byte;
    while (::read(pipe.read.get(), &byte, 1) < 0) {
    }
    return std::string();
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(spinner.pid(), 1s);
  CHECK_FALSE(blocked.yes);
  CHECK(blocked.evidence.find("never blocked") != std::string::npos);
  // The evidence shows the spinning: CPU time over the whole wait, not 0 ms.
  CHECK_MESSAGE(blocked.evidence.find(" used 0 ms of CPU") == std::string::npos, blocked.evidence);
  CHECK_FALSE(blocked.growing_memory);  // it spins without touching new memory
  CHECK(blocked.evidence.find("busy-waiting") != std::string::npos);
}

TEST_CASE("a body asleep in open() of a FIFO at its deadline is said to be") {
  ipclab::ScratchDir dir;
  const std::string path = dir.path().string() + "/f";
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  Outcome outcome = ipclab::run_in_child(
      [&] {
        const int fd = ::open(path.c_str(), O_RDONLY);  // no writer ever comes
        return std::to_string(fd);
      },
      500ms);
  CHECK(outcome.kind == Outcome::Kind::timed_out);
  CHECK(outcome.blocked_in_fifo_open);
  CHECK_MESSAGE(outcome.describe().find("blocked in open() of a FIFO") != std::string::npos, outcome.describe());
}

TEST_CASE("wait_until_blocked tells a process filling memory from one that polls") {
  ipclab::Child filler([] {
    // Touches fresh pages for ever (64 MiB at a time, given back and taken
    // again), as a receive filling a buffer of a garbage length does.
    constexpr std::size_t kChunk = std::size_t{64} << 20;
    for (;;) {
      volatile char* memory = static_cast<volatile char*>(std::malloc(kChunk));
      for (std::size_t at = 0; memory && at < kChunk; at += 4096) memory[at] = 1;
      std::free(const_cast<char*>(memory));
    }
    return std::string();
  });
  ipclab::Blocked blocked = ipclab::wait_until_blocked(filler.pid(), 1s);
  CHECK_FALSE(blocked.yes);
  CHECK_MESSAGE(blocked.growing_memory, blocked.evidence);
  CHECK_MESSAGE(blocked.evidence.find("page faults") != std::string::npos, blocked.evidence);
  CHECK_MESSAGE(blocked.evidence.find("busy-waiting") == std::string::npos, blocked.evidence);
}

TEST_CASE("wait_until_blocked rejects a reader that polls and sleeps") {
  ipclab::Pipe pipe;
  ipclab::Child poller([&] {
    ::fcntl(pipe.read.get(), F_SETFL, O_NONBLOCK);
    char byte;
    while (::read(pipe.read.get(), &byte, 1) < 0) ::usleep(1000);
    return std::string();
  });
  CHECK_FALSE(ipclab::wait_until_blocked(poller.pid(), 1s).yes);
}

TEST_CASE("IpcObjects names a message queue left behind") {
  const auto before = ipclab::IpcObjects::now();
  const std::string name = ipclab::unique_ipc_name("leak");
  mqd_t queue = ::mq_open(name.c_str(), O_CREAT | O_RDWR, 0600, nullptr);
  REQUIRE(queue != static_cast<mqd_t>(-1));
  CHECK(ipclab::IpcObjects::now().created_since(before) ==
        std::vector<std::string>{"/dev/mqueue" + name});
  ::mq_close(queue);
  ::mq_unlink(name.c_str());
  CHECK(ipclab::IpcObjects::now().created_since(before).empty());
}

TEST_CASE("leak_report names every item of a set, in order, and nothing for an empty one") {
  const std::set<std::string> left{"/tmp/x/b", "/tmp/x/a"};
  CHECK(ipclab::leak_report("FIFO nodes left behind", left) == "FIFO nodes left behind: /tmp/x/a, /tmp/x/b");
  CHECK(ipclab::leak_report("FIFO nodes left behind", std::set<std::string>{}) == "");
}

TEST_CASE("children_of finds a zombie and says it was never reaped") {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  for (int tries = 0; tries < 500 && ipclab::sample_process(child)->state != 'Z'; ++tries) {
    std::this_thread::sleep_for(10ms);
  }
  const std::string report = ipclab::leak_report(ipclab::children_of());
  CHECK(report.find(std::to_string(child)) != std::string::npos);
  CHECK(report.find("never reaped") != std::string::npos);
  ::waitpid(child, nullptr, 0);
  CHECK(ipclab::children_of().empty());
}

TEST_CASE("fifo_nodes and open_descriptors see what was made") {
  ipclab::ScratchDir dir;
  REQUIRE(::mkfifo((dir.path() / "f").c_str(), 0600) == 0);
  CHECK(ipclab::fifo_nodes(dir.path()) == std::set<std::string>{(dir.path() / "f").string()});
  const auto before = ipclab::open_descriptors();
  ipclab::Pipe pipe;
  const auto after = ipclab::open_descriptors();
  CHECK(after.size() == before.size() + 2);
  CHECK(after.count(pipe.read.get()) == 1);
}

TEST_CASE("write_unless_reader_ended writes to an open reader and stops quietly at a closed one") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ::signal(SIGPIPE, SIG_IGN);
        ipclab::Pipe open_reader;
        ipclab::write_unless_reader_ended(open_reader.write.get(), "kept");
        open_reader.write.reset();
        std::string log = ipclab::read_until_eof(open_reader.read.get());
        ipclab::Pipe closed_reader;
        closed_reader.read.reset();
        ipclab::write_unless_reader_ended(closed_reader.write.get(), "lost");
        log += " / no throw";
        try {
          ipclab::write_fully(closed_reader.write.get(), "lost");
        } catch (const std::system_error& error) {
          log += error.code().value() == EPIPE ? " / write_fully: EPIPE" : " / write_fully: other";
        }
        return log;
      },
      5s);
  REQUIRE(outcome.ok());
  CHECK(outcome.value == "kept / no throw / write_fully: EPIPE");
}

TEST_CASE("unique names differ and are valid POSIX IPC names") {
  const std::string a = ipclab::unique_ipc_name("q"), b = ipclab::unique_ipc_name("q");
  CHECK(a != b);
  CHECK(a[0] == '/');
  CHECK(a.find('/', 1) == std::string::npos);
}

TEST_CASE("the echo-fds helper copies its input and lists its descriptors") {
  ipclab::Pipe in, out;
  const auto command = ipclab::helper_command("echo-fds");
  ipclab::Child helper([&] {
        ::dup2(in.read.get(), 0);
        ::dup2(out.write.get(), 1);
        std::vector<char*> argv;
        for (const auto& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        return std::string("exec failed");
      });
  ipclab::write_fully(in.write.get(), "input\n");
  in.write.reset();
  out.write.reset();
  Outcome outcome = helper.finish(5s);
  CHECK(outcome.kind == Outcome::Kind::exited);
  CHECK(ipclab::read_until_eof(out.read.get()) == "input\nfds: 0 1 2\n");
}

}  // TEST_SUITE

TEST_SUITE("harness: leaks") {

TEST_CASE("a body that leaves a descriptor and a zombie behind is reported with the fixing call") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        int fds[2];
        if (::pipe(fds) != 0) return std::string("pipe failed");
        if (::fork() == 0) ::_exit(0);
        ::usleep(100 * 1000);  // let the child exit; the report must say zombie or running either way
        return std::string("done");
      },
      5s);
  REQUIRE(outcome.ok());
  CHECK(outcome.value == "done");
  CHECK(outcome.leaks.find("\"kind\":\"descriptor\"") != std::string::npos);
  CHECK(outcome.leaks.find("pipe:[") != std::string::npos);
  CHECK(outcome.leaks.find("close(") != std::string::npos);
  CHECK(outcome.leaks.find("waitpid(") != std::string::npos);
}

TEST_CASE("a body that cleans up reports no leaks") {
  Outcome outcome = ipclab::run_in_child(
      [] {
        ipclab::Pipe pipe;
        const pid_t child = ::fork();
        if (child == 0) ::_exit(0);
        ::waitpid(child, nullptr, 0);
        return std::string("clean");
      },
      5s);
  REQUIRE(outcome.ok());
  CHECK(outcome.leaks == "");
}

}  // TEST_SUITE
