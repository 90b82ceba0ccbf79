#pragma once
// Checks for code run in a child (child.h), so a test reads like its sentence.
//
// REQUIRE_RETURNED(outcome) stops the test unless the body returned, and
// then says how it ended instead ("timed out after 10.0 s (the whole process
// group was killed)", "threw std::logic_error: not implemented: ..."). An
// optional text names the process, for a test with several:
//
//   Outcome read = reader.finish(kDeadline);
//   REQUIRE_RETURNED(read, "the reader: ");
//   CHECK(read.value == "hello");
//
// threw<E>(call) tells, inside a body, whether the call threw an E. Any
// other exception goes on out of the body, so the Outcome still names it:
// a test that expects std::invalid_argument and gets a std::logic_error
// ("not implemented") says so, instead of "no exception".
//
//   return std::string(ipclab::threw<std::invalid_argument>([] { run_pipeline({}); })
//                          ? "invalid_argument" : "no exception");

#include <doctest/doctest.h>

#include <type_traits>
#include <utility>

// The check is written out as `outcome.ok()` (not parenthesised) so a failure
// reads as the assertion it replaces.
#define REQUIRE_RETURNED(outcome, ...) \
  DOCTEST_REQUIRE_MESSAGE(outcome.ok(), __VA_ARGS__ __VA_OPT__(, ) outcome.describe())

namespace ipclab {

template <class Exception, class Call>
[[nodiscard]] bool threw(Call&& call) {
  static_assert(std::is_class_v<Exception>, "threw<E>: E is the exception type to catch, e.g. std::invalid_argument");
  try {
    std::forward<Call>(call)();
  } catch (const Exception&) {
    return true;
  }
  return false;
}

}  // namespace ipclab
