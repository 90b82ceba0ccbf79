"""Run: list a binary's test cases, and run each one alone, sandboxed, with a
wall-clock deadline, capped output, and the whole process tree killed at its
end, so one crash or hang costs one test, not the lab.

A verdict comes from the inspector's report (grader/inspector/), read on a pipe
of its own that no process of the test holds: the harness's records of each
test case, the leaks, how the test binary ended. What the test printed is
feedback for people and is never parsed for a verdict."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from grader.errors import GraderError
from grader.grading.sandbox import Sandbox, TestView, kill_marked

# Output kept for feedback: the head and the tail of what a test printed.
KEEP_HEAD = 24 * 1024
KEEP_TAIL = 8 * 1024
# A test printing more than this is stopped: it would fill the grader's disk.
OUTPUT_LIMIT = 16 * 1024 * 1024

# The inspector's report is a few records per test; it is ours, but a test
# can make it long (a leak per object): enough for every leak it lists.
REPORT_LIMIT = 4 * 1024 * 1024

DOCTEST_FLAGS = ["--no-intro=true", "--no-version=true", "--no-colors=true"]


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"  # an assertion failed
    TIMED_OUT = "timed out"
    CRASHED = "crashed"  # killed by a signal
    FLOODED = "output limit"  # wrote more than OUTPUT_LIMIT
    NO_REPORT = "no report"  # ended before the harness reported: exit() in the code?
    FORGED = "forged report"  # something other than the harness wrote on its verdict channel
    SKIPPED = "skipped"  # a test it depends on failed
    # Set by scoring, never by a run:
    LAB_BROKEN = "lab broken"  # the reference fails it too: the student is not charged
    NOT_GRADED = "not graded"  # the submission did not build, so no test ran


@dataclass(frozen=True)
class Leak:
    kind: str  # "message queue", "descriptor", "zombie process", ...
    object: str  # what was left, by name
    fix: str  # the call that would have cleaned it up
    processes: int = 1  # how many of the test's processes left this same object

    def sentence(self) -> str:
        where = f" (in each of {self.processes} processes)" if self.processes > 1 else ""
        return f"{self.kind}: {self.object}{where} — clean it up with {self.fix}"


@dataclass
class TestRun:
    __test__ = False  # not a pytest test class, despite the name

    name: str
    status: Status
    output: str
    seconds: float
    detail: str = ""  # one sentence on what happened, for the report
    leaks: list[Leak] = field(default_factory=list)
    killed_at_deadline: bool = False  # the test killed a process of the code under test at its deadline
    observed: tuple[str, ...] = ()  # causes of failure the test saw (verdict.h: observed)
    records: list[dict[str, object]] = field(default_factory=list)  # every harness record, in order

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


class SandboxFailed(GraderError):
    """The sandbox or the inspector failed: the grader's fault, never the
    student's. Grading again (./grade batch --resume) retries it."""


@dataclass
class Report:
    """What the inspector said about one run of the test binary."""

    started: bool = False
    harness: list[dict[str, object]] = field(default_factory=list)  # the harness's records, in order
    leaks: list[Leak] = field(default_factory=list)
    forged: str = ""  # an example line, when something forged records
    exit_status: int | None = None
    exit_signal: int | None = None
    internal_error: str = ""

    @property
    def ended(self) -> bool:
        return self.exit_status is not None or self.exit_signal is not None

    def events(self, event: str) -> list[dict[str, object]]:
        return [record for record in self.harness if record.get("event") == event]

    def observed(self) -> tuple[str, ...]:
        """The causes the test observed, each once, in the order seen."""
        return tuple(dict.fromkeys(str(record.get("cause")) for record in self.events("observed")))


def parse_report(data: bytes) -> Report:
    report = Report()
    for line in data.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            report.internal_error = f"the inspector wrote a line that is not JSON: {line[:200]!r}"
            continue
        _take(report, record if isinstance(record, dict) else {})
    return report


def _take(report: Report, record: dict[str, object]) -> None:
    event = record.get("event")
    if event == "started":
        report.started = True
    elif event == "exit":
        report.exit_status = _int(record.get("status"))
        report.exit_signal = _int(record.get("signal"))
    elif event == "leak":
        _add_leak(report.leaks, Leak(str(record.get("kind")), str(record.get("object")), str(record.get("fix"))))
    elif event == "forged":
        report.forged = str(record.get("example", ""))
    elif event == "internal error":
        report.internal_error = str(record.get("why", ""))
    else:
        report.harness.append(record)


