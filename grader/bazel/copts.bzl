"""Compiler flags, in one place."""

# libstdc++'s cheap checks (a vector or string index out of range, front() of
# an empty container) abort with the failed condition instead of reading
# past the end in silence: a student's off-by-one becomes a crash that names
# itself. They change no layout, so objects built with and without them link.
CHECKED_LIBRARY = ["-D_GLIBCXX_ASSERTIONS"]

# Our own C++: harness, tests, reference solutions.
OWN_COPTS = ["-Wall", "-Wextra", "-Werror"] + CHECKED_LIBRARY

# Student files get the same warnings, shown but never fatal: a warning is
# feedback, not a zero. Bazel compiles only the skeleton with these; a
# submission is compiled by the grader (grader/grading/compile.py COMPILE_FLAGS,
# kept the same).
STUDENT_COPTS = ["-Wall", "-Wextra"] + CHECKED_LIBRARY
