// The inspector's JSON against what Python's json module and
// bytes.decode("utf-8", errors="replace") do with the same text; the
// expected values were read from Python 3.11.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "grader/inspector/json.h"

#include <doctest/doctest.h>

#include <string>

using ipclab::json::first_code_points;
using ipclab::json::is_harness_record;
using ipclab::json::literal;
using ipclab::json::trimmed;
using ipclab::json::valid_utf8;

TEST_SUITE("inspector json") {
  TEST_CASE("valid UTF-8 passes through unchanged") {
    CHECK(valid_utf8("plain") == "plain");
    CHECK(valid_utf8("\xC3\xA9t\xC3\xA9 \xE2\x80\xA6 \xF0\x9F\x98\x80") == "\xC3\xA9t\xC3\xA9 \xE2\x80\xA6 \xF0\x9F\x98\x80");
  }

  TEST_CASE("invalid bytes become one U+FFFD per maximal invalid subpart, as in Python") {
    const std::string r = "\xEF\xBF\xBD";
    CHECK(valid_utf8("a\xFF" "b") == "a" + r + "b");                  // never a lead byte
    CHECK(valid_utf8("\x80\x80") == r + r);                           // lone continuations
    CHECK(valid_utf8("\xE2\x80") == r);                               // cut at the end
    CHECK(valid_utf8("\xE2\x80z") == r + "z");                        // cut in the middle
    CHECK(valid_utf8("\xC0\xAF") == r + r);                           // overlong
    CHECK(valid_utf8("\xED\xA0\x80") == r + r + r);                   // a surrogate
    CHECK(valid_utf8("\xF4\x90\x80\x80") == r + r + r + r);           // past U+10FFFF
    CHECK(valid_utf8("\xF0\x9F\x98") == r);                           // three of four
  }

  TEST_CASE("strings are quoted as json.dumps(ensure_ascii=False) quotes them") {
    CHECK(literal("a\"b\\c") == R"("a\"b\\c")");
    CHECK(literal("\n\r\t\b\f") == R"("\n\r\t\b\f")");
    CHECK(literal(std::string("\x01\x1b\x7f", 3)) == "\"\\u0001\\u001b\x7f\"");
    CHECK(literal("\xE2\x80\xA6") == "\"\xE2\x80\xA6\"");
  }

  TEST_CASE("an example is cut at a number of code points, not bytes") {
    CHECK(first_code_points("\xC3\xA9\xC3\xA9\xC3\xA9", 2) == "\xC3\xA9\xC3\xA9");
    CHECK(first_code_points("ab", 5) == "ab");
  }

  TEST_CASE("a record is an object whose last event member is a string") {
    CHECK(is_harness_record(R"({"event":"case","name":"t","passed":true})"));
    CHECK(is_harness_record(R"(  {"event" : "run", "cases": 1, "failed": 0, "x": [1, -2.5e3, null, false, {}]} )"));
    CHECK(is_harness_record(R"({"\u0065vent":"case"})"));  // the same key, escaped
    CHECK(is_harness_record(R"({"event":1,"event":"case"})"));
    CHECK_FALSE(is_harness_record(R"({"event":"case","event":1})"));
    CHECK_FALSE(is_harness_record(R"({"name":"t"})"));
    CHECK_FALSE(is_harness_record(R"(["event","case"])"));
    CHECK_FALSE(is_harness_record(R"("event")"));
    CHECK_FALSE(is_harness_record(""));
  }

  TEST_CASE("Python's extensions are numbers, and its strictness holds") {
    CHECK(is_harness_record(R"({"event":"e","a":NaN,"b":Infinity,"c":-Infinity})"));
    CHECK_FALSE(is_harness_record(R"({"event":"e","a":01})"));
    CHECK_FALSE(is_harness_record(R"({"event":"e","a":1.})"));
    CHECK_FALSE(is_harness_record(R"({"event":"e","a":.5})"));
    CHECK_FALSE(is_harness_record(R"({"event":"e",})"));
    CHECK_FALSE(is_harness_record(R"({"event":"e"} x)"));
    CHECK_FALSE(is_harness_record(R"({"event":"e"}{})"));
    CHECK_FALSE(is_harness_record(R"({'event':'e'})"));
    CHECK_FALSE(is_harness_record("{\"event\":\"a\tb\"}"));  // a raw control character
    CHECK_FALSE(is_harness_record(R"({"event":"\x41"})"));
    CHECK_FALSE(is_harness_record(R"({"event":"\u12"})"));
    CHECK_FALSE(is_harness_record(R"({"event":"open)"));
    CHECK_FALSE(is_harness_record("\xEF\xBB\xBF{\"event\":\"e\"}"));  // a byte order mark
  }

  TEST_CASE("nesting deeper than any record is refused, not a crash") {
    CHECK(is_harness_record("{\"event\":\"e\",\"a\":" + std::string(100, '[') + std::string(100, ']') + "}"));
    CHECK_FALSE(is_harness_record("{\"event\":\"e\",\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}"));
  }

  TEST_CASE("white space around a record is trimmed") {
    CHECK(trimmed(" \t{}\t ") == "{}");
    CHECK(trimmed("   ").empty());
  }
}
