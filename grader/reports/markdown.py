"""A grade as Markdown: a student's feedback/*.md in a batch."""

from __future__ import annotations


from grader.grading.run import Status
from grader.grading.score import Grade, TestResult
from grader.reports.untrusted import markdown_code_block, markdown_literal
from grader.reports.feedback import Feedback, feedback_parts, status_text


def to_markdown(grade: Grade, notes: tuple[str, ...] = ()) -> str:
    """The feedback file a student gets back from a batch: score, a table of
    the tests, then each failure with its evidence and hint. Nothing in it
    depends on timing, so a re-run writes the same file.

    notes: what the grader did to the submission before grading it (a file
    renamed from a course platform's download, a folder it was found in).
    """
    shown = [r for r in grade.results if not r.spec.secret]
    secret = sum(t.secret for t in grade.lab.tests)
    lines = [f"# {grade.lab.name} — {grade.lab.title}", "", _markdown_score(grade, shown, secret), ""]
    lines += [f"- {markdown_literal(note)}" for note in notes] + ([""] if notes else [])
    if not grade.gradable:
        lines += ["## Your submission could not be graded", "", *markdown_code_block(grade.diagnostics), ""]
        return "\n".join(lines)
    lines += ["| # | test | points | result |", "|---:|---|---:|---|"]
    for index, r in enumerate(shown, start=1):
        lines.append(f"| {index} | {_cell(r.spec.name)} | {r.score:g} / {r.spec.points:g} | {status_text(r)} |")
    if secret:
        lines += ["", f"{secret} more test(s) were graded; their results are not part of this feedback."]
    failed = [r for r in shown if not r.passed]
    if failed:
        lines += ["", "## What to look at"]
    for r in failed:
        lines += ["", f"### {_cell(r.spec.name)}", *_markdown_feedback(feedback_parts(r))]
    broken = [r for r in shown if r.status is Status.LAB_BROKEN]
    if broken:
        lines += ["", f"The reference fails {len(broken)} test(s) too: they were not charged."]
    return "\n".join(lines) + "\n"


def _markdown_score(grade: Grade, shown: list[TestResult], secret: int) -> str:
    """The whole score while every test is shown; while some are secret, the
    score on the others alone (a total would tell how the secret ones went)."""
    if not secret:
        return f"**Score: {grade.score:g} / {grade.max_score:g}**"
    earned = max(0.0, sum(r.score for r in shown) - grade.leak_deduction)
    points = sum(t.points for t in grade.lab.tests if not t.secret)
    return f"**Score on the tests shown: {earned:g} / {points:g}**"


def _markdown_feedback(parts: Feedback) -> list[str]:
    """The grader's words as text; what the test printed only inside a code
    block, under a line that says so, where nothing it holds is rendered or
    can pass for the grader's findings."""
    lines = ["", markdown_literal(parts.detail)] if parts.detail else []
    if parts.printed:
        lines += ["", "The test printed:", "", *markdown_code_block(parts.printed)]
    lines += ["", markdown_literal(parts.hint)] if parts.hint else []
    if parts.left_behind:
        lines += ["", *(f"- {markdown_literal(finding)}" for finding in parts.left_behind)]
    return lines


def _cell(text: str) -> str:
    # A | would end a Markdown table cell (and "ls -l | wc -l" is a test name);
    # a line break would end the table.
    return markdown_literal(" ".join(text.splitlines()))
