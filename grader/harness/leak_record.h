#pragma once
// The leak record, in the one form both of its senders write: the harness,
// for what a test body left behind (leaks.h), and the inspector, for what
// the test's sandbox still holds when the test has ended. The grader reads
// it (grader/grading/run.py, parse_report):
//
//   {"event":"leak","kind":"descriptor","object":"fd 5 (pipe:[4711])","fix":"close(5)"}
//
// `json_string` makes text a JSON string literal, quotes included; each
// sender brings its own (the inspector first makes the test's bytes valid
// UTF-8).

#include <string>
#include <string_view>

namespace ipclab {

template <class JsonString>
[[nodiscard]] std::string leak_record(std::string_view kind, std::string_view object, std::string_view fix,
                                      const JsonString& json_string) {
  return R"({"event":"leak","kind":)" + json_string(kind) + R"(,"object":)" + json_string(object) + R"(,"fix":)" +
         json_string(fix) + "}";
}

}  // namespace ipclab
