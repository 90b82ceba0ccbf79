"""Autolab's autoresult (scores per problem, the scoreboard) and the feedback text Autolab
shows above it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


from grader.grading.lab import Lab
from grader.grading.score import Grade
from grader.reports.untrusted import escape_controls
from grader.reports.feedback import (
    leak_kinds_text,
    feedback,
    hidden_summary,
    not_graded_results,
    public_leak_findings,
    public_results,
    status_text,
)


LEAK_PROBLEM = "leaks"


def autolab_problems(lab: Lab) -> dict[str, float]:
    """The problems to declare in Autolab for a lab, with their points: one
    per test category, in lab.toml order (test names are too many and too
    long for Autolab's problem list, and a hidden test's name is never
    shown)."""
    problems: dict[str, float] = {}
    for spec in lab.tests:
        problems[spec.category] = problems.get(spec.category, 0.0) + spec.points
    if lab.leak_deduction:
        problems[LEAK_PROBLEM] = 0.0  # worth nothing; negative when something leaked
    return problems


def to_autolab(grade: Grade) -> dict[str, Any]:
    """Autolab's autoresult: {"scores": {problem: points}, "scoreboard":
    [total, then each problem]}; the problems are autolab_problems(lab)."""
    scores = dict.fromkeys(autolab_problems(grade.lab), 0.0)
    for r in not_graded_results(grade):
        scores[r.spec.category] += r.score
    if grade.lab.leak_deduction:
        scores[LEAK_PROBLEM] = 0.0 - grade.leak_deduction  # never -0.0
    return {"scores": scores, "scoreboard": [grade.score, *scores.values()]}


def autolab_feedback(grade: Grade) -> str:
    """What Autolab shows above the autoresult, as plain text: every public
    test with its points, each failure's evidence and hint, the hidden tests
    as one line (Autolab shows the whole output to the student, and has no
    visibility of its own), the leaks and the score."""
    lines = [f"{grade.lab.name} — {grade.lab.title}"]
    if not grade.isolation.full:
        lines.append(f"reduced isolation — {grade.isolation.reason}")
    if not grade.gradable:
        lines += ["Not gradable (score 0). Why:", escape_controls(grade.diagnostics), f"Score: 0 / {grade.max_score:g}"]
        return "\n".join(lines) + "\n"
    for r in public_results(grade):
        lines.append(f"{'✓' if r.passed else '✗'} {r.score:g}/{r.spec.points:g} {status_text(r):<12} {r.spec.name}")
        text = feedback(r)
        lines += [f"    {line}" for line in text.splitlines()]
    if any(r.spec.hidden for r in grade.results):
        lines.append(hidden_summary(grade))
    if grade.leak_deduction:
        lines.append(f"Leaks: {grade.leak_deduction:g} points off for {leak_kinds_text(grade)} (lab.toml [leaks])")
        lines += [f"    {finding}" for finding in public_leak_findings(grade)]
    lines.append(f"Score: {grade.score:g} / {grade.max_score:g}")
    return "\n".join(lines) + "\n"


def with_scoreboard(result: dict[str, Any], board: Sequence[Any]) -> dict[str, Any]:
    """Autolab's scoreboard is one array, columns named in the assessment's
    scoreboard spec: the benchmark's figures come after the scores, in
    bench.scoreboard order."""
    result["scoreboard"] = [*result["scoreboard"], *(e.value for e in board)]
    return result
