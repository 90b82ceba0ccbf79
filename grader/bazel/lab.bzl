"""One lab, declared once: the student's side in labs/<lab>, the instructor's
side in solutions/<lab>, and the binary for a staged submission.

Every test binary is the same test sources linked against one
implementation, so the reference, the skeleton and each submission answer
exactly the same test cases.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library")
load("//grader/bazel:copts.bzl", "OWN_COPTS", "STUDENT_COPTS")

_STAGE = ["//_stage:__subpackages__"]

def lab_public(name, public_tests = None, test_support = None):
    """labs/<name>/BUILD: the header, the skeleton and the public tests.

    Every name follows from the lab's: the header <name>_lab.h, the skeleton
    <name>_lab.cpp, the tests public_test.cpp and <name>_test_support.h (the
    headers the public and hidden tests share). A lab with more test files
    lists them all in public_tests and test_support.
    """
    header = name + "_lab.h"
    skeleton = name + "_lab.cpp"
    public_tests = public_tests or ["public_test.cpp"]
    test_support = test_support or [name + "_test_support.h"]
    cc_library(
        name = "api",
        hdrs = [header],
        visibility = ["//visibility:public"],
    )
    cc_library(
        name = "skeleton",
        srcs = [skeleton],
        copts = STUDENT_COPTS,
        deps = [":api"],
        alwayslink = True,
        visibility = ["//visibility:public"],
    )
    cc_library(
        name = "public_tests",
        srcs = public_tests,
        hdrs = test_support,
        copts = OWN_COPTS,
        deps = [":api", "//grader/harness", "@doctest"],
        alwayslink = True,
        visibility = ["//visibility:public"],
    )

    # The public tests alone, for a starter pack that has no solutions/.
    cc_library(
        name = "public_suite",
        deps = [":public_tests", "//grader/harness:main"],
        visibility = _STAGE,
    )

def lab_solution(name, hidden_tests = None):
    """solutions/<name>/BUILD: the reference (<name>_lab.cpp), the hidden
    tests (hidden_test.cpp, or every file listed), and its test run."""
    reference = name + "_lab.cpp"
    hidden_tests = hidden_tests or ["hidden_test.cpp"]
    lab = "//labs/" + name
    cc_library(
        name = "reference",
        srcs = [reference],
        copts = OWN_COPTS,
        deps = [lab + ":api"],
        alwayslink = True,  # linked whole, whatever the link order
    )
    cc_library(
        name = "hidden_tests",
        srcs = hidden_tests,
        copts = OWN_COPTS,
        deps = [lab + ":api", lab + ":public_tests", "//grader/harness", "@doctest"],
        alwayslink = True,
    )

    # Every test of the lab, public and hidden, for any implementation.
    cc_library(
        name = "tests",
        deps = [lab + ":public_tests", ":hidden_tests", "//grader/harness:main"],
        visibility = _STAGE,
    )

    # The grader runs this one, a test case at a time (static: one file to
    # put in a sandbox).
    cc_binary(
        name = "reference_tests",
        deps = [":reference", ":tests"],
    )

    # `bazel test //...` proves the reference passes everything, each lab
    # in IPC namespaces of its own (the labs' tests run side by side).
    native.sh_test(
        name = "reference_test",
        size = "medium",
        srcs = ["//grader/bazel:own_ipc_namespace.sh"],
        args = ["$(rootpath :reference_tests)"],
        data = [":reference_tests"],
    )

def lab_submission(lab, objects, tests):
    """_stage/<slot>/<lab>/BUILD, written by the grader: one submission.

    objects: the student's files, compiled by the grader in its own sandbox
    (grader/grading/compile.py), never by Bazel: Bazel only links them with the
    tests, which are already built. `lab` is kept for the reader of the
    staged BUILD file.
    """
    cc_library(
        name = "submission",
        srcs = objects,
        alwayslink = True,  # linked whole, whatever the link order
        tags = ["manual"],  # a submission is not one of our tests: keep it out of //...
    )
    cc_binary(
        name = "tests",
        # The tests first: for an inline function or template instance both
        # define (a COMDAT group), the linker keeps the first copy it sees,
        # so the harness and the tests keep their own.
        deps = [tests, ":submission"],
        tags = ["manual"],
    )

def lab_bench(driver):
    """_stage/<slot>/<lab>/BUILD, appended by grader/bench.py: the lab's
    benchmark driver linked with the submission's objects (the same
    objects, compiled and refused by the same rules as for the tests)."""
    cc_binary(
        name = "bench",
        # The driver first, for the reason given in lab_submission.
        deps = [driver, ":submission"],
        tags = ["manual"],
    )
