"""Reports, checked against saved expected output (reviewed by hand) and
against the fields and types Gradescope documents for results.json."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader import report
from grader.lab import Lab, TestSpec
from grader.run import Leak, Status
from grader.score import LAB_BROKEN, Grade, TestResult

EXPECTED = Path(__file__).parent / "expected"

SPECS = (
    TestSpec("reader sees EOF once every write end is closed", 6, "eof", "Close every write end."),
    TestSpec("reader blocks on an empty pipe", 4, "blocking", "Do not busy-wait."),
    TestSpec("large messages arrive whole", 5, "boundaries", "Loop.", depends=("reader sees EOF once every write end is closed",)),
    TestSpec("hidden: sizes around PIPE_BUF", 3, "boundaries", "Loop again.", hidden=True, visibility="after_published"),
    TestSpec("a test the reference fails", 2, "errors", "n/a"),
)
DEMO = Lab(name="demo", title="A demonstration lab", student_files=("demo.cpp",), timeout=10, tests=SPECS,
           leak_deduction=2, max_leak_deduction=6)  # fmt: skip
QUEUE_LEFT = Leak("message queue", "/dev/mqueue/requests", 'mq_unlink("/requests")')


def demo_grade() -> Grade:
    failure = (
        "===============================================================================\n"
        "TEST CASE:  reader blocks on an empty pipe\n\n"
        "public_test.cpp:90: ERROR: CHECK( blocked.yes ) is NOT correct!\n"
        "  values: CHECK( false )\n"
        "  logged: process 12 never blocked in 5000 ms\n\n"
        "===============================================================================\n"
        "[doctest] test cases: 1 | 0 passed | 1 failed | 21 skipped\n"
    )
    results = [
        TestResult(SPECS[0], Status.PASSED, 6, 0.25, leaks=[QUEUE_LEFT]),
        TestResult(SPECS[1], Status.FAILED, 0, 5.5, "failed; the checks that did not hold:", failure),
        TestResult(SPECS[2], Status.SKIPPED, 0, 0, "skipped: depends on 'x', which did not pass"),
        TestResult(SPECS[3], Status.TIMED_OUT, 0, 30, "timed out after 30.0 s; every process of the test was killed"),
        TestResult(SPECS[4], LAB_BROKEN, 2, 0.1, "the reference fails this test too (failed); you are not charged for it"),
    ]
    return Grade(lab=DEMO, label="student-42", isolation="bubblewrap", results=results, seconds=36.2)


@pytest.mark.parametrize("fmt", ["json", "gradescope"])
def test_machine_reports_match_the_saved_output(fmt: str) -> None:
    rendered = report.render_machine(demo_grade(), fmt)
    expected = EXPECTED / f"demo.{fmt}.json"
    if os.environ.get("IPCLAB_REGENERATE"):
        expected.write_text(rendered)
    assert rendered == expected.read_text()


def test_gradescope_results_have_the_documented_fields_and_types() -> None:
    data = json.loads(report.render_machine(demo_grade(), "gradescope"))
    assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], int)
    assert isinstance(data["output"], str)
    assert data["visibility"] in {"visible", "hidden", "after_due_date", "after_published"}
    for number, test in enumerate(data["tests"], start=1):
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "tags", "visibility"}
        assert test["number"] == str(number)
        assert test["status"] in {"passed", "failed"}
        assert isinstance(test["tags"], list) and all(isinstance(t, str) for t in test["tags"])
        if test["name"] != "Cleanup: what the tests left behind":
            assert 0 <= test["score"] <= test["max_score"]
    assert data["score"] == sum(t["score"] for t in data["tests"])
    assert data["tests"][-1]["score"] == -2 and "mq_unlink" in data["tests"][-1]["output"]


def test_a_leak_costs_its_deduction_once_per_kind_and_is_named_in_the_feedback() -> None:
    grade = demo_grade()
    grade.results[2].leaks = [QUEUE_LEFT, Leak("zombie process", "process 7 (x) exited but was never reaped", "waitpid")]
    assert grade.leak_kinds == ["message queue", "zombie process"]
    assert grade.leak_deduction == 4
    assert grade.score == 8 - 4
    assert 'left behind — message queue: /dev/mqueue/requests — clean it up with mq_unlink("/requests")' in report.feedback(grade.results[0])


def test_an_unbuildable_submission_lists_every_test_at_zero() -> None:
    grade = Grade(lab=DEMO, label="s", isolation="bubblewrap", gradable=False, diagnostics="demo.cpp:3:1: error: x")
    data = json.loads(report.render_machine(grade, "json"))
    assert data["gradable"] is False and data["score"] == 0
    assert [t["score"] for t in data["tests"]] == [0] * len(SPECS)
    assert "demo.cpp:3:1: error" in data["diagnostics"]
    gradescope = json.loads(report.render_machine(grade, "gradescope"))
    assert "could not be graded" in gradescope["output"]


def test_feedback_keeps_the_evidence_and_drops_doctest_framing() -> None:
    text = report.feedback(demo_grade().results[1])
    assert "logged: process 12 never blocked" in text
    assert "[doctest]" not in text and "=====" not in text
    assert text.endswith("hint: Do not busy-wait.")
    assert report.feedback(demo_grade().results[0]).startswith("left behind — message queue")


def test_reports_are_written_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out" / "results.json"
    report.write_atomically(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]
