"""PrairieLearn's external grader results.json: score from 0 to 1, the hidden tests as one
aggregate entry, and the whole file kept under PrairieLearn's 1 MB limit."""

from __future__ import annotations

import json
from typing import Any


from grader.grading.score import Grade
from grader.reports.untrusted import escape_controls
from grader.reports.feedback import (
    HIDDEN_TESTS,
    leak_kinds_text,
    feedback,
    hidden_summary,
    not_graded_results,
    public_leak_findings,
    public_results,
    status_text,
)


# PrairieLearn takes results.json files up to 1 MB ("this file should be
# limited to 1 MB", its external grading documentation); the margin leaves
# room for what truncation notes add.
PRAIRIELEARN_LIMIT = 1_000_000


PRAIRIELEARN_BUDGET = 950_000


def to_prairielearn(grade: Grade) -> dict[str, Any]:
    """PrairieLearn's external-grader results.json: score as a fraction in
    [0, 1]; gradable false with format_errors for a submission that did not
    build (PrairieLearn then charges no attempt); per test name, points,
    max_points, message, output. PrairieLearn has no visibility field, so
    the hidden tests are one aggregate entry; the file stays under 1 MB."""
    tests = [
        {
            "name": r.spec.name,
            "description": r.spec.category,
            "points": r.score,
            "max_points": r.spec.points,
            "message": status_text(r),
            "output": feedback(r),
        }
        for r in public_results(grade)
    ]
    hidden = [r for r in not_graded_results(grade) if r.spec.hidden]
    if hidden:
        tests.append(
            {
                "name": HIDDEN_TESTS,
                "description": f"{len(hidden)} tests run on your submission",
                "points": sum(r.score for r in hidden),
                "max_points": sum(r.spec.points for r in hidden),
                "message": hidden_summary(grade),
                "output": "",
            }
        )
    if grade.leak_deduction:
        output = f"{grade.leak_deduction:g} points off for {leak_kinds_text(grade)}:\n" + "\n".join(
            public_leak_findings(grade)
        )
        tests.append(
            {
                "name": "Cleanup: what the tests left behind",
                "description": "cleanup",
                "points": -grade.leak_deduction,
                "max_points": 0,
                "message": "leaks",
                "output": output,
            }
        )
    data: dict[str, Any] = {
        "gradable": grade.gradable,
        "score": grade.score / grade.max_score if grade.max_score else 0.0,
        "message": f"{grade.lab.name}: {grade.score:g} / {grade.max_score:g}",
        "tests": tests,
    }
    if not grade.gradable:
        data["format_errors"] = [escape_controls(grade.diagnostics)]
    return within_prairielearn_limit(data)


def _encoded_size(data: dict[str, Any]) -> int:
    return len(json.dumps(data, indent=2).encode())


def within_prairielearn_limit(data: dict[str, Any]) -> dict[str, Any]:
    """Cuts the longest texts (tests' outputs, the compiler's errors) until
    the file fits PRAIRIELEARN_BUDGET, and says so where it cut and in the
    message: a results file over 1 MB is not taken at all."""
    texts = [(test, "output") for test in data["tests"]] + [(data, "format_errors")] * ("format_errors" in data)
    cut = False
    while _encoded_size(data) > PRAIRIELEARN_BUDGET:
        holder, key = max(texts, key=lambda t: len(_text(t[0][t[1]])))
        text = _text(holder[key])
        excess = _encoded_size(data) - PRAIRIELEARN_BUDGET
        # JSON can spend six bytes on one character: cut by at least the excess, in characters.
        keep = max(0, min(len(text) - excess, len(text) // 2))
        if keep == len(text) or not text:
            break  # nothing left to cut
        shortened = text[:keep] + f"\n… {len(text) - keep} characters cut: PrairieLearn keeps results under 1 MB"
        holder[key] = [shortened] if key == "format_errors" else shortened
        cut = True
    if cut:
        data["message"] += " (some feedback was cut to keep the results under PrairieLearn's 1 MB limit)"
    return data


def _text(value: str | list[str]) -> str:
    return value[0] if isinstance(value, list) else value
