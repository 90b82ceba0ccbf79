// checks.h and errno_error.h: REQUIRE_RETURNED must stop a test with the
// body's story, threw<E> must tell one exception from another, and
// throw_errno must name the call and keep errno.
#include "grader/harness/checks.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "grader/harness/child.h"
#include "grader/harness/errno_error.h"
#include "grader/harness/fd.h"

using namespace std::chrono_literals;

namespace {

struct Run {
  int status = -1;  // as waitpid gives it
  std::string output;
};

// This binary again, running only test case `name` (skipped ones included;
// no comma in it: doctest splits filters at commas),
// its output captured: how a test checks that another test fails, and how.
Run run_this_binary(const std::string& name) {
  ipclab::Fd output = ipclab::memory_file("output");
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(output.get(), STDOUT_FILENO);
    ::dup2(output.get(), STDERR_FILENO);
    ::unsetenv("IPCLAB_VERDICT");  // its records are not this run's
    const std::string filter = "--test-case=" + name;
    ::execl("/proc/self/exe", "checks_test", filter.c_str(), "--no-skip", "--no-colors", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  Run run;
  ::waitpid(pid, &run.status, 0);
  run.output = ipclab::content_of(output.get());
  return run;
}

constexpr const char* kStopsAThrowingBody = "REQUIRE_RETURNED stops a test whose body threw (skipped unless asked)";
constexpr const char* kStopsATimedOutBody = "REQUIRE_RETURNED stops a test whose body timed out (skipped unless asked)";

}  // namespace

TEST_SUITE("harness") {

TEST_CASE("REQUIRE_RETURNED lets a test go on when the body returned") {
  const ipclab::Outcome outcome = ipclab::run_in_child([] { return std::string("done"); }, 5s);
  REQUIRE_RETURNED(outcome);
  REQUIRE_RETURNED(outcome, "the only process: ");
  CHECK(outcome.value == "done");
}

// The two cases below are meant to fail; the next test runs them.
TEST_CASE(kStopsAThrowingBody * doctest::skip()) {
  const ipclab::Outcome outcome =
      ipclab::run_in_child([]() -> std::string { throw std::logic_error("not implemented: demo"); }, 5s);
  REQUIRE_RETURNED(outcome, "the demo process: ");
  FAIL("went on after REQUIRE_RETURNED");
}

TEST_CASE(kStopsATimedOutBody * doctest::skip()) {
  const ipclab::Outcome outcome = ipclab::run_in_child(
      [] {
        ::pause();
        return std::string();
      },
      100ms);
  REQUIRE_RETURNED(outcome);
  FAIL("went on after REQUIRE_RETURNED");
}

TEST_CASE("REQUIRE_RETURNED fails with how the body ended, and the text before it") {
  const Run run = run_this_binary(kStopsAThrowingBody);
  CHECK_MESSAGE(WIFEXITED(run.status), run.output);
  CHECK_MESSAGE(WEXITSTATUS(run.status) != 0, run.output);
  CHECK_MESSAGE(run.output.find("the demo process: threw std::logic_error: not implemented: demo") !=
                    std::string::npos,
                run.output);
  CHECK_MESSAGE(run.output.find("outcome.ok()") != std::string::npos, run.output);
  CHECK_MESSAGE(run.output.find("went on after") == std::string::npos, run.output);
}

TEST_CASE("REQUIRE_RETURNED with no text fails with the outcome's description alone") {
  const Run run = run_this_binary(kStopsATimedOutBody);
  CHECK_MESSAGE(WEXITSTATUS(run.status) != 0, run.output);
  CHECK_MESSAGE(run.output.find("timed out after") != std::string::npos, run.output);
  CHECK_MESSAGE(run.output.find("went on after") == std::string::npos, run.output);
}

TEST_CASE("threw tells the exception it names from none") {
  CHECK(ipclab::threw<std::invalid_argument>([] { throw std::invalid_argument("bad"); }));
  CHECK_FALSE(ipclab::threw<std::invalid_argument>([] {}));
}

TEST_CASE("threw counts an exception derived from the one it names") {
  CHECK(ipclab::threw<std::logic_error>([] { throw std::invalid_argument("bad"); }));
  CHECK(ipclab::threw<std::runtime_error>([] { throw std::system_error(EINVAL, std::generic_category(), "x"); }));
}

TEST_CASE("threw lets any other exception through") {
  // A base of the named type is another type: "not implemented" is a
  // std::logic_error, not the std::invalid_argument a test expects.
  CHECK_THROWS_AS((void)ipclab::threw<std::invalid_argument>([] { throw std::logic_error("not implemented: x"); }),
                  std::logic_error);
  CHECK_THROWS_AS((void)ipclab::threw<std::invalid_argument>([] { throw std::runtime_error("other"); }),
                  std::runtime_error);
}

TEST_CASE("threw works on a call that returns a value") {
  CHECK_FALSE(ipclab::threw<std::out_of_range>([] { return std::string("abc").at(1); }));
  CHECK(ipclab::threw<std::out_of_range>([] { return std::string("abc").at(7); }));
}

TEST_CASE("throw_errno names the call and keeps errno") {
  errno = 0;
  const int fd = ::open("/nonexistent/ipclab", O_RDONLY);
  REQUIRE(fd < 0);
  try {
    ipclab::throw_errno("the test's open /nonexistent/ipclab");
  } catch (const std::system_error& error) {
    CHECK(error.code().value() == ENOENT);
    CHECK(std::string(error.what()).find("the test's open /nonexistent/ipclab") == 0);
    CHECK(std::string(error.what()).find("No such file or directory") != std::string::npos);
    return;
  }
  FAIL("throw_errno returned");
}

}  // TEST_SUITE
