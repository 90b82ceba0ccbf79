"""Gradebook: what a batch leaves in its output directory.

    DIR/gradebook.csv         one row per student: student, name, id, email,
                              score, max, status, reason, then one column per test
    DIR/canvas.csv            the scores alone, laid out for Canvas's gradebook import
                              (blank where the grader failed: Canvas keeps the grade)
    DIR/summary.json          mean, median, distribution, who did not build or timed out
    DIR/results/<key>.json    each student's Gradescope results.json
    DIR/feedback/<key>.md     each student's feedback, readable
    DIR/.state/<key>.json     each student's record: written last, it marks
                              the student done, and the gradebook is built
                              from the records alone

Every file is written atomically; nothing in gradebook.csv, canvas.csv or
summary.json depends on timing or on the order students finished in, so a
batch resumed after being killed writes them byte for byte as an
uninterrupted one would.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from pathlib import Path
from typing import Any

from grader.reports import feedback, machine, markdown

from grader import atomic
from grader.errors import GraderError
from grader.grading.lab import Lab
from grader.grading.run import Status
from grader.grading.score import Grade
from grader.classroom.unpack import Submission
from grader.reports.untrusted import spreadsheet_cell

FORMAT_VERSION = 1
STATE = ".state"
MANIFEST = "batch.json"

# Row statuses.
GRADED = "graded"  # built and ran; the score is the tests'
NOT_GRADABLE = "not gradable"  # missing, empty, misnamed, refused, or does not compile: 0
ERROR = "grader error"  # the grader failed on this student: 0 for now, retried by --resume


def state_directory(out: Path) -> Path:
    return out / STATE


def record_path(out: Path, key: str) -> Path:
    return state_directory(out) / f"{key}.json"


def input_of(submission: Submission) -> str:
    """What a record was made from: a resumed batch regrades a student whose
    files (or whose problem) changed since."""
    return submission.fingerprint or f"problem: {submission.problem}"


def read_record(out: Path, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(record_path(out, key).read_text())
    except (OSError, ValueError):
        return None  # never written, or unreadable: grade again


def is_done(out: Path, lab: Lab, submission: Submission) -> bool:
    record = read_record(out, submission.key)
    return bool(
        record
        and record.get("format_version") == FORMAT_VERSION
        and record.get("lab") == lab.name
        and record.get("input") == input_of(submission)
        and record.get("status") != ERROR
    )


def check_manifest(out: Path, lab: Lab, resume: bool) -> None:
    """An output directory belongs to one lab's batch; --resume continues it."""
    manifest = state_directory(out) / MANIFEST
    if manifest.exists():
        previous = json.loads(manifest.read_text())
        if not resume:
            raise GraderError(
                f"{out} already holds a batch of {previous.get('lab')!r}",
                tip="add --resume to continue it (only what is missing is graded), or choose another --out",
            )
        if previous.get("lab") != lab.name:
            raise GraderError(
                f"{out} holds a batch of {previous.get('lab')!r}, not of {lab.name!r}",
                tip="choose another --out for this lab",
            )
    atomic.write_atomically(manifest, json.dumps({"format_version": FORMAT_VERSION, "lab": lab.name}) + "\n")


# ---- one student --------------------------------------------------------


def row_status(grade: Grade) -> tuple[str, str]:
    """(status, reason) for the gradebook: short, and the same every run."""
    if not grade.gradable:
        return NOT_GRADABLE, _first_error(grade.diagnostics)
    reasons = []
    timed_out = _timed_out(grade)
    if timed_out:
        reasons.append(f"{len(timed_out)} test(s) timed out")
    if grade.broken_tests:
        reasons.append(f"{len(grade.broken_tests)} test(s) the reference fails too were not charged")
    return GRADED, "; ".join(reasons)


def _first_error(diagnostics: str) -> str:
    """A compiler's first error, or the whole (one-line) problem."""
    for line in diagnostics.splitlines():
        if re.search(r"\berror\b", line):
            return "does not compile: " + line.strip()
    lines = diagnostics.strip().splitlines()
    return lines[0] if lines else "not gradable"


def _timed_out(grade: Grade) -> list[str]:
    return [r.spec.name for r in grade.results if r.status is Status.TIMED_OUT]


def write_student(out: Path, submission: Submission, grade: Grade, status: str, reason: str) -> None:
    """Results, feedback, then the record: a student is done only once all
    three are on disk."""
    key = submission.key
    atomic.write_atomically(out / "results" / f"{key}.json", machine.render_machine(grade, "gradescope"))
    atomic.write_atomically(out / "feedback" / f"{key}.md", markdown.to_markdown(grade, submission.notes))
    record = {
        "format_version": FORMAT_VERSION,
        "lab": grade.lab.name,
        "key": key,
        "student": submission.student,
        "name": submission.name,
        "platform_id": submission.platform_id,
        "email": submission.email,
        "input": input_of(submission),
        "status": status,
        "reason": reason,
        "score": grade.score,
        "max_score": grade.max_score,
        "tests": {r.spec.name: r.score for r in feedback.not_graded_results(grade)},
        "leak_deduction": grade.leak_deduction,
        "timed_out": _timed_out(grade),
        "seconds": round(grade.seconds, 3),
    }
    atomic.write_atomically(record_path(out, key), json.dumps(record, indent=2) + "\n")


