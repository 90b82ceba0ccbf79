"""./test — the whole test suite: the linters (formatting, style, types),
`bazel test //...` (the harness's tests and
every lab's reference against its public and hidden tests), then the
grader's pytest suite (reports, sandbox, end-to-end grading, the bug
corpora) in parallel processes (pytest-xdist). It ends with one line,
`N passed, N failed`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# "//labs/pipe:x    PASSED in 1.2s", "(cached) PASSED", "FAILED", "TIMEOUT", "FAILED TO BUILD", "NO STATUS"
_BAZEL_RESULT = re.compile(r"^(//\S+)\s+(?:\(cached\) )?(PASSED|FAILED TO BUILD|FAILED|TIMEOUT|NO STATUS|FLAKY)\b")


def run_bazel_tests() -> tuple[int, int]:
    print("== bazel test //...", flush=True)
    process = subprocess.run(
        # Submissions staged under _stage/ are tagged "manual": not in //...
        ["bazel", "test", "--color=no", "--curses=no", "//..."],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    print(process.stdout, flush=True)
    results = [m.group(2) for m in map(_BAZEL_RESULT.match, process.stdout.splitlines()) if m]
    passed = sum(r == "PASSED" for r in results)
    failed = len(results) - passed
    if process.returncode != 0 and failed == 0:
        failed = 1  # the build itself broke before any test could report
    return passed, failed


# The repository's habits, each one check of ./test: Python formatting
# (black), style (flake8) and types (mypy), set in pyproject.toml and
# .flake8, and C++ formatting (clang-format), set in .clang-format.
PYTHON_LINTERS: tuple[tuple[str, list[str]], ...] = (
    ("black: Python formatting", ["black", "--check", "--quiet", "grader"]),
    ("flake8: Python style", ["flake8", "grader"]),
    ("mypy: Python types", ["mypy"]),
)


def cpp_sources() -> list[str]:
    """Our C++ but the vendored code and the doctest sources (.clang-format
    says why those are left out)."""
    listed = subprocess.run(["git", "ls-files", "*.cpp", "*.h"], cwd=REPO, capture_output=True, text=True, check=True)
    return [f for f in listed.stdout.split() if not f.startswith("third_party/") and not f.endswith("_test.cpp")]


def run_linters() -> tuple[int, int]:
    print("== linters", flush=True)
    checks = [
        *PYTHON_LINTERS,
        ("clang-format: C++ formatting", ["clang-format", "--dry-run", "-Werror", *cpp_sources()]),
    ]
    passed = failed = 0
    for name, command in checks:
        process = subprocess.run(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
        )
        print(f"{name}: {'PASSED' if process.returncode == 0 else 'FAILED'}", flush=True)
        if process.returncode != 0:
            print(process.stdout.rstrip()[-4000:], flush=True)
        passed, failed = passed + (process.returncode == 0), failed + (process.returncode != 0)
    return passed, failed


def pytest_workers() -> int:
    """Parallel pytest processes: one more than the cores, since most tests
    sleep in blocking observations or wait for Bazel's server."""
    return (os.cpu_count() or 1) + 1


def run_pytest(extra: list[str]) -> tuple[int, int]:
    workers = pytest_workers()
    print(f"== pytest grader/tests ({workers} workers)", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        junit = Path(scratch) / "pytest.xml"
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                str(workers),
                "--dist",
                "loadgroup",
                "--durations=15",
                f"--junitxml={junit}",
                "grader/tests",
                *extra,
            ],
            cwd=REPO,
            check=False,
        )
        if not junit.exists():
            return 0, 1
        suite = ElementTree.parse(junit).getroot().iter("testsuite")
        tests = failures = skipped = 0
        for s in suite:
            tests += int(s.get("tests", 0))
            failures += int(s.get("failures", 0)) + int(s.get("errors", 0))
            skipped += int(s.get("skipped", 0))
    if process.returncode not in (0, 1) and failures == 0:
        failures = 1  # pytest itself failed (collection, usage)
    return tests - failures - skipped, failures


def main(argv: list[str]) -> int:
    lint_passed, lint_failed = run_linters()
    bazel_passed, bazel_failed = run_bazel_tests()
    py_passed, py_failed = run_pytest(argv)
    passed, failed = lint_passed + bazel_passed + py_passed, lint_failed + bazel_failed + py_failed
    print(
        f"linters: {lint_passed} passed, {lint_failed} failed; bazel: {bazel_passed} passed, {bazel_failed} failed; "
        f"pytest: {py_passed} passed, {py_failed} failed"
    )
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
