"""./grade batch on a small generated class of the pipe lab: every student
gets the right row, the files a TA needs are written, and a batch killed
with SIGKILL resumes to the same gradebook, byte for byte, grading only
what was missing."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import cli
from grader.classroom import gradebook
from grader.grading import pipeline
from grader.grading.lab import REPO, load_lab
from grader.benchmarks.classes import make_class

# Module-scoped fixtures grade once per worker: keep this module on one (./test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("batch")


PIPE = load_lab("pipe")
# Few builds (this machine is slow), yet every kind of row.
KINDS = {
    "reference",
    "skeleton",
    "bug-single_read",
    "bug-child_never_reaped",
    "compile-error",
    "zipped",
    "missing",
    "misnamed",
    "empty",
    "traversal",
    "link",
    "damaged",
}


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("class") / "submissions"
    return root, make_class(root, PIPE, only=KINDS, salt="test_batch")


@pytest.fixture(scope="module")
def graded(klass, tmp_path_factory) -> Path:
    """One uninterrupted batch, --jobs 2, compiling first (the killed batch
    below does not: both ways must give the same gradebook)."""
    out = tmp_path_factory.mktemp("batch") / "out"
    assert (
        cli.main(["batch", "pipe", str(klass[0]), "--out", str(out), "--jobs", "2", "--compile-first"]) == cli.Exit.OK
    )
    return out


def rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_every_student_gets_the_right_row(klass, graded: Path) -> None:
    _, expected = klass
    found = rows(graded)
    assert sorted(found) == sorted(expected), "one row per student, none missing"
    for student, want in expected.items():
        row = found[student]
        assert row["status"] == want.status, (student, row)
        assert float(row["score"]) == (want.score or 0), (student, row)
        assert row["max"] == "100"
        assert want.reason in row["reason"], (student, row["reason"])
        if want.status == "graded":
            assert row["reason"] == "", (student, row["reason"])
        tests = [float(row[t.name]) for t in PIPE.tests] + [float(row[gradebook.LEAK_COLUMN])]
        assert sum(tests) == float(row["score"]), "the per-test and leak columns add up to the score"


def test_each_student_gets_results_and_feedback(klass, graded: Path) -> None:
    for student in klass[1]:
        results = json.loads((graded / "results" / f"{student}.json").read_text())
        assert {"score", "tests", "output"} <= set(results)
        # One entry per test, and one more for the leak deduction when there is one.
        leak_entries = [t for t in results["tests"] if t["name"] == "Cleanup: what the tests left behind"]
        assert len(results["tests"]) == len(PIPE.tests) + len(leak_entries)
        assert (graded / "feedback" / f"{student}.md").read_text().startswith("# pipe — ")
    bug = (graded / "feedback" / "bug-single_read-01.md").read_text()
    assert "## What to look at" in bug and "hint: " in bug
    broken = (graded / "feedback" / "compile-error-01.md").read_text()
    assert "could not be graded" in broken and "error:" in broken
    zipped = (graded / "feedback" / "zipped-01.md").read_text()
    assert "graded handin.zip/pipe/pipe_lab.cpp" in zipped


def test_the_summary_names_who_needs_a_look(klass, graded: Path) -> None:
    summary = json.loads((graded / "summary.json").read_text())
    assert summary["students"] == len(klass[1])
    assert summary["graded"] + summary["not_gradable"] == summary["students"]
    assert summary["build_errors"] == ["compile-error-01"]
    assert sum(summary["distribution"].values()) == summary["students"]
    assert summary["distribution"]["100"] == 2  # the reference and the zipped reference
    scores = sorted(float(r["score"]) for r in rows(graded).values())
    assert summary["median"] == pytest.approx((scores[5] + scores[6]) / 2)
    assert "traversal-01" in summary["not_gradable_reasons"]


def test_the_canvas_file_has_canvas_columns_and_one_assignment(klass, graded: Path) -> None:
    with open(graded / "canvas.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "pipe"]
    assert table[1][0].strip() == "Points Possible" and table[1][-1] == "100"
    assert {row[3]: row[5] for row in table[2:]}["reference-01"] == "100"


def test_feedback_files_never_name_a_hidden_test(graded: Path) -> None:
    """feedback/*.md goes back to students: a hidden test's name and hint are in none of them."""
    secret = [t for t in PIPE.tests if t.secret]
    assert secret, "the pipe lab has hidden tests"
    for feedback in (graded / "feedback").glob("*.md"):
        text = feedback.read_text()
        for test in secret:
            assert test.name not in text and test.hint not in text, (feedback.name, test.name)
    assert (
        "more test(s) were graded; their results are not part of this feedback"
        in (graded / "feedback" / "reference-01.md").read_text()
    )


def canvas_row(student: str, status: str, score: float) -> dict:
    return {
        "student": student,
        "name": student.title(),
        "platform_id": "",
        "email": f"{student}@example.edu",
        "status": status,
        "score": score,
    }


def test_canvas_leaves_a_student_the_grader_failed_on_blank_and_names_the_assignment() -> None:
    rows = [
        canvas_row("ann", gradebook.GRADED, 80),
        canvas_row("bo", gradebook.NOT_GRADABLE, 0),
        canvas_row("cy", gradebook.ERROR, 0),
    ]
    table = list(csv.reader(gradebook.canvas_csv(PIPE, "folders", rows, "Lab 1 (1234)").splitlines()))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 1 (1234)"]
    assert table[1] == ["    Points Possible", "", "", "", "", "100"]
    assert {row[3]: row[5] for row in table[2:]} == {
        "ann@example.edu": "80",
        "bo@example.edu": "0",
        "cy@example.edu": "",
    }


@pytest.mark.parametrize("column", ["Lab 1", "Lab 1 (12a)", "(1234)", " Lab 1 (1234)"])
def test_a_canvas_assignment_not_named_as_canvas_names_it_is_refused(column: str, tmp_path: Path, capsys) -> None:
    assert (
        cli.main(["batch", "pipe", str(tmp_path), "--out", str(tmp_path / "out"), "--canvas-assignment", column])
        == cli.Exit.ERROR
    )
    err = capsys.readouterr().err
    assert "is not an assignment as Canvas names it" in err and "Lab 1 (1234)" in err


def test_a_second_batch_into_the_same_directory_needs_resume(klass, graded: Path, capsys) -> None:
    assert cli.main(["batch", "pipe", str(klass[0]), "--out", str(graded)]) == cli.Exit.ERROR
    assert "--resume" in capsys.readouterr().err


def test_a_batch_killed_midway_resumes_to_the_same_gradebook(klass, graded: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    gradable = {s for s, e in klass[1].items() if e.status == "graded" or "compile" in e.reason}
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", "pipe", str(klass[0]), "--out", str(out), "--jobs", "2"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        done = _wait_for_records(out, gradable, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert 0 < len(done) < len(gradable), "killed after some students and before all"
    assert not (out / "gradebook.csv").exists()
    before = {s: (gradebook.record_path(out, s)).stat().st_mtime_ns for s in done}

    assert cli.main(["batch", "pipe", str(klass[0]), "--out", str(out), "--jobs", "2", "--resume"]) == cli.Exit.OK
    assert (out / "gradebook.csv").read_bytes() == (graded / "gradebook.csv").read_bytes()
    assert (out / "summary.json").read_bytes() == (graded / "summary.json").read_bytes()
    after = {s: (gradebook.record_path(out, s)).stat().st_mtime_ns for s in done}
    assert after == before, "students graded before the kill are not graded again"
    assert not list(out.glob(".scratch-*")), "the killed batch's scratch space is gone"


def _wait_for_records(out: Path, gradable: set[str], process: subprocess.Popen) -> set[str]:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        done = {s for s in gradable if gradebook.record_path(out, s).exists()}
        if done:
            return done
        time.sleep(0.02)
    raise AssertionError(f"no student was graded before the batch ended (exit status {process.poll()})")


def test_a_gradescope_group_is_graded_once_and_each_member_gets_its_row(tmp_path: Path, monkeypatch) -> None:
    export = tmp_path / "export"
    (export / "submission_7").mkdir(parents=True)
    shutil.copyfile(PIPE.solution_directory / "pipe_lab.cpp", export / "submission_7" / "pipe_lab.cpp")
    (export / "submission_metadata.yml").write_text(
        "submission_7:\n  :submitters:\n"
        "  - :name: Ann Lee\n    :sid: '1002'\n    :email: ann@example.edu\n"
        "  - :name: Bo Kim\n    :sid: '1003'\n    :email: bo@example.edu\n"
    )
    graded_directories = []
    real_grade = pipeline.grade

    def counted(lab, submission, *rest):
        graded_directories.append(submission)
        return real_grade(lab, submission, *rest)

    monkeypatch.setattr(pipeline, "grade", counted)
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "batch",
                "pipe",
                str(export),
                "--out",
                str(out),
                "--jobs",
                "2",
                "--canvas-assignment",
                "Lab 1: pipes (1234)",
            ]
        )
        == cli.Exit.OK
    )
    assert len(graded_directories) == 1, "one submission, graded once for both members"
    assert (out / "canvas.csv").read_text().splitlines()[0].endswith(",Lab 1: pipes (1234)")
    found = rows(out)
    assert sorted(found) == ["ann@example.edu", "bo@example.edu"]
    assert found["ann@example.edu"]["score"] == found["bo@example.edu"]["score"] == "100"
    assert (found["ann@example.edu"]["id"], found["bo@example.edu"]["id"]) == ("1002", "1003")
    results = sorted((out / "results").glob("*.json"))
    assert len(results) == 2 and all(json.loads(r.read_text())["score"] == 100 for r in results)


# Two builds and every kind of row that needs none: the machine is busy.
SHARDED_KINDS = {"reference", "skeleton", "missing", "misnamed", "empty", "traversal", "damaged", "link"}


def test_sharded_batches_merge_to_the_unsharded_gradebook_byte_for_byte(tmp_path: Path) -> None:
    submissions = tmp_path / "submissions"
    make_class(submissions, PIPE, only=SHARDED_KINDS, salt="test_batch shards")
    whole = tmp_path / "whole"
    assert cli.main(["batch", "pipe", str(submissions), "--out", str(whole), "--jobs", "2"]) == cli.Exit.OK
    shards = [tmp_path / f"shard-{k}" for k in (1, 2, 3)]
    for k, out in enumerate(shards, start=1):
        assert (
            cli.main(["batch", "pipe", str(submissions), "--out", str(out), "--jobs", "2", "--shard", f"{k}/3"])
            == cli.Exit.OK
        )
    sizes = [len(rows(out)) for out in shards]
    assert sum(sizes) == len(rows(whole)) and sum(size > 0 for size in sizes) >= 2, sizes
    merged = tmp_path / "merged"
    assert cli.main(["gradebook", "merge", *map(str, reversed(shards)), "--output", str(merged)]) == cli.Exit.OK
    for name in ("gradebook.csv", "canvas.csv", "summary.json"):
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name
    feedback = sorted(p.name for p in (whole / "feedback").iterdir())
    assert sorted(p.name for p in (merged / "feedback").iterdir()) == feedback
    assert all((merged / "feedback" / n).read_bytes() == (whole / "feedback" / n).read_bytes() for n in feedback)
    assert (merged / "report.html").exists()