def _add_leak(leaks: list[Leak], leak: Leak) -> None:
    """The same object left by several processes (children that each
    inherited one descriptor) is one finding, not one per process."""
    for i, known in enumerate(leaks):
        if (known.kind, known.object, known.fix) == (leak.kind, leak.object, leak.fix):
            leaks[i] = replace(known, processes=known.processes + 1)
            return
    leaks.append(leak)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def list_tests(sandbox: Sandbox, binary: Path) -> dict[str, bool]:
    """Test case names in `binary`, each with whether it comes from a hidden test source.

    The listing runs the submission's static initialisers, so it runs in the
    sandbox like any test. What they print is ignored: printing from a
    global constructor is legal C++, not a reason to fail.
    """
    ended = _run_sandboxed(sandbox, binary, ["--list-test-cases", "--no-path-filenames=false"], LISTING_TIMEOUT)
    report = ended.report
    announced = report.events("listing")
    listed = report.events("listed")
    complete = len(announced) == 1 and announced[0].get("count") == len(listed)
    if ended.stopped is None and report.exit_status == 0 and complete and not report.forged:
        return {str(case.get("name")): "solutions/" in str(case.get("file")) for case in listed}
    status, detail = _verdict(ended, "", LISTING_TIMEOUT)
    if status in (Status.NO_REPORT, Status.FAILED, Status.PASSED):
        detail = f"the test program ended (exit status {report.exit_status}) without listing its test cases"
    raise ListingFailed(detail, ended.text)


def run_test(sandbox: Sandbox, binary: Path, name: str, timeout: float) -> TestRun:
    ended = _run_sandboxed(sandbox, binary, [f"--test-case={name}", *DOCTEST_FLAGS], timeout)
    status, detail = _verdict(ended, name, timeout)
    return TestRun(
        name=name,
        status=status,
        output=ended.text,
        seconds=ended.seconds,
        detail=detail,
        leaks=ended.report.leaks,
        killed_at_deadline=bool(ended.report.events("killed at deadline")),
        observed=ended.report.observed(),
        records=ended.report.harness,
    )


@dataclass
class _Ended:
    text: str  # what it printed: feedback only
    report: Report
    stopped: Status | None  # TIMED_OUT or FLOODED when the grader stopped it
    seconds: float
    returncode: int  # of the sandbox's first process: only for the sandbox's own failures
    out_of_memory: bool = False


def _run_sandboxed(sandbox: Sandbox, binary: Path, args: list[str], timeout: float) -> _Ended:
    """Runs `binary` with `args` in a private copy, in `sandbox`; every
    process it started is gone when this returns."""
    token = uuid.uuid4().hex
    view = TestView.create(binary)
    report_read, report_write = os.pipe()
    try:
        with sandbox.confinement() as held:
            launch = sandbox.launch(view, args, token, report_write, held)
            started = time.monotonic()
            try:
                process = subprocess.Popen(
                    launch.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    cwd=view.workdir,
                    env=sandbox.environment(view, token),
                    pass_fds=launch.fds,
                )
            finally:
                launch.close()
                os.close(report_write)
                report_write = -1
            try:
                output, report, stopped = _collect(process, report_read, started + timeout)
            finally:
                _kill_tree(process)
                held.end()
                kill_marked(token)
            seconds = time.monotonic() - started
            out_of_memory = held.out_of_memory()
    finally:
        if report_write >= 0:
            os.close(report_write)
        os.close(report_read)
        view.remove()
    text = output.decode("utf-8", errors="replace")
    return _Ended(text, parse_report(report), stopped, seconds, process.returncode, out_of_memory)


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


def _collect(process: subprocess.Popen[bytes], report_fd: int, deadline: float) -> tuple[bytes, bytes, Status | None]:
    """Reads the test's output and the inspector's report until both end,
    the deadline passes or the output floods."""
    assert process.stdout is not None
    output, report = _Output(), _Report()
    streams: dict[int, _Output | _Report] = {process.stdout.fileno(): output, report_fd: report}
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        while streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return output.joined(), report.data(), Status.TIMED_OUT
            # Wake up now and then: a process the test left behind may hold
            # the output open after the test itself has ended.
            ready = selector.select(timeout=min(remaining, 0.2))
            if not ready:
                if process.poll() is None:
                    continue
                # It ended after select gave up: what it wrote last is still
                # in the pipes. Read that without waiting for the leftovers.
                if not all(_drain(fd, sink) for fd, sink in streams.items()):
                    return output.joined(), report.data(), Status.FLOODED
                break
            for key, _ in ready:
                chunk = os.read(key.fd, 65536)
                if not chunk:  # every writer closed
                    selector.unregister(key.fd)
                    del streams[key.fd]
                elif not streams[key.fd].add(chunk):
                    return output.joined(), report.data(), Status.FLOODED
    try:
        process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return output.joined(), report.data(), Status.TIMED_OUT
    return output.joined(), report.data(), None


