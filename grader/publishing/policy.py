"""Submission policy on Gradescope: the late penalty and the resubmission
limit an instructor sets in lab.toml [submissions], applied with what
Gradescope says of each submission in /autograder/submission_metadata.json
(its "created_at", the assignment's "due_date", and "previous_submissions",
each with its "submission_time", "score" and "results").

    [submissions]
    max = 5                    # graded submissions per student (0: no limit)
    late_penalty_per_day = 10  # per cent of the lab's points, per day or part of a day late
    max_late_penalty = 50      # per cent, at most

A submission over the limit is not graded: as Gradescope's documentation
suggests, its results are those of the submission before it, with a
message on top, so the student keeps the last graded score and knows why.
A late submission is graded, and the penalty is an entry of its own in the
results, so the tests still add up. The penalty is a share of the lab's
points, never of the score: a share of the score would tell a student the
total of tests not shown yet.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from grader.errors import GraderError
from grader.grading.lab import Lab

DAY = 24 * 60 * 60  # seconds


@dataclass(frozen=True)
class Previous:
    submitted: datetime
    score: float
    results: dict[str, Any] | None  # None: Gradescope kept none


@dataclass(frozen=True)
class Metadata:
    submitted: datetime  # "created_at"
    due: datetime | None  # the assignment's "due_date"; None: no due date
    previous: tuple[Previous, ...]  # oldest first


@dataclass(frozen=True)
class Decision:
    number: int  # this submission's, the first is 1
    over_limit: bool
    days_late: int  # whole days or parts of days after the due date; 0: on time
    penalty: float  # points off
    notes: tuple[str, ...]  # what was applied, in sentences for the student


def read_metadata(path: Path) -> Metadata:
    shown = str(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise GraderError(f"{shown} could not be read as JSON: {e}") from e
    if not isinstance(data, dict) or "created_at" not in data:
        raise GraderError(f'{shown} has no "created_at": it is not Gradescope\'s submission_metadata.json')
    assignment = data.get("assignment") or {}
    due = assignment.get("due_date") if isinstance(assignment, dict) else None
    previous = [
        Previous(
            _time(p.get("submission_time"), f"{shown}: previous_submissions[{i}].submission_time"),
            float(p.get("score") or 0),
            p.get("results") if isinstance(p.get("results"), dict) else None,
        )
        for i, p in enumerate(data.get("previous_submissions") or [])
    ]
    return Metadata(
        submitted=_time(data["created_at"], f"{shown}: created_at"),
        due=_time(due, f"{shown}: assignment.due_date") if due else None,
        previous=tuple(sorted(previous, key=lambda p: p.submitted)),
    )


_FRACTION = re.compile(r"\.(\d+)")


def _time(value: Any, where: str) -> datetime:
    """An ISO 8601 time with its offset, as Gradescope writes them
    ("2018-07-01T14:22:32.365935-07:00"). Python 3.10's fromisoformat
    takes neither "Z" nor a fraction of other than 3 or 6 digits: both
    are normalised first."""
    if not isinstance(value, str):
        raise GraderError(f'{where} is {value!r}, not a time such as "2018-07-01T14:22:32.365935-07:00"')
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value.strip(), count=1)
    text = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as e:
        raise GraderError(f'{where} is {value!r}, not a time such as "2018-07-01T14:22:32.365935-07:00"') from e
    if moment.tzinfo is None:
        raise GraderError(
            f"{where} is {value!r}: a time without its offset from UTC cannot be compared with a due date"
        )
    return moment


def decide(lab: Lab, metadata: Metadata) -> Decision:
    policy = lab.submissions
    number = len(metadata.previous) + 1
    if policy.max_submissions and number > policy.max_submissions:
        last = last_graded(metadata)
        note = (
            f"This is submission {number}; {policy.max_submissions} are graded. It was not graded: the score "
            f"stays {last.score:g}, that of your submission of {last.submitted.isoformat(timespec='minutes')}."
        )
        return Decision(number, True, 0, 0.0, (note,))
    notes = [f"Submission {number} of {policy.max_submissions} graded."] if policy.max_submissions else []
    late = (metadata.submitted - metadata.due).total_seconds() if metadata.due else 0.0
    days = math.ceil(late / DAY) if late > 0 else 0
    if not days or not policy.late_penalty_per_day:
        return Decision(number, False, days, 0.0, tuple(notes))
    percent = min(policy.max_late_penalty, policy.late_penalty_per_day * days)
    penalty = lab.max_score * percent / 100
    notes.append(
        f"Submitted {days} day(s) after the due date: {penalty:g} points off "
        f"({policy.late_penalty_per_day:g} % of {lab.max_score:g} per day, at most {policy.max_late_penalty:g} %)."
    )
    return Decision(number, False, days, penalty, tuple(notes))


def carried_over(metadata: Metadata, decision: Decision) -> dict[str, Any]:
    """The results of a submission over the limit: the last graded one's,
    the decision's message on top."""
    last = last_graded(metadata)
    results = copy.deepcopy(last.results) if last.results else {"score": last.score, "tests": []}
    results["output"] = "\n".join([*decision.notes, "", str(results.get("output", ""))]).rstrip()
    results.setdefault("output_format", "text")
    extra = results.get("extra_data")
    extra = extra if isinstance(extra, dict) else {}
    results["extra_data"] = {
        **extra,
        "submission": _extra(decision) | {"carried_over_from": last.submitted.isoformat()},
    }
    return results


def last_graded(metadata: Metadata) -> Previous:
    """The latest previous submission that was graded: one over the limit
    carries another's results (and says so in its extra_data), and its own
    message must not pile up on the next one's."""
    graded = [p for p in metadata.previous if not _was_carried_over(p)]
    return (graded or list(metadata.previous))[-1]


def _was_carried_over(previous: Previous) -> bool:
    extra = (previous.results or {}).get("extra_data")
    submission = extra.get("submission") if isinstance(extra, dict) else None
    return isinstance(submission, dict) and bool(submission.get("over_limit"))


LATE_ENTRY = "Late submission"


def apply(results: dict[str, Any], decision: Decision) -> dict[str, Any]:
    """A graded submission's Gradescope results with the decision applied:
    the late penalty as an entry of its own, and the notes in the output."""
    if decision.penalty:
        tests = results.setdefault("tests", [])
        tests.append(
            {
                "name": LATE_ENTRY,
                "number": str(len(tests) + 1),
                "score": -decision.penalty,
                "max_score": 0,
                "status": "failed",
                "output": decision.notes[-1],
                "output_format": "text",
                "name_format": "text",
                "tags": ["late"],
                "visibility": "visible",
            }
        )
        results["score"] = max(0.0, results["score"] - decision.penalty)
    if decision.notes:
        results["output"] = "\n".join([results.get("output", ""), "", *decision.notes]).lstrip("\n")
    results.setdefault("extra_data", {})["submission"] = _extra(decision)
    return results


def not_applied(results: dict[str, Any], why: str) -> dict[str, Any]:
    """Metadata that could not be read costs the student nothing: graded
    as if no policy were set, and the output says so."""
    results["output"] = f"{results.get('output', '')}\n\nThe late penalty and submission limit were not applied: {why}"
    return results


def _extra(decision: Decision) -> dict[str, Any]:
    return {
        "number": decision.number,
        "over_limit": decision.over_limit,
        "days_late": decision.days_late,
        "late_penalty": decision.penalty,
    }
