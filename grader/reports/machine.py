"""A grade as a machine reads it: the grader's own JSON, and the dispatch to each platform's
format (render_machine)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


from grader.grading.score import Grade
from grader.reports.untrusted import escape_controls
from grader.reports.version import FORMAT_VERSION
from grader.reports.prairielearn import to_prairielearn
from grader.reports.gradescope import to_gradescope, with_leaderboard
from grader.reports.feedback import feedback, not_graded_results, status_text
from grader.reports.autolab import to_autolab, with_scoreboard


def to_json(grade: Grade) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "lab": grade.lab.name,
        "submission": escape_controls(grade.label),
        "score": grade.score,
        "max_score": grade.max_score,
        "gradable": grade.gradable,
        "diagnostics": escape_controls(grade.diagnostics),
        "isolation": str(grade.isolation),
        "broken_tests": grade.broken_tests,
        "leaks": {"kinds": [escape_controls(kind) for kind in grade.leak_kinds], "deduction": grade.leak_deduction},
        "execution_time": round(grade.seconds, 3),
        "tests": [
            {
                "name": r.spec.name,
                "score": r.score,
                "max_score": r.spec.points,
                "status": status_text(r),
                "category": r.spec.category,
                "hidden": r.spec.hidden,
                "seconds": round(r.seconds, 3),
                "output": feedback(r),
                # Leak lines came from the test's process: any field may be the submission's.
                "leaks": [
                    {k: escape_controls(v) for k, v in (("kind", x.kind), ("object", x.object), ("fix", x.fix))}
                    for x in r.leaks
                ],
            }
            for r in not_graded_results(grade)
        ],
    }


MACHINE_FORMATS = ("json", "gradescope", "prairielearn", "autolab", "junit")


def render_machine(grade: Grade, fmt: str, board: Sequence[Any] = ()) -> str:
    """`board`: scoreboard entries (grader/bench/measure.py Entry: name, value,
    ascending) for the platforms that show one; never part of the score."""
    if fmt == "autolab":
        # Autolab reads the last line of the output: one line, no indent.
        return json.dumps(with_scoreboard(to_autolab(grade), board)) + "\n"
    if fmt == "gradescope":
        return json.dumps(with_leaderboard(to_gradescope(grade), board), indent=2) + "\n"
    if fmt == "junit":
        from grader.reports.junit import to_junit  # junit renders through this module's feedback()

        return to_junit(grade)
    render = {"prairielearn": to_prairielearn}.get(fmt, to_json)
    return json.dumps(render(grade), indent=2) + "\n"
