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

from grader.errors import GraderError
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


def list_tests(binary: Path) -> dict[str, bool]:
    """Test case names in `binary`, each with whether it comes from a hidden test source."""
    try:
        listing = subprocess.run(
            [str(binary), "--list-test-cases", "--reporters=xml", "--no-path-filenames=false"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GraderError(f"could not list the test cases of {binary}: {e}") from e
    try:
        root = ElementTree.fromstring(listing.stdout)
    except ElementTree.ParseError as e:
        raise GraderError(
            f"{binary} did not list its test cases (exit status {listing.returncode})",
            tip="a submission whose static initialisers print or exit breaks listing; "
            f"its output began: {listing.stdout[:200]!r}",
        ) from e
    return {case.get("name", ""): "solutions/" in case.get("filename", "") for case in root.iter("TestCase")}


def run_test(sandbox: Sandbox, binary: Path, name: str, timeout: float) -> TestRun:
    token = uuid.uuid4().hex
    view = TestView.create(binary)
    try:
        started = time.monotonic()
        process = subprocess.Popen(
            sandbox.command(view, [f"--test-case={name}", *DOCTEST_FLAGS], token),
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
    status, detail = _verdict(process.returncode, text, stopped, timeout)
    return TestRun(name=name, status=status, output=text, seconds=seconds, detail=detail, leaks=leaks)


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


def _collect(process: subprocess.Popen[bytes], deadline: float) -> tuple[bytes, Status | None]:
    """Reads the test's output until it ends, its deadline passes or it floods."""
    assert process.stdout is not None
    head, tail, total = bytearray(), bytearray(), 0
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _joined(head, tail, total), Status.TIMED_OUT
            # Wake up now and then: a process the test left behind may hold
            # the output open after the test itself has ended.
            if not selector.select(timeout=min(remaining, 0.2)):
                if process.poll() is not None:
                    break
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break  # every writer closed: the test has ended
            total += len(chunk)
            if total > OUTPUT_LIMIT:
                return _joined(head, tail, total), Status.FLOODED
            room = max(0, KEEP_HEAD - len(head))
            head += chunk[:room]
            if len(chunk) > room:
                tail = (tail + chunk[room:])[-KEEP_TAIL:]
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return _joined(head, tail, total), Status.TIMED_OUT
    return _joined(head, tail, total), None


def _joined(head: bytearray, tail: bytearray, total: int) -> bytes:
    if not tail:
        return bytes(head)
    skipped = total - len(head) - len(tail)
    return bytes(head) + f"\n[... {skipped} bytes of output not shown ...]\n".encode() + bytes(tail)


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
