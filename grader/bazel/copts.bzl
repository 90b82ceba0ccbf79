"""Compiler flags, in one place."""

# Our own C++: harness, tests, reference solutions.
OWN_COPTS = ["-Wall", "-Wextra", "-Werror"]

# Student files get the same warnings, shown but never fatal: a warning is
# feedback, not a zero.
STUDENT_COPTS = ["-Wall", "-Wextra"]