class _Report:
    """The inspector's report, as read; past REPORT_LIMIT it is cut (the
    inspector itself caps what it relays, so that means a flood)."""

    def __init__(self) -> None:
        self.received = bytearray()

    def add(self, chunk: bytes) -> bool:
        self.received += chunk[: max(0, REPORT_LIMIT - len(self.received))]
        return True

    def data(self) -> bytes:
        return bytes(self.received)


def _drain(fd: int, sink: _Output | _Report) -> bool:
    os.set_blocking(fd, False)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return True
        if not sink.add(chunk):
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


def _verdict(ended: _Ended, name: str, timeout: float) -> tuple[Status, str]:
    status, detail = _judge(ended, name, timeout)
    if ended.out_of_memory and status is Status.FAILED:
        # A child killed for its memory is the test's evidence; say why it died.
        detail += f" ({_OUT_OF_MEMORY.format(what='a process of the test')})"
    return status, detail


_OUT_OF_MEMORY = (
    "{what} used more memory than its limit (shared memory and files in /dev/shm and /tmp count) and was killed"
)


def _judge(ended: _Ended, name: str, timeout: float) -> tuple[Status, str]:
    """The verdict on one run, from the inspector's report alone."""
    report = ended.report
    if report.internal_error:
        raise SandboxFailed(f"the grader's inspector failed: {report.internal_error}")
    if ended.stopped is Status.TIMED_OUT:
        return ended.stopped, f"timed out after {timeout:.1f} s; every process of the test was killed"
    if ended.stopped is Status.FLOODED:
        return ended.stopped, f"wrote more than {OUTPUT_LIMIT // (1024 * 1024)} MiB of output and was stopped"
    if not report.started:
        raise SandboxFailed(
            f"the sandbox did not start the test (exit status {ended.returncode}): {ended.text.strip()[:600]}",
            tip="this is not the submission's doing: grade it again (./grade batch --resume retries it)",
        )
    if report.forged:
        return Status.FORGED, (
            "something other than the test harness wrote on the grader's verdict channel, so this test cannot pass; "
            "the code under test must not write to descriptors it did not open"
        )
    if ended.out_of_memory and (report.exit_status is None or not report.events("run")):
        # Pages in /dev/shm and /tmp outlive the process that wrote them: the
        # kernel may have killed the inspector too before memory was freed,
        # or killed the process the test needed, so it ended without a result.
        return Status.CRASHED, _crash(signal.SIGKILL, out_of_memory=True)
    if not report.ended:
        return _inspector_killed(ended.returncode)
    if report.exit_signal is not None:
        return Status.CRASHED, _crash(report.exit_signal, ended.out_of_memory)
    return _judged(report, name)


def _judged(report: Report, name: str) -> tuple[Status, str]:
    cases = report.events("case")
    runs = report.events("run")
    if not runs:
        return Status.NO_REPORT, (
            f"the test process ended (exit status {report.exit_status}) before the test reported a result: "
            "does the code call exit() or _exit(), or close descriptors it did not open?"
        )
    if len(runs) > 1:
        return Status.FAILED, (
            f"the test ran to its end in {len(runs)} processes: a child made with fork() returned into the "
            "test instead of ending with _exit()"
        )
    passed = (
        len(cases) == 1
        and cases[0].get("name") == name
        and cases[0].get("passed") is True
        and runs[0].get("cases") == 1
        and runs[0].get("failed") == 0
    )
    if passed and report.exit_status == 0:
        return Status.PASSED, ""
    if passed:
        return Status.FAILED, (
            f"the test's checks held, but the program then ended with exit status {report.exit_status}: "
            "code that runs after main (an atexit handler, a global object's destructor)?"
        )
    return Status.FAILED, "failed; the checks that did not hold:"


def _inspector_killed(returncode: int) -> tuple[Status, str]:
    signal_number = returncode - 128 if returncode > 128 else -returncode if returncode < 0 else 0
    how = f" by signal {signal_number} ({_signal_name(signal_number)})" if signal_number else ""
    return Status.CRASHED, (
        f"the test's parent in the sandbox (the grader's inspector) was killed{how} before it could report: "
        "did the code kill its parent, or send a signal to every process (kill(-1, ...))?"
    )


def _crash(signal_number: int, out_of_memory: bool) -> str:
    name = _signal_name(signal_number)
    if out_of_memory and name == "SIGKILL":
        return _OUT_OF_MEMORY.format(what="the test")
    why = _SIGNAL_CAUSES.get(name, "")
    return f"the test process was killed by signal {signal_number} ({name}){why}"


def _signal_name(number: int) -> str:
    return signal.Signals(number).name if number in signal.valid_signals() else "?"
