// The signal-state reader against processes whose signals we set up.
#include "grader/harness/signal_state.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "grader/harness/child.h"
#include "grader/harness/fd.h"
#include "grader/harness/observe.h"

TEST_CASE("signal_state sees a blocked signal pending in another process") {
  ipclab::Pipe go;
  ipclab::Child child([&] {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    ::sigprocmask(SIG_BLOCK, &usr1, nullptr);
    ::signal(SIGUSR2, SIG_IGN);
    go.write.reset();
    return ipclab::read_until_eof(go.read.get());
  });
  go.read.reset();
  REQUIRE(ipclab::wait_until_blocked(child.pid()).yes);
  auto before = ipclab::signal_state(child.pid());
  REQUIRE(before);
  CHECK(before->is_blocked(SIGUSR1));
  CHECK_FALSE(before->is_pending(SIGUSR1));
  CHECK(before->is_ignored(SIGUSR2));
  ::kill(child.pid(), SIGUSR1);
  auto after = ipclab::signal_state(child.pid());
  REQUIRE(after);
  CHECK(after->is_pending(SIGUSR1));
  const std::string text = ipclab::describe(*after);
  CHECK(text.find("pending: SIGUSR1; blocked: SIGUSR1; ignored: SIGUSR2") == 0);
  CHECK(text.find("caught: none") != std::string::npos);
  go.write.reset();
  CHECK(child.finish(std::chrono::seconds(10)).ok());
}

TEST_CASE("signal_names names standard and real-time signals") {
  std::uint64_t set = 0;
  for (int signo : {SIGINT, SIGRTMIN, SIGRTMIN + 2}) set |= 1ULL << (signo - 1);
  CHECK(ipclab::signal_names(set) == "SIGINT SIGRTMIN SIGRTMIN+2");
  CHECK(ipclab::signal_names(0) == "none");
}

TEST_CASE("signal_state of a process that is gone is empty") {
  ipclab::Child child([] { return std::string(); });
  REQUIRE(child.finish(std::chrono::seconds(10)).ok());  // finished: reaped
  CHECK_FALSE(ipclab::signal_state(child.pid()));
}

TEST_CASE("interrupt_on makes a blocking read that the signal interrupts fail with EINTR") {
  ipclab::Pipe never_written;
  ipclab::Child reader([&] {
    ipclab::interrupt_on(SIGUSR1);
    never_written.write.reset();
    char byte = 0;
    const ssize_t n = ::read(never_written.read.get(), &byte, 1);
    return n < 0 && errno == EINTR ? std::string("EINTR") : "read returned " + std::to_string(n);
  });
  REQUIRE(ipclab::wait_until_blocked(reader.pid()).yes);
  ::kill(reader.pid(), SIGUSR1);
  const ipclab::Outcome outcome = reader.finish(std::chrono::seconds(10));
  never_written.write.reset();
  REQUIRE(outcome.ok());
  CHECK(outcome.value == "EINTR");
}
