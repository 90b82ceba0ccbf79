#pragma once
// The verdict channel: how the test binary tells the grader how each test
// case went. Not standard output, which the code under test can write too.
//
// The grader's inspector (the binary's parent in the sandbox) starts the
// binary with IPCLAB_VERDICT="RECORDS TOKEN": two descriptors, a pipe for
// records and a pipe holding a secret token for this one run. Before any
// other code of the program runs — the C library runs .preinit_array before
// every global constructor, and the grader refuses a submission that brings
// a .preinit_array or an IFUNC of its own — the harness reads the token,
// closes its pipe and moves the records pipe to a close-on-exec descriptor.
// Every record is one line, "TOKEN JSON", written in one write() (records
// are capped below PIPE_BUF, so lines from several processes never mix).
// A line without the token is something else writing on the channel: the
// inspector reports it and the test fails.
//
// The token lives in this process's memory: code that deliberately searches
// the harness's memory for it can forge a record. README.md ("What the
// grader trusts") says how far that goes and how a TA notices it.
//
// Without IPCLAB_VERDICT (bazel test, a developer running the binary by
// hand) records go nowhere and the binary behaves as doctest always does.

#include <string>
#include <string_view>

namespace ipclab::verdict {

// Sends one record, a JSON object such as {"event":"case",...}.
void send(std::string_view json_object);

// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_string(std::string_view text);

// Tells the grader which cause of a failure the test saw, so the student's
// hint names that cause and not the test's most common one. Call it just
// before the check that fails, with a key of the test's `[tests.hints]`
// table in lab.toml:
//
//   if (status == "141") ipclab::verdict::observed("a stage's SIGPIPE status");
//   CHECK(status == "127");
void observed(std::string_view cause);

}  // namespace ipclab::verdict
