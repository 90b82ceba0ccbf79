"""`./grade watch LAB`: a grade on every save, and what changed since the
last one. The session test runs the real command on a copy of the pipe
lab's skeleton; the others hold the parts (save detection, the change
between two grades) to made-up files and grades, with a made-up clock."""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from grader import watch
from grader.grading import stage
from grader.reports import feedback
from grader.grading.lab import REPO, load_lab
from grader.grading.run import Leak, Status
from grader.grading.score import Grade, TestResult
from grader.grading.sandbox import Isolation

PIPE = load_lab("pipe")
# Hang guards only: a grade of the pipe lab takes seconds, the reference's
# first build a minute or two; a loaded machine may take many times that.
FIRST_GRADE_DEADLINE = 1200
GRADE_DEADLINE = 600


def save(path: Path, text: str) -> None:
    """As editors save: a new file, renamed over the old one."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text)
    os.replace(temporary, path)


class Session:
    """`./grade watch` in a process of its own, its output read as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "watch", *args],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Ctrl-C as a terminal delivers it, even when pytest itself was
            # started where SIGINT is ignored (a background job inherits that).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_grade(self, deadline: float) -> str:
        """Everything printed up to the line that says a grade is done."""
        block = []
        while True:
            try:
                line = self.lines.get(timeout=deadline)
            except queue.Empty:
                pytest.fail("no grade within the deadline; so far:\n" + "".join(self.seen + block))
            if line is None:
                pytest.fail("./grade watch ended early:\n" + "".join(self.seen + block))
            block.append(line)
            if line.startswith(watch.WAITING):
                self.seen += block
                return "".join(block)

    def stop(self) -> tuple[int, str]:
        """Ctrl-C; the exit status and the rest of the output."""
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=GRADE_DEADLINE)
        rest = []
        while (line := self.lines.get(timeout=60)) is not None:
            rest.append(line)
        return status, "".join(rest)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_a_watch_session_on_the_pipe_skeleton(tmp_path: Path) -> None:
    student = tmp_path / "pipe_lab.cpp"
    student.write_text((PIPE.directory / "pipe_lab.cpp").read_text())
    session = Session("pipe", "--submission", str(tmp_path), "--max-grades", "10")  # the bound: a guard too
    try:
        first = session.next_grade(FIRST_GRADE_DEADLINE)
        assert f"score: 0 / {PIPE.max_score:g}" in first
        assert f"0 of {len(PIPE.tests)} tests pass" in first

        save(student, (PIPE.solution_directory / "pipe_lab.cpp").read_text())
        solved = session.next_grade(GRADE_DEADLINE)
        assert f"score: 0 → 100 / {PIPE.max_score:g}" in solved, solved
        assert f"now passing ({len(PIPE.tests)}):" in solved, solved
        for test in PIPE.tests:
            assert f"✓ {test.name}" in solved, test.name
        assert "now failing" not in solved

        save(student, student.read_text() + "\nint broken( { return 0 }\n")
        broken = session.next_grade(GRADE_DEADLINE)
        assert "score: 100 → 0 / 100" in broken, broken
        assert "not gradable (score 0)" in broken
        # The compiler's own words, with the file and the line it names.
        line = len(student.read_text().splitlines())
        assert re.search(rf"pipe_lab\.cpp:{line}:\d+: error: ", broken), broken
        assert "now failing" not in broken  # no test ran: the compile error is the news

        status, rest = session.stop()
    finally:
        session.kill()
    assert status == 0, rest
    assert "stopped after 3 grade(s)" in rest
    assert not (stage.STAGE_ROOT / stage.slot_name(f"watch {tmp_path}")).exists()


