#pragma once
// The JSON the inspector reads and writes. Its report is JSON lines that the
// grader parses with Python's json module (grader/grading/run.py parse_report), so
// every rule here is that module's rule:
//
//   std::string text = ipclab::json::valid_utf8(bytes);   // bad bytes -> U+FFFD
//   if (ipclab::json::is_harness_record(text)) relay(text);
//   out += "\"example\": " + ipclab::json::literal(text);
//
// Bytes from the test (record lines, file names, process names) may be
// anything: they are made valid UTF-8 first, exactly as Python's
// bytes.decode("utf-8", errors="replace") would, and only then parsed or
// quoted, so every line the inspector writes is valid UTF-8 and valid JSON.

#include <cstddef>
#include <string>
#include <string_view>

namespace ipclab::json {

// `bytes` with each invalid UTF-8 sequence replaced by U+FFFD, one per
// maximal invalid subpart (the Unicode standard's practice, and Python's).
[[nodiscard]] std::string valid_utf8(std::string_view bytes);

// The first `count` code points of valid UTF-8 `text`.
[[nodiscard]] std::string first_code_points(std::string_view text, std::size_t count);

// Valid UTF-8 `text` as a JSON string literal, quotes included, escaped as
// Python's json.dumps(..., ensure_ascii=False) escapes it.
[[nodiscard]] std::string literal(std::string_view text);

// Whether valid UTF-8 `text` is what Python's json.loads reads as an object
// whose "event" member is a string (the last "event", when there are several:
// Python keeps the last). The grammar is Python's: NaN, Infinity and
// -Infinity are numbers; white space around the value is allowed.
[[nodiscard]] bool is_harness_record(std::string_view text);

// `text` without the JSON white space (space, tab, CR, LF) around it.
[[nodiscard]] std::string_view trimmed(std::string_view text);

}  // namespace ipclab::json
