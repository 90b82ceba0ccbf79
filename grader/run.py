"""Run: list a binary's test cases, and run each one alone, sandboxed, with a
wall-clock deadline, capped output, and the whole process tree killed at its
end, so one crash or hang costs one test, not the lab."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import time
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from grader.sandbox import Sandbox, TestView, kill_marked

# Output kept for feedback: the head and the tail of what a test printed.
KEEP_HEAD = 24 * 1024
KEEP_TAIL = 8 * 1024
# A test printing more than this is stopped: it would fill the grader's disk.
OUTPUT_LIMIT = 16 * 1024 * 1024

# doctest's summary when exactly the one selected test case ran and passed.
_ONE_PASSED = re.compile(r"^\[doctest\] test cases:\s*1\s*\|\s*1 passed\s*\|\s*0 failed", re.MULTILINE)

DOCTEST_FLAGS = ["--no-intro=true", "--no-version=true", "--no-colors=true"]


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"  # an assertion failed
    TIMED_OUT = "timed out"
    CRASHED = "crashed"  # killed by a signal
    FLOODED = "output limit"  # wrote more than OUTPUT_LIMIT
    NO_REPORT = "no report"  # exited without doctest's summary: exit() in the code?
    SKIPPED = "skipped"  # a test it depends on failed


LEAK_PREFIX = "[ipclab-leak] "


@dataclass(frozen=True)
class Leak:
    kind: str  # "message queue", "descriptor", "zombie process", ...
    object: str  # what was left, by name
    fix: str  # the call that would have cleaned it up

    def sentence(self) -> str:
        return f"{self.kind}: {self.object} — clean it up with {self.fix}"


@dataclass
class TestRun:
    __test__ = False  # not a pytest test class, despite the name

    name: str
    status: Status
    output: str
    seconds: float
    detail: str = ""  # one sentence on what happened, for the report
    leaks: list[Leak] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED


class ListingFailed(Exception):
    """The test binary could not say which test cases it holds: the code it
    runs before main (the submission's global objects) exited, crashed,
    hung or printed over the listing."""

    def __init__(self, detail: str, output: str) -> None:
        super().__init__(detail)
        self.detail, self.output = detail, output


# Long enough for a listing on a loaded machine; a listing does no work.
LISTING_TIMEOUT = 30.0

_LISTING = re.compile(r"<\?xml.*?</doctest>", re.DOTALL)


def list_tests(sandbox: Sandbox, binary: Path) -> dict[str, bool]:
    """Test case names in `binary`, each with whether it comes from a hidden test source.

    The listing runs the submission's static initialisers, so it runs in the
    sandbox like any test. What they print around doctest's XML is ignored:
    printing from a global constructor is legal C++, not a reason to fail.
    """
    ended = _run_sandboxed(sandbox, binary, ["--list-test-cases", "--reporters=xml", "--no-path-filenames=false"],
                           LISTING_TIMEOUT)  # fmt: skip
    found = _LISTING.search(ended.text)
    if ended.stopped is None and ended.returncode == 0 and found:
        try:
            root = ElementTree.fromstring(found.group(0))
        except ElementTree.ParseError:
            pass  # printed into the middle of the listing: said below
        else:
            return {case.get("name", ""): "solutions/" in case.get("filename", "") for case in root.iter("TestCase")}
    status, detail = _verdict(ended.returncode, ended.text, ended.stopped, LISTING_TIMEOUT)
    if status is Status.NO_REPORT or status is Status.FAILED:
        detail = f"the test program ended (exit status {ended.returncode}) without listing its test cases"
    raise ListingFailed(detail, ended.text)


def run_test(sandbox: Sandbox, binary: Path, name: str, timeout: float) -> TestRun:
    ended = _run_sandboxed(sandbox, binary, [f"--test-case={name}", *DOCTEST_FLAGS], timeout)
    status, detail = _verdict(ended.returncode, ended.text, ended.stopped, timeout)
    return TestRun(name=name, status=status, output=ended.text, seconds=ended.seconds, detail=detail, leaks=ended.leaks)


@dataclass
class _Ended:
    returncode: int
    text: str  # what it printed, without the leak lines
    leaks: list[Leak]
    stopped: Status | None  # TIMED_OUT or FLOODED when the grader stopped it
    seconds: float


def _run_sandboxed(sandbox: Sandbox, binary: Path, args: list[str], timeout: float) -> _Ended:
    """Runs `binary` with `args` in a private copy, in `sandbox`; every
    process it started is gone when this returns."""
    token = uuid.uuid4().hex
    view = TestView.create(binary)
    try:
        started = time.monotonic()
        process = subprocess.Popen(
            sandbox.command(view, args, token),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=view.workdir,
            env=sandbox.environment(view, token),
        )
        try:
            output, stopped = _collect(process, started + timeout)
        finally:
            _kill_tree(process)
            kill_marked(token)
        seconds = time.monotonic() - started
    finally:
        view.remove()
    text, leaks = split_leaks(output.decode("utf-8", errors="replace"))
    return _Ended(process.returncode, text, leaks, stopped, seconds)


def split_leaks(output: str) -> tuple[str, list[Leak]]:
    """Separates the leak lines (from the harness and the inspector) from
    the test's own output."""
    kept, leaks = [], []
    for line in output.splitlines(keepends=True):
        if line.startswith(LEAK_PREFIX):
            try:
                data = json.loads(line[len(LEAK_PREFIX):])
                leaks.append(Leak(str(data["kind"]), str(data["object"]), str(data["fix"])))
                continue
            except (ValueError, KeyError, TypeError):
                pass  # not one of ours: keep it as output
        kept.append(line)
    return "".join(kept), leaks


class _Output:
    """A test's output as the report keeps it: the head and the tail."""

    def __init__(self) -> None:
        self.head, self.tail, self.total = bytearray(), bytearray(), 0

    def add(self, chunk: bytes) -> bool:
        """Keeps `chunk`; False once the output limit is passed."""
        self.total += len(chunk)
        room = max(0, KEEP_HEAD - len(self.head))
        self.head += chunk[:room]
        if len(chunk) > room:
            self.tail = (self.tail + chunk[room:])[-KEEP_TAIL:]
        return self.total <= OUTPUT_LIMIT

    def joined(self) -> bytes:
        if not self.tail:
            return bytes(self.head)
        skipped = self.total - len(self.head) - len(self.tail)
        return bytes(self.head) + f"\n[... {skipped} bytes of output not shown ...]\n".encode() + bytes(self.tail)


def _collect(process: subprocess.Popen[bytes], deadline: float) -> tuple[bytes, Status | None]:
    """Reads the test's output until it ends, its deadline passes or it floods."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    output = _Output()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return output.joined(), Status.TIMED_OUT
            # Wake up now and then: a process the test left behind may hold
            # the output open after the test itself has ended.
            if not selector.select(timeout=min(remaining, 0.2)):
                if process.poll() is None:
                    continue
                # It ended after select gave up: what it wrote last is still
                # in the pipe. Read that without waiting for the leftovers.
                if not _drain(fd, output):
                    return output.joined(), Status.FLOODED
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break  # every writer closed: the test has ended
            if not output.add(chunk):
                return output.joined(), Status.FLOODED
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return output.joined(), Status.TIMED_OUT
    return output.joined(), None


def _drain(fd: int, output: _Output) -> bool:
    os.set_blocking(fd, False)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return True
        if not output.add(chunk):
            return False


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    # The test leads its own session and process group; bubblewrap's PID
    # namespace takes everything inside it down when its first process dies.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    if process.stdout:
        process.stdout.close()


# What usually sends each signal to a test process, for the verdict.
_SIGNAL_CAUSES = {
    "SIGKILL": ": something killed it — did the code kill its parent, or send a signal to -1?",
    "SIGXCPU": ": it used up its CPU-time limit (an endless loop?)",
    "SIGSEGV": ": a segmentation fault (a bad pointer, or memory out of bounds)",
    "SIGBUS": ": a bus error (touching shared memory beyond its size: was ftruncate called?)",
    "SIGABRT": ": abort() was called (a failed assertion or an uncaught exception)",
    "SIGPIPE": ": it wrote to a pipe with no reader while SIGPIPE was not ignored",
    "SIGXFSZ": ": it wrote a file past its size limit",
}


def _verdict(returncode: int, output: str, stopped: Status | None, timeout: float) -> tuple[Status, str]:
    if stopped is Status.TIMED_OUT:
        return stopped, f"timed out after {timeout:.1f} s; every process of the test was killed"
    if stopped is Status.FLOODED:
        return stopped, f"wrote more than {OUTPUT_LIMIT // (1024 * 1024)} MiB of output and was stopped"
    signal_number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if signal_number:
        name = signal.Signals(signal_number).name if signal_number in signal.valid_signals() else "?"
        why = _SIGNAL_CAUSES.get(name, "")
        return Status.CRASHED, f"the test process was killed by signal {signal_number} ({name}){why}"
    if _ONE_PASSED.search(output) and returncode == 0:
        return Status.PASSED, ""
    if "[doctest] test cases:" not in output:
        return Status.NO_REPORT, (
            f"the test process ended (exit status {returncode}) before the test reported a result: "
            "does the code call exit() or close standard output?"
        )
    return Status.FAILED, "failed; the checks that did not hold:"
