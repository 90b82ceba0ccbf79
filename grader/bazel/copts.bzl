"""Compiler flags, in one place."""

# Our own C++: harness, tests, reference solutions.
OWN_COPTS = ["-Wall", "-Wextra", "-Werror"]

# Student files get the same warnings, shown but never fatal: a warning is
# feedback, not a zero. Bazel compiles only the skeleton with these; a
# submission is compiled by the grader (grader/grading/compile.py COMPILE_FLAGS,
# kept the same).
STUDENT_COPTS = ["-Wall", "-Wextra"]
