"""Watch: `./grade watch LAB`, a grade on every save, and what it changed.

    build the reference (once) ─► grade ─► say what changed since the last
    grade ─► wait for a save of the student's files ─► grade ─► …

A save is a change of the files' content, not of their times: editors save
by writing a new file and renaming it over the old one (a new inode, the
same name), some write twice, some touch a file without changing it. So the
files are read and hashed every POLL_SECONDS, and a save counts once their
content has stood still for SETTLE_SECONDS (a burst of writes is one save).
Polling needs nothing beyond the standard library, and a poll of a couple of
source files is cheap next to a grade of several seconds.

Ctrl-C ends it with exit 0: pipeline.grade unstages in a finally, so an
interrupted grade leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.grading import pipeline
from grader.reports import feedback
from grader.grading.lab import Lab
from grader.grading.run import Leak
from grader.grading.sandbox import Sandbox
from grader.grading.score import Grade, TestResult
from grader.reports.untrusted import terminal_text

POLL_SECONDS = 0.3  # how often the student's files are read
SETTLE_SECONDS = 0.8  # a save is over when the files have not changed for this long
# The line printed when a grade is done; tests (and people) wait for it.
WAITING = "waiting for a save of"

Fingerprint = tuple[str | None, ...]  # per student file, its content's hash; None: missing


def fingerprint(directory: Path, files: tuple[str, ...]) -> Fingerprint:
    return tuple(_digest(directory / name) for name in files)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # missing, or between an editor's unlink and its rename


@dataclass
class Saves:
    """The saves of the student's files, one at a time. `last` is read
    before a grade reads the files, so a save made while a grade runs is
    seen as the next one. `sleep` and `clock` are the real ones except in
    tests."""

    directory: Path
    files: tuple[str, ...]
    last: Fingerprint = ()  # the content last graded
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if not self.last:
            self.last = self.read()

    def read(self) -> Fingerprint:
        return fingerprint(self.directory, self.files)

    def wait(self) -> None:
        """Returns once the content differs from the last graded and has
        stood still for SETTLE_SECONDS; that content is then the last graded.
        An edit undone within a burst is no save: waiting goes on."""
        while True:
            changed = self._next_change()
            settled = self._settled(changed)
            if settled != self.last:
                self.last = settled
                return

    def _next_change(self) -> Fingerprint:
        while True:
            self.sleep(POLL_SECONDS)
            seen = self.read()
            if seen != self.last:
                return seen

    def _settled(self, seen: Fingerprint) -> Fingerprint:
        still_since = self.clock()
        while self.clock() - still_since < SETTLE_SECONDS:
            self.sleep(POLL_SECONDS)
            now = self.read()
            if now != seen:
                seen, still_since = now, self.clock()
        return seen


@dataclass(frozen=True)
class Change:
    """What one grade changed. `before` is the last grade; `baseline` the
    last one that built, which tests and leaks are compared with, so that
    fixing a typo does not list every passing test as new."""

    after: Grade
    before: Grade | None = None
    baseline: Grade | None = None

    @property
    def newly_passing(self) -> list[TestResult]:
        if self.baseline is None:
            return []
        passed_before = {r.spec.name for r in self.baseline.results if r.passed}
        return [r for r in self.after.results if r.passed and r.spec.name not in passed_before]

    @property
    def newly_failing(self) -> list[TestResult]:
        if self.baseline is None or not self.after.gradable:
            return []  # a grade that did not build ran no test: its compile error is the news
        return [r for r in self.after.results if not r.passed and _passed_in(self.baseline, r.spec.name)]

    @property
    def leaks_appeared(self) -> list[tuple[str, Leak]]:
        return _leaks_only_in(self.after, self.baseline)

    @property
    def leaks_gone(self) -> list[tuple[str, Leak]]:
        if not self.after.gradable:
            return []  # nothing ran: nothing was seen to be cleaned up
        return _leaks_only_in(self.baseline, self.after)


def _passed_in(grade: Grade, name: str) -> bool:
    return any(r.spec.name == name and r.passed for r in grade.results)


def _leaks_only_in(grade: Grade | None, other: Grade | None) -> list[tuple[str, Leak]]:
    """(test, leak) found in grade and not in other, by test and kind of
    leak: the objects' names are random in every run."""
    if grade is None or other is None:
        return []
    seen = {(r.spec.name, leak.kind) for r in other.results for leak in r.leaks}
    return [(r.spec.name, leak) for r in grade.results for leak in r.leaks if (r.spec.name, leak.kind) not in seen]


