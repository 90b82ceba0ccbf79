#pragma once
// A failed system call made by the test itself (not by the code under test),
// as an exception that names the call and carries errno:
//
//   if (::mkfifo(path.c_str(), 0600) != 0) ipclab::throw_errno("the test's mkfifo " + path.string());
//
// Thrown in the test process, doctest reports the test as failed with
// "the test's mkfifo /tmp/x/f: File exists"; thrown in a child's body, the
// Outcome says "threw std::system_error: ...". Either way the message says
// the test's own set-up failed, so nobody hunts for the bug in the student's
// code.

#include <string>

namespace ipclab {

// Throws std::system_error for the current errno, with `what` as its text.
[[noreturn]] void throw_errno(const std::string& what);

}  // namespace ipclab
