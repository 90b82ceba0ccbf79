"""The late penalty and the resubmission limit (lab.toml [submissions]),
applied with Gradescope's submission_metadata.json as its documentation
lays it out: "created_at", "assignment": {"due_date", …},
"previous_submissions": [{"submission_time", "score", "results"}]."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from grader import cli
from grader.publishing import policy
from grader.reports import gradescope
from grader.errors import GraderError
from grader.grading.lab import SubmissionPolicy, _parse, load_lab
from grader.tests.test_report import DEMO, demo_grade

PIPE = load_lab("pipe")
DUE = "2026-03-01T23:59:00.000000-08:00"


def metadata_file(tmp_path: Path, created_at: str, previous: list[dict[str, Any]] = (), due: str | None = DUE) -> Path:
    path = tmp_path / "submission_metadata.json"
    path.write_text(
        json.dumps(
            {
                "id": 123456,
                "created_at": created_at,
                "assignment": {
                    "due_date": due,
                    "late_due_date": None,
                    "id": 25828,
                    "title": "Lab 1",
                    "total_points": "100.0",
                },
                "users": [{"email": "ann@example.edu", "id": 1234, "name": "Ann Lee"}],
                "previous_submissions": list(previous),
            }
        )
    )
    return path


def previous(when: str, score: float) -> dict[str, Any]:
    return {
        "submission_time": when,
        "score": score,
        "results": {"score": score, "output": f"pipe: {score:g} / 100", "tests": [{"name": "t", "score": score}]},
    }


def with_policy(lab, **settings):
    return dataclasses.replace(lab, submissions=SubmissionPolicy(**settings))


def test_lab_toml_sets_the_policy_and_refuses_values_out_of_range() -> None:
    header = {"lab": {"title": "t", "student_files": ["a.cpp"]}}
    lab = _parse(
        "x", {**header, "submissions": {"max": 3, "late_penalty_per_day": 10, "max_late_penalty": 30}}, Path("x")
    )
    assert lab.submissions == SubmissionPolicy(3, 10.0, 30.0)
    assert _parse("x", header, Path("x")).submissions == SubmissionPolicy() and not SubmissionPolicy().any
    with pytest.raises(GraderError) as refused:
        _parse("x", {**header, "submissions": {"max": -1, "late_penalty_per_day": 150, "grace": 1}}, Path("x"))
    for sentence in (
        "max = -1: a number of at least 0",
        "late_penalty_per_day = 150: a percentage from 0 to 100",
        "no setting 'grace'",
    ):
        assert sentence in refused.value.message


def test_metadata_times_are_read_as_gradescope_writes_them(tmp_path: Path) -> None:
    read = policy.read_metadata(
        metadata_file(tmp_path, "2026-03-02T10:00:00.5Z", [previous("2026-02-27T09:00:00.123-08:00", 40)])
    )
    assert read.submitted.isoformat() == "2026-03-02T10:00:00.500000+00:00"
    assert read.due.isoformat() == "2026-03-01T23:59:00-08:00"
    assert [p.score for p in read.previous] == [40]


@pytest.mark.parametrize(
    "broken, says",
    [
        ("not json", "could not be read as JSON"),
        ("{}", 'no "created_at"'),
        ('{"created_at": "yesterday"}', "created_at is 'yesterday', not a time"),
        ('{"created_at": "2026-03-02T10:00:00"}', "without its offset from UTC"),
    ],
)
def test_metadata_that_cannot_be_read_says_what_is_wrong(tmp_path: Path, broken: str, says: str) -> None:
    path = tmp_path / "submission_metadata.json"
    path.write_text(broken)
    with pytest.raises(GraderError, match=says):
        policy.read_metadata(path)


@pytest.mark.parametrize(
    "created_at, days, penalty",
    [
        ("2026-03-01T23:58:59-08:00", 0, 0),  # on time
        ("2026-03-01T23:59:01-08:00", 1, 10),  # a second late is a part of a day
        ("2026-03-03T07:59:00+00:00", 1, 10),  # exactly one day late, written in UTC
        ("2026-03-03T23:59:01-08:00", 3, 30),
        ("2026-03-20T00:00:00-08:00", 19, 50),  # capped at max_late_penalty
    ],
)
def test_the_late_penalty_is_per_started_day_and_capped(
    tmp_path: Path, created_at: str, days: int, penalty: float
) -> None:
    lab = with_policy(PIPE, late_penalty_per_day=10, max_late_penalty=50)
    decision = policy.decide(lab, policy.read_metadata(metadata_file(tmp_path, created_at)))
    assert (decision.days_late, decision.penalty, decision.over_limit) == (days, penalty, False)


def test_a_late_submission_gets_an_entry_of_its_own_and_the_output_says_why(tmp_path: Path) -> None:
    lab = with_policy(DEMO, late_penalty_per_day=10)
    decision = policy.decide(lab, policy.read_metadata(metadata_file(tmp_path, "2026-03-05T12:00:00-08:00")))
    results = policy.apply(gradescope.to_gradescope(demo_grade()), decision)
    late = results["tests"][-1]
    assert (
        late["name"] == policy.LATE_ENTRY and late["score"] == -8 and late["max_score"] == 0
    )  # 3 days 12 hours: 4 days, 40 % of DEMO's 20
    assert (
        late["visibility"] == "visible"
        and late["output_format"] == "text"
        and late["number"] == str(len(results["tests"]))
    )
    assert results["score"] == 0, "6 points earned, 8 off: never below 0"
    assert "Submitted 4 day(s) after the due date: 8 points off" in results["output"]
    assert results["extra_data"]["submission"] == {"number": 1, "over_limit": False, "days_late": 4, "late_penalty": 8}
    assert results["extra_data"]["grader_version"], "the grader's own extra data is kept"


def test_submissions_up_to_the_limit_are_graded_and_say_which_they_are(tmp_path: Path) -> None:
    lab = with_policy(DEMO, max_submissions=3)
    meta = policy.read_metadata(
        metadata_file(
            tmp_path,
            "2026-03-01T10:00:00-08:00",
            [previous("2026-02-28T10:00:00-08:00", 5), previous("2026-02-27T10:00:00-08:00", 3)],
        )
    )
    decision = policy.decide(lab, meta)
    assert (decision.number, decision.over_limit) == (3, False)
    assert "Submission 3 of 3 graded." in policy.apply(gradescope.to_gradescope(demo_grade()), decision)["output"]


def test_a_submission_over_the_limit_keeps_the_last_results_with_a_message(tmp_path: Path) -> None:
    lab = with_policy(DEMO, max_submissions=2)
    meta = policy.read_metadata(
        metadata_file(
            tmp_path,
            "2026-03-01T10:00:00-08:00",
            [previous("2026-02-28T10:00:00-08:00", 14), previous("2026-02-27T10:00:00-08:00", 3)],
        )
    )
    decision = policy.decide(lab, meta)
    assert decision.over_limit and decision.number == 3
    results = policy.carried_over(meta, decision)
    assert results["score"] == 14 and results["tests"] == [
        {"name": "t", "score": 14}
    ], "the latest previous, not the first listed"
    assert results["output"].startswith("This is submission 3; 2 are graded. It was not graded: the score stays 14")
    assert results["output"].endswith("pipe: 14 / 100")
    assert results["extra_data"]["submission"]["carried_over_from"] == "2026-02-28T10:00:00-08:00"


def test_a_second_submission_over_the_limit_carries_the_last_graded_results_not_a_carried_copy(tmp_path: Path) -> None:
    lab = with_policy(DEMO, max_submissions=1)
    first = previous("2026-02-27T10:00:00-08:00", 30)
    meta = policy.read_metadata(metadata_file(tmp_path, "2026-02-28T10:00:00-08:00", [first]))
    second = policy.carried_over(meta, policy.decide(lab, meta))
    meta = policy.read_metadata(
        metadata_file(
            tmp_path,
            "2026-03-01T10:00:00-08:00",
            [first, {"submission_time": "2026-02-28T10:00:00-08:00", "score": 30, "results": second}],
        )
    )
    third = policy.carried_over(meta, policy.decide(lab, meta))
    assert third["score"] == 30 and third["output"].count("It was not graded") == 1
    assert "This is submission 3; 1 are graded." in third["output"] and "2026-02-27T10:00" in third["output"]
    assert third["extra_data"]["submission"]["carried_over_from"] == "2026-02-27T10:00:00-08:00"


def test_autograde_over_the_limit_writes_results_without_grading(tmp_path: Path, monkeypatch) -> None:
    """No build, no test: the command must not even look at the submission."""
    lab = with_policy(PIPE, max_submissions=1)
    monkeypatch.setattr(cli, "load_lab", lambda name: lab)
    monkeypatch.setattr(cli.pipeline, "prepare_reference", lambda *a: pytest.fail("graded a submission over the limit"))
    meta = metadata_file(tmp_path, "2026-03-01T10:00:00-08:00", [previous("2026-02-28T10:00:00-08:00", 60)])
    out = tmp_path / "results.json"
    argv = ["autograde", "pipe", str(tmp_path / "nothing-here"), "--output", str(out), "--metadata", str(meta)]
    assert cli.main(argv) == cli.Exit.OK
    assert json.loads(out.read_text())["score"] == 60


def test_autograde_with_unreadable_metadata_grades_and_says_the_policy_was_not_applied(
    tmp_path: Path, monkeypatch
) -> None:
    lab = with_policy(PIPE, max_submissions=1, late_penalty_per_day=10)
    monkeypatch.setattr(cli, "load_lab", lambda name: lab)
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "pipe.cpp").write_text("// misnamed: not gradable, so no build\n")
    meta = tmp_path / "submission_metadata.json"
    meta.write_text("{truncated")
    out = tmp_path / "results.json"
    assert (
        cli.main(["autograde", "pipe", str(tmp_path / "submission"), "--output", str(out), "--metadata", str(meta)])
        == cli.Exit.OK
    )
    results = json.loads(out.read_text())
    assert "The late penalty and submission limit were not applied:" in results["output"]
    assert "could not be read as JSON" in results["output"]


def test_metadata_is_refused_for_formats_other_than_gradescope(tmp_path: Path, capsys) -> None:
    meta = metadata_file(tmp_path, "2026-03-01T10:00:00-08:00")
    assert cli.main(["autograde", "pipe", str(tmp_path), "--format", "json", "--metadata", str(meta)]) == cli.Exit.ERROR
    assert "use --metadata with --format gradescope" in capsys.readouterr().err