def test_max_grades_ends_the_session_by_itself(tmp_path: Path) -> None:
    (tmp_path / "pipe_lab.cpp").write_text("this is not C++\n")
    done = subprocess.run(
        [sys.executable, "-m", "grader", "watch", "pipe", "--submission", str(tmp_path), "--max-grades", "1"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=FIRST_GRADE_DEADLINE,
    )
    assert done.returncode == 0, done.stderr
    assert "not gradable" in done.stdout and "error:" in done.stdout
    assert watch.WAITING not in done.stdout


# ---- saves, on a made-up clock --------------------------------------------


class Clock:
    """Time passes only when the watcher sleeps; `at` runs an edit once that
    much time has passed."""

    def __init__(self) -> None:
        self.now = 0.0
        self.edits: list[tuple[float, Callable[[], object]]] = []

    def at(self, when: float, edit: Callable[[], object]) -> None:
        self.edits.append((when, edit))

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for when, edit in [e for e in self.edits if e[0] <= self.now]:
            self.edits.remove((when, edit))
            edit()
        if self.now > 600:
            raise TimeoutError("no save was seen")

    def clock(self) -> float:
        return self.now


def saves_of(tmp_path: Path) -> tuple[Path, watch.Saves, Clock]:
    student = tmp_path / "pipe_lab.cpp"
    student.write_text("int first;\n")
    clock = Clock()
    return student, watch.Saves(tmp_path, ("pipe_lab.cpp",), sleep=clock.sleep, clock=clock.clock), clock


def test_a_save_by_rename_is_seen(tmp_path: Path) -> None:
    student, saves, clock = saves_of(tmp_path)
    clock.at(5, lambda: save(student, "int second;\n"))
    saves.wait()
    assert saves.last == watch.fingerprint(tmp_path, ("pipe_lab.cpp",))
    assert 5 + watch.SETTLE_SECONDS <= clock.now < 5 + watch.SETTLE_SECONDS + 2 * watch.POLL_SECONDS


def test_a_touch_that_changes_nothing_is_no_save(tmp_path: Path) -> None:
    student, saves, clock = saves_of(tmp_path)
    clock.at(5, lambda: os.utime(student))
    clock.at(10, lambda: save(student, "int first;\n"))  # rewritten, the same content
    with pytest.raises(TimeoutError):
        saves.wait()


def test_a_burst_of_writes_is_one_save_of_the_last_content(tmp_path: Path) -> None:
    student, saves, clock = saves_of(tmp_path)
    clock.at(5, lambda: student.write_text(""))  # an editor truncating first
    clock.at(5.3, lambda: student.write_text("int sec"))  # then writing in pieces
    clock.at(5.6, lambda: student.write_text("int second;\n"))
    saves.wait()
    assert saves.last == (watch._digest(student),)
    assert clock.now >= 5.6 + watch.SETTLE_SECONDS  # not before the burst was over
    clock.at(clock.now + 5, lambda: save(student, "int third;\n"))
    saves.wait()  # the next save is seen too
    assert student.read_text() == "int third;\n"


def test_an_edit_undone_within_the_burst_is_no_save(tmp_path: Path) -> None:
    student, saves, clock = saves_of(tmp_path)
    clock.at(5, lambda: student.write_text("int oops;\n"))
    clock.at(5.3, lambda: student.write_text("int first;\n"))
    with pytest.raises(TimeoutError):
        saves.wait()


def test_a_file_missing_for_a_moment_is_waited_out(tmp_path: Path) -> None:
    student, saves, clock = saves_of(tmp_path)
    clock.at(5, student.unlink)  # an editor that removes, then writes
    clock.at(5.3, lambda: student.write_text("int second;\n"))
    saves.wait()
    assert saves.last == (watch._digest(student),) and saves.last != (None,)


# ---- what changed, on made-up grades ----------------------------------------

FIRST, SECOND, THIRD = PIPE.tests[:3]
PIPE_LEFT = Leak("descriptor", "fd 5 (pipe)", "close(5)")
FAILURE_OUTPUT = (
    "TEST CASE:  some test\n\ntest.cpp:9: ERROR: CHECK( got == 5 ) is NOT correct!\n  values: CHECK( 4 == 5 )\n"
)


def graded(passing: set, leaks: dict | None = None, gradable: bool = True) -> Grade:
    leaks = leaks or {}
    results = [
        TestResult(
            spec,
            Status.PASSED if spec in passing else Status.FAILED,
            spec.points if spec in passing else 0.0,
            detail="" if spec in passing else "failed; the checks that did not hold:",
            output="" if spec in passing else FAILURE_OUTPUT,
            leaks=leaks.get(spec, []),
        )
        for spec in (FIRST, SECOND, THIRD)
    ]
    return Grade(
        PIPE,
        "s",
        Isolation(True),
        gradable=gradable,
        results=results if gradable else [],
        diagnostics="" if gradable else "pipe_lab.cpp:3:1: error: expected ';'",
    )


def shown(change: watch.Change) -> str:
    console = Console(file=io.StringIO(), width=200, highlight=False, emoji=False)
    watch.print_change(change, console)
    return console.file.getvalue()


def test_tests_now_passing_and_now_failing_are_named() -> None:
    before, after = graded({FIRST, SECOND}), graded({FIRST, THIRD})
    change = watch.Change(after, before, before)
    assert [r.spec for r in change.newly_passing] == [THIRD]
    assert [r.spec for r in change.newly_failing] == [SECOND]
    out = shown(change)
    assert f"score: {FIRST.points + SECOND.points:g} → {FIRST.points + THIRD.points:g} / 100" in out
    assert f"now passing (1):\n  ✓ {THIRD.name}" in out
    assert f"now failing (1):\n  ✗ {SECOND.name}\n      failed; the checks that did not hold:\n" in out
    assert (
        f"      {feedback.QUOTE}test.cpp:9: ERROR: CHECK( got == 5 ) is NOT correct!\n      hint: {SECOND.hint}" in out
    )
    assert "2 of 3 tests pass" in out


def test_leaks_that_appear_and_go_are_named_by_test_and_kind() -> None:
    before = graded({FIRST}, {FIRST: [PIPE_LEFT]})
    after = graded({FIRST}, {SECOND: [Leak("descriptor", "fd 9 (pipe)", "close(9)")]})
    out = shown(watch.Change(after, before, before))
    assert f"leaks appeared (1):\n  ✗ {SECOND.name}: descriptor\n      fd 9 (pipe) — clean it up with close(9)\n" in out
    assert f"leaks gone (1):\n  ✓ {FIRST.name}: descriptor\n" in out  # its fix is no news
    # The same kind in the same test is the same leak, whatever its random name.
    renamed = graded({FIRST}, {FIRST: [Leak("descriptor", "fd 6 (pipe)", "close(6)")]})
    assert "no test changed" in shown(watch.Change(renamed, before, before))


def test_a_compile_error_shows_the_diagnostics_and_no_test_as_failing() -> None:
    before, after = graded({FIRST}), graded(set(), gradable=False)
    out = shown(watch.Change(after, before, before))
    assert "not gradable (score 0). Why:\npipe_lab.cpp:3:1: error: expected ';'" in out
    assert "now failing" not in out
    again = graded(set(), gradable=False)
    assert "still not gradable" in shown(watch.Change(again, after, before))


def test_after_a_compile_error_tests_are_compared_with_the_last_grade_that_built() -> None:
    built, broken, fixed = graded({FIRST}), graded(set(), gradable=False), graded({FIRST, SECOND})
    out = shown(watch.Change(fixed, broken, built))
    assert f"score: 0 → {FIRST.points + SECOND.points:g} / 100" in out
    assert "it builds again" in out
    assert f"now passing (1):\n  ✓ {SECOND.name}" in out  # not FIRST: it passed before the typo too


def test_the_first_grade_is_a_summary() -> None:
    out = shown(watch.Change(graded({FIRST}, {FIRST: [PIPE_LEFT]})))
    assert f"score: {FIRST.points - PIPE.leak_deduction:g} / 100" in out
    assert f"1 of 3 tests pass; left behind: descriptor, {PIPE.leak_deduction:g} points off" in out
    assert "now passing" not in out and "no test changed" not in out


def test_what_the_submission_wrote_reaches_the_terminal_as_text() -> None:
    """Leak names and test output come from the student's process: no
    escape sequence of theirs reaches the terminal, no markup is read."""
    before = graded({FIRST})
    after = graded({FIRST}, {FIRST: [Leak("descriptor", "\x1b[2J[link=x]fd 5[/link]", "close(5)")]})
    after.results[1].output = "test.cpp:9: ERROR: \x1b]52;c;cHduZWQ=\x07 is NOT correct!"
    before.results[1].status, before.results[1].score = Status.PASSED, before.results[1].spec.points
    out = shown(watch.Change(after, before, before))
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2J[link=x]fd 5[/link] — clean it up" in out
    assert "\\x1b]52;c;cHduZWQ=\\x07 is NOT correct!" in out
