"""Gradescope's results.json: one entry per test with its visibility, the leak deduction as an
entry of its own, and leaderboard entries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


from grader.grading.run import Status
from grader.grading.score import Grade
from grader.reports.untrusted import escape_controls
from grader.reports.version import FORMAT_VERSION, grader_version
from grader.reports.feedback import leak_kinds_text, feedback, not_graded_results


# Gradescope renders a top-level output as HTML unless told otherwise
# (its default there is "simple_format"), and "html", "md" and "ansi" render
# markup: "text" renders none, and submissions' words are in every output.
# (Gradescope's autograder specification, "Output String Formatting".)
GRADESCOPE_PLAIN = {"output_format": "text", "test_output_format": "text", "test_name_format": "text"}


GRADESCOPE_PLAIN_TEST = {"output_format": "text", "name_format": "text"}


def to_gradescope(grade: Grade) -> dict[str, Any]:
    """Gradescope's autograder results.json: score, execution_time, output,
    extra_data, and per test name, number, score, max_score, status, output,
    tags, visibility; every text formatted as "text"."""
    tests = [
        {
            "name": r.spec.name,
            "number": str(index),
            "score": r.score,
            "max_score": r.spec.points,
            # The reference fails it too: full points, and not a failure of the student's.
            "status": "passed" if r.passed or r.status is Status.LAB_BROKEN else "failed",
            "output": feedback(r),
            **GRADESCOPE_PLAIN_TEST,
            "tags": [r.spec.category],
            "visibility": r.spec.visibility,
        }
        for index, r in enumerate(not_graded_results(grade), start=1)
    ]
    if grade.leak_deduction:
        tests.append(_leak_entry(grade, number=len(tests) + 1))
    return {
        "score": grade.score,
        "execution_time": max(1, round(grade.seconds)),
        "output": gradescope_summary(grade),
        **GRADESCOPE_PLAIN,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "format_version": FORMAT_VERSION,
            "grader_version": grader_version(),
            "isolation": {"full": grade.isolation.full, "level": str(grade.isolation)},
        },
        "tests": tests,
    }


def gradescope_summary(grade: Grade) -> str:
    """The top-level output, which students see at once: while a test is
    secret, the score it gives is of the tests shown, never the total."""
    results = not_graded_results(grade)
    shown = [r for r in results if not r.spec.secret]
    if len(shown) == len(results):
        lines = [f"{grade.lab.name}: {grade.score:g} / {grade.max_score:g}"]
    else:
        earned = max(0.0, sum(r.score for r in shown) - grade.leak_deduction)  # the deduction has its own entry, shown
        lines = [
            f"{grade.lab.name}: {earned:g} / {sum(r.spec.points for r in shown):g} "
            "on the tests shown now; the other tests are shown when your instructor releases them"
        ]
    if not grade.isolation.full:
        lines.append(f"Tests ran in reduced isolation: {escape_controls(grade.isolation.reason)}")
    if not grade.gradable:
        lines += ["", "Your submission could not be graded:", escape_controls(grade.diagnostics)]
    return "\n".join(lines)


def _leak_entry(grade: Grade, number: int) -> dict[str, Any]:
    """The leak deduction as an entry of its own, so tests still add up.
    Findings are named by test, except a secret test's: those are counted,
    never named nor described (what a hidden test creates tells what it does)."""
    findings = [
        escape_controls(f"{r.spec.name}: {leak.sentence()}")
        for r in grade.results
        if not r.spec.secret
        for leak in r.charged_leaks
    ]
    unnamed = sum(len(r.charged_leaks) for r in grade.results if r.spec.secret)
    if unnamed:
        findings.append(f"and {unnamed} finding(s) in tests not shown yet: see those tests when they are")
    return {
        "name": "Cleanup: what the tests left behind",
        "number": str(number),
        "score": -grade.leak_deduction,
        "max_score": 0,
        "status": "failed",
        "output": f"{grade.leak_deduction:g} points off for {leak_kinds_text(grade)}:\n" + "\n".join(findings),
        **GRADESCOPE_PLAIN_TEST,
        "tags": ["cleanup"],
        "visibility": "visible",
    }


def with_leaderboard(results: dict[str, Any], board: Sequence[Any]) -> dict[str, Any]:
    """Gradescope's results.json "leaderboard": a list of {name, value} and,
    where smaller is better, "order": "asc" (the autograder specification's
    leaderboard entries; the score is untouched)."""
    if board:
        results["leaderboard"] = [
            {"name": e.name, "value": e.value, **({"order": "asc"} if e.ascending else {})} for e in board
        ]
    return results
