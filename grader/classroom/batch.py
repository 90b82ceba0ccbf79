"""Batch: grade a whole class, in parallel, resumable.

Stages, in order:
    unpack   every student's files, or the reason there are none (grader/classroom/unpack.py)
    shard    only with --shard K/N: this machine's slice of the class (grader/classroom/shard.py)
    skip     with --resume, students whose record matches their files are done
    record   students who cannot be graded (missing, empty, refused) get their row now
    compile  only with --compile-first: every remaining submission compiled
             (in the grader's compile sandbox, --jobs at a time) and then
             linked in a few Bazel invocations
    grade    each submission in a worker thread (a group's members share one):
             stage, compile, refuse, link, run (--test-jobs tests at once),
             score, unstage
    write    results, feedback and record per student as each finishes;
             gradebook, Canvas file and summary once all are done
    report   the class report for staff, from the output directory alone
             (grader/classroom/class_report.py)

Ordering rules: a student's record is written after its results and
feedback, so a batch killed at any moment resumes where it stopped; the
gradebook is written from the records alone, after every student.

Why compiling first is not the default: a student's files are compiled
by the grader itself (grader/grading/compile.py), outside Bazel and without any
lock, so workers' compiles already run side by side; only the link is a
Bazel command, and Bazel runs one command at a time per output base, so
links take turns (a few seconds each). Without compiling first, one worker
compiles while the other runs its tests, which mostly wait (blocking is
observed over quiet windows). Compiling first compiles --jobs submissions
at a time and links them in a few Bazel commands, then every student still
costs one (cached) Bazel command, in turn, and no compile overlaps a test.
Measured before compiles left Bazel, on the 2-core course machine under
load, 105 students (70 to build), --jobs 2: 381 s without, 412 s with (at a
lower load: 285 s against 371 s). On a machine with many cores, compiling
first may win.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

from grader.classroom import class_report, gradebook, unpack
from grader.classroom import shard as sharding
from grader.grading import pipeline
from grader.errors import GraderError
from grader.grading.lab import Lab
from grader.grading.sandbox import Sandbox
from grader.grading.score import Grade
from grader.reports.untrusted import terminal_text

# Submissions per Bazel command when compiling first: small enough that
# one invocation's links stay well within build.bazel's time limit on a busy
# machine, large enough to keep every core linking.
COMPILE_CHUNK = 24


@dataclass(frozen=True)
class Options:
    jobs: int  # students graded at once
    test_jobs: int = 2  # tests of one student run at once (most of them sleep in blocking observations)
    resume: bool = False
    compile_first: bool = False  # one Bazel command for many students first (see above)
    shard: sharding.Shard | None = None  # grade only this slice of the class
    canvas_assignment: str | None = None  # canvas.csv's column, "Title (id)"; None: the lab's name
    limits: unpack.Limits = unpack.Limits()


@dataclass
class Outcome:
    summary: dict[str, Any]
    graded_now: int  # students graded in this run (the rest were done, or had no files)
    seconds: float
    layout: str
    warnings: list[str]
    stages: dict[str, float]  # seconds per stage, for the TA (and for measuring)


def run(lab: Lab, source: Path, out: Path, options: Options, box: Sandbox, console: Console) -> Outcome:
    started = time.monotonic()
    stages: dict[str, float] = {}
    out.mkdir(parents=True, exist_ok=True)
    gradebook.check_manifest(out, lab, options.resume)
    if options.shard is None:
        sharding.refuse_unsharded(out)
    _remove_leftovers(out)
    scratch = Path(tempfile.mkdtemp(dir=out, prefix=".scratch-"))
    try:
        with console.status("unpacking the submissions …"), _timed(stages, "unpack"):
            collection = unpack.collect(source, lab, scratch, options.limits)
        if not collection.submissions:
            raise GraderError(
                f"no student submissions found in {source}",
                tip="pass a folder of student folders, a Gradescope export or a Canvas download",
            )
        students = collection.submissions
        if options.shard is not None:
            students = sharding.select(collection.submissions, options.shard)
            sharding.write_manifest(out, lab, options.shard, collection.layout, collection.submissions, students)
        pending = [s for s in students if not gradebook.is_done(out, lab, s)]
        in_shard = f", {len(students)} in shard {options.shard}" if options.shard is not None else ""
        console.print(
            f"{lab.name}: {len(collection.submissions)} students ({collection.layout} layout){in_shard}, "
            f"{len(pending)} to grade" + (f", {len(students) - len(pending)} already done" if options.resume else "")
        )
        for warning in collection.warnings:
            # Warnings name the entries of the submissions folder: students chose those names.
            console.print(Text("note: ", style="yellow") + terminal_text(warning))
        graded_now = _grade_all(lab, pending, out, options, box, console, stages)
        data = gradebook.write_class(out, lab, collection.layout, students, options.canvas_assignment)
        class_report.write(out)
        return Outcome(data, graded_now, time.monotonic() - started, collection.layout, collection.warnings, stages)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _remove_leftovers(out: Path) -> None:
    """What a killed batch leaves: its scratch space, half-written files."""
    for scratch in out.glob(".scratch-*"):
        shutil.rmtree(scratch, ignore_errors=True)
    for directory in (
        out,
        out / "results",
        out / "feedback",
        out / class_report.DETAILS,
        gradebook.state_directory(out),
    ):
        for partial in directory.glob(".*"):  # write_atomically's temporary files
            if partial.is_file():
                partial.unlink()


@contextmanager
def _timed(stages: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        stages[name] = time.monotonic() - started


def _grade_all(
    lab: Lab,
    pending: list[unpack.Submission],
    out: Path,
    options: Options,
    box: Sandbox,
    console: Console,
    stages: dict[str, float],
) -> int:
    gradable = [s for s in pending if s.directory is not None]
    for submission in pending:
        if submission.directory is None:
            grade = Grade.not_gradable(lab, submission.key, box.isolation, submission.problem)
            gradebook.write_student(out, submission, grade, *gradebook.row_status(grade))
    if not gradable:
        return 0
    with console.status(f"{lab.name}: building the reference …"), _timed(stages, "reference"):
        reference = pipeline.prepare_reference(lab, box)
    with _progress(console) as progress:
        if options.compile_first:
            with _timed(stages, "compile"):
                _compile_first(lab, gradable, options.jobs, box, progress, console)
        with _timed(stages, "grade"):
            _grade_in_parallel(lab, gradable, out, options, reference, box, progress)
    return len(gradable)


def _compile_first(
    lab: Lab, gradable: list[unpack.Submission], jobs: int, box: Sandbox, progress: Progress, console: Console
) -> None:
    task = progress.add_task("compiling", total=len(gradable), note="")
    for start in range(0, len(gradable), COMPILE_CHUNK):
        chunk = gradable[start : start + COMPILE_CHUNK]
        try:
            pipeline.compile_first(lab, [(s.directory, s.key) for s in chunk], box, jobs)  # type: ignore[misc]
        except GraderError as e:
            # Not fatal: each student's own grade compiles and links what is missing.
            console.print(Text("note: ", style="yellow") + terminal_text(f"compiling first stopped: {e.message}"))
        progress.advance(task, len(chunk))
    # The staged packages stay: each grade stages the same objects again
    # (Bazel sees no change), and removes them with its linked tests.
    progress.update(task, visible=False)


def _grade_in_parallel(
    lab: Lab,
    gradable: list[unpack.Submission],
    out: Path,
    options: Options,
    reference: pipeline.Reference,
    box: Sandbox,
    progress: Progress,
) -> None:
    task = progress.add_task("grading", total=len(gradable), note="")
    failures = 0
    with ThreadPoolExecutor(max_workers=options.jobs, thread_name_prefix="grade") as pool:
        running: dict[Future[tuple[str, str]], list[unpack.Submission]] = {
            pool.submit(_grade_and_write, lab, members, out, reference, box, options.test_jobs): members
            for members in _graded_together(gradable)
        }
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    members = running.pop(future)
                    status, _reason = future.result()
                    failures += len(members) * (status != gradebook.GRADED)
                    progress.update(task, advance=len(members), note=f"{failures} not gradable" if failures else "")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # let running grades finish their files
            raise


def _graded_together(gradable: list[unpack.Submission]) -> list[list[unpack.Submission]]:
    """The members of one group submission share one grade: their files are
    one submission on the platform, so grading it once per member would only
    cost time (and could, under load, give members different scores)."""
    groups: dict[str, list[unpack.Submission]] = {}
    for submission in gradable:
        groups.setdefault(submission.group or f"student:{submission.key}", []).append(submission)
    return list(groups.values())


def _grade_and_write(
    lab: Lab, members: list[unpack.Submission], out: Path, reference: pipeline.Reference, box: Sandbox, test_jobs: int
) -> tuple[str, str]:
    """One submission, start to finish; whatever happens, each of its
    students gets a row."""
    first = members[0]
    assert first.directory is not None
    try:
        grade = pipeline.grade(lab, first.directory, first.key, reference, box, test_jobs)
        status, reason = gradebook.row_status(grade)
    except Exception as e:  # noqa: BLE001 — one student must never stop the batch
        message = e.message if isinstance(e, GraderError) else f"{type(e).__name__}: {e}"
        grade = Grade.not_gradable(lab, first.key, box.isolation, message)
        status, reason = gradebook.ERROR, message.splitlines()[0]
    for member in members:
        class_report.write_details(out, member.key, grade)  # before the record: it marks the student done
        gradebook.write_student(out, member, replace(grade, label=member.key), status, reason)
    return status, reason


class _PerMinute(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed * 60:5.1f}/min" if speed else "  –/min", style="cyan")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:>9}"),
        BarColumn(),
        MofNCompleteColumn(),
        _PerMinute(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("[red]{task.fields[note]}"),
        console=console,
        transient=False,
    )