def print_change(change: Change, console: Console) -> None:
    """The score before and after, then only what differs: tests and leaks
    come and gone, or why the files could not be graded."""
    grade = change.after
    console.print(Text(f"[{time.strftime('%H:%M:%S')}] graded in {grade.seconds:.1f} s", style="dim"))
    console.print(Text(f"score: {_score(change.before)}{grade.score:g} / {grade.max_score:g}", style="bold"))
    if not grade.gradable:
        still = change.before is not None and not change.before.gradable
        console.print(Text(f"{'still not' if still else 'not'} gradable (score 0). Why:", style="bold red"))
        console.print(terminal_text(grade.diagnostics))
        return
    if change.before is not None and not change.before.gradable:
        compared = ": compared with the last grade that built" if change.baseline else ""
        console.print(Text(f"it builds again{compared}", style="green"))
    _print_tests("now passing", change.newly_passing, "✓", "green", console)
    _print_tests("now failing", change.newly_failing, "✗", "red", console)
    _print_leaks("leaks appeared", change.leaks_appeared, "✗", "red", console, fix=True)
    _print_leaks("leaks gone", change.leaks_gone, "✓", "green", console, fix=False)
    news = (change.newly_passing, change.newly_failing, change.leaks_appeared, change.leaks_gone)
    if change.baseline is not None and not any(news):
        console.print("no test changed")
    passing = sum(r.passed for r in grade.results)
    console.print(Text(f"{passing} of {len(grade.results)} tests pass") + terminal_text(_leak_summary(grade)))


def _leak_summary(grade: Grade) -> str:
    if not grade.leak_kinds:
        return ""
    off = f", {grade.leak_deduction:g} points off" if grade.leak_deduction else ""
    return f"; left behind: {', '.join(grade.leak_kinds)}{off}"


def _score(before: Grade | None) -> str:
    return "" if before is None else f"{before.score:g} → "


def _print_tests(title: str, results: list[TestResult], mark: str, style: str, console: Console) -> None:
    if not results:
        return
    console.print(Text(f"{title} ({len(results)}):", style=f"bold {style}"))
    for r in results:
        console.print(Text(f"  {mark} ", style=style) + Text(r.spec.name + (" (hidden)" if r.spec.hidden else "")))
        if not r.passed:
            _print_evidence(feedback.feedback_parts(r), console)


def _print_evidence(parts: feedback.Feedback, console: Console) -> None:
    """A failure in three lines at most: what happened, the first line the
    test printed (quoted: the submission's words), the hint. The rest is in
    ./grade LAB's full report."""
    printed = [line for line in parts.printed.splitlines() if line.strip()][:1]
    lines = [Text(line) for line in parts.detail.splitlines()[:1]]
    lines += [Text(feedback.QUOTE, style="dim") + Text(line) for line in printed]
    lines += [Text(parts.hint)] if parts.hint else []
    for line in lines:
        console.print(Text("      ") + line, no_wrap=True, overflow="ellipsis")


def _print_leaks(title: str, leaks: list[tuple[str, Leak]], mark: str, style: str, console: Console, fix: bool) -> None:
    """Each leak by test and kind; with its object and fix when it is new.
    Every field came from the test's process: the submission's words."""
    if not leaks:
        return
    console.print(Text(f"{title} ({len(leaks)}):", style=f"bold {style}"))
    for test, leak in leaks:
        console.print(Text(f"  {mark} {test}: ", style=style) + terminal_text(leak.kind))
        if fix:
            how = terminal_text(f"{leak.object} — clean it up with {leak.fix}")
            console.print(Text("      ") + how, no_wrap=True, overflow="ellipsis")


@dataclass
class Watch:
    """One watch session: the grades so far, and how many to make at most."""

    lab: Lab
    submission: Path
    label: str
    max_grades: int | None = None
    jobs: int = 1  # tests run at once
    grades: list[Grade] = field(default_factory=list)

    def run(self, box: Sandbox, console: Console) -> None:
        with console.status(f"{self.lab.name}: building the reference (once) …"):
            reference = pipeline.prepare_reference(self.lab, box)
        saves = Saves(self.submission, self.lab.student_files)
        shown = ", ".join(str(self.submission / name) for name in self.lab.student_files)
        while True:
            # Text, never markup: a folder's name may hold brackets.
            with console.status(Text(f"{self.lab.name}: grading {shown} …")):
                grade = pipeline.grade(self.lab, self.submission, self.label, reference, box, self.jobs)
            print_change(Change(grade, self._last(), self._last_built()), console)
            if not self.grades:
                console.print(Text(f"the full report: ./grade {self.lab.name} --submission {self.submission}"))
            self.grades.append(grade)
            if self.max_grades is not None and len(self.grades) >= self.max_grades:
                return
            console.print(Text(f"{WAITING} {shown} (Ctrl-C to stop)", style="dim"))
            console.print()
            saves.wait()

    def _last(self) -> Grade | None:
        return self.grades[-1] if self.grades else None

    def _last_built(self) -> Grade | None:
        return next((g for g in reversed(self.grades) if g.gradable), None)