# ---- the whole class ----------------------------------------------------


def records(out: Path, submissions: list[Submission]) -> list[dict[str, Any]]:
    """The records of these submissions, in key order (the gradebook's)."""
    found = []
    for submission in sorted(submissions, key=lambda s: s.key):
        record = read_record(out, submission.key)
        if record is None:
            raise GraderError(f"{submission.student} has no record in {state_directory(out)}")
        found.append(record)
    return found


LEAK_COLUMN = "leaks (lab.toml [leaks])"


def gradebook_csv(lab: Lab, rows: list[dict[str, Any]]) -> str:
    tests = [t.name for t in lab.tests]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    # The last column is the leak deduction, negative, so a row's columns add up to its score.
    writer.writerow(["student", "name", "id", "email", "score", "max", "status", "reason", *tests, LEAK_COLUMN])
    for row in rows:
        # The text columns hold what students and their files chose (names,
        # e-mail addresses, the compiler's words on their code).
        texts = ("student", "name", "platform_id", "email", "reason")
        student, name, platform_id, email, reason = (spreadsheet_cell(row[key]) for key in texts)
        writer.writerow(
            [
                student,
                name,
                platform_id,
                email,
                _number(row["score"]),
                _number(row["max_score"]),
                row["status"],
                reason,
                *(_number(row["tests"].get(t, 0)) for t in tests),
                _number(-row.get("leak_deduction", 0) or 0),
            ]
        )
    return buffer.getvalue()


CANVAS_ASSIGNMENT = re.compile(r"^\S.*\(\d+\)$")


def check_canvas_assignment(column: str) -> str:
    """Canvas's gradebook importer matches an existing assignment by a column
    named "Title (assignment id)", as its own export names it; any other name
    makes a new assignment."""
    if not CANVAS_ASSIGNMENT.match(column):
        raise GraderError(
            f'--canvas-assignment {column!r} is not an assignment as Canvas names it, "Title (id)"',
            tip='copy the column\'s header from a gradebook exported from Canvas, such as "Lab 1 (1234)"',
        )
    return column


def canvas_csv(lab: Lab, layout: str, rows: list[dict[str, Any]], assignment: str | None = None) -> str:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID,
    Section, then the assignment (one column: more would become new
    assignments), named "Title (id)" to update an existing one
    (check_canvas_assignment); the lab's name otherwise. Canvas matches
    students by ID, then the SIS ids. A student the grader failed on has an
    empty cell, which Canvas leaves as it was: a 0 would overwrite a grade."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", assignment or lab.name])
    writer.writerow(["    Points Possible", "", "", "", "", _number(lab.max_score)])
    for row in rows:
        canvas_id = row["platform_id"] if layout == "canvas" else ""
        sis_id = row["platform_id"] if layout == "gradescope" else ""
        login = row["email"] or (row["student"] if layout == "folders" else "")
        texts = (row["name"] or row["student"], canvas_id, sis_id, login)
        score = "" if row["status"] == ERROR else _number(row["score"])
        writer.writerow([*(spreadsheet_cell(text) for text in texts), "", score])
    return buffer.getvalue()


def summary(lab: Lab, rows: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [float(r["score"]) for r in rows]
    return {
        "format_version": FORMAT_VERSION,
        "lab": lab.name,
        "max_score": lab.max_score,
        "students": len(rows),
        "graded": sum(r["status"] == GRADED for r in rows),
        "not_gradable": sum(r["status"] == NOT_GRADABLE for r in rows),
        "grader_errors": sum(r["status"] == ERROR for r in rows),
        "mean": round(statistics.fmean(scores), 2) if scores else 0,
        "median": round(statistics.median(scores), 2) if scores else 0,
        "distribution": distribution(lab, scores),
        "build_errors": [r["student"] for r in rows if r["reason"].startswith("does not compile")],
        "timeouts": {r["student"]: r["timed_out"] for r in rows if r["timed_out"]},
        "not_gradable_reasons": {r["student"]: r["reason"] for r in rows if r["status"] != GRADED},
        "tests_passed": {t.name: sum(r["tests"].get(t.name, 0) >= t.points for r in rows) for t in lab.tests},
    }


def distribution(lab: Lab, scores: list[float]) -> dict[str, int]:
    """Students per tenth of the maximum: "0-9" … "90-99" (per cent), "100"."""
    buckets = {f"{low}-{low + 9}": 0 for low in range(0, 100, 10)} | {"100": 0}
    for score in scores:
        percent = 100 * score / lab.max_score if lab.max_score else 0
        key = "100" if percent >= 100 else f"{int(percent // 10) * 10}-{int(percent // 10) * 10 + 9}"
        buckets[key] += 1
    return buckets


def write_class(
    out: Path, lab: Lab, layout: str, submissions: list[Submission], canvas_assignment: str | None = None
) -> dict[str, Any]:
    rows = records(out, submissions)
    atomic.write_atomically(out / "gradebook.csv", gradebook_csv(lab, rows))
    atomic.write_atomically(out / "canvas.csv", canvas_csv(lab, layout, rows, canvas_assignment))
    data = summary(lab, rows)
    atomic.write_atomically(out / "summary.json", json.dumps(data, indent=2) + "\n")
    return data


def _number(value: Any) -> str:
    return f"{float(value):g}"
