"""One test's feedback for a student: what happened, what the test printed (doctest's frame
removed, long and binary comparisons summarised), the hint for the cause it observed, what it
left behind; and what of a grade may be shown while hidden tests are hidden."""

from __future__ import annotations

import re
from dataclasses import dataclass


from grader.grading.run import Status
from grader.grading.score import Grade, TestResult
from grader.reports.untrusted import escape_controls


_DOCTEST_FRAME = re.compile(r"^(=+|\[doctest\].*|TEST SUITE:.*|TEST CASE:.*|\S+\.cpp:\d+:\s*)$")


# doctest's expansion of a failed comparison: `values: CHECK( "a" == "b" )`.
_VALUES = re.compile(r"^(\s*values: \w+\( )(.*)( \))$")


# A longer `values:` line (a payload of megabytes) is summarised: its size
# and where the two sides first differ. Binary bytes are never shown: doctest
# prints them up to the first NUL, as undecodable characters (U+FFFD) and
# control characters already escaped as `\xNN`.
VALUES_SHOWN = 200


_BINARY = re.compile(r"\ufffd|\\x[0-9a-f]{2}")


def feedback_output(output: str) -> str:
    """A test's output without doctest's frame (separators, summary, the
    test's own name, which every report already shows), long `values:`
    lines summarised."""
    lines = [_summarised(line) for line in output.splitlines() if not _DOCTEST_FRAME.match(line)]
    return "\n".join(lines).strip()


def _summarised(line: str) -> str:
    match = _VALUES.match(line)
    if not match or (len(line) <= VALUES_SHOWN and not _BINARY.search(line)):
        return line
    prefix, compared, suffix = match.groups()
    if _BINARY.search(compared):
        return f"{prefix}… binary bytes, not shown …{suffix}"
    sides = compared.split('" == "')
    if len(sides) != 2 or not (compared.startswith('"') and compared.endswith('"')):
        return f"{prefix}… {len(compared)} characters, not shown …{suffix}"
    left, right = sides[0][1:], sides[1][:-1]
    differ = next((i for i, (a, b) in enumerate(zip(left, right)) if a != b), min(len(left), len(right)))
    return (
        f"{prefix}<{len(left)} characters> == <{len(right)} characters>{suffix} — "
        f"first difference at character {differ}: {left[differ:differ + 16]!r} against {right[differ:differ + 16]!r}"
    )


def status_text(result: TestResult) -> str:
    # Status is a str Enum: f-strings of the member itself say "Status.PASSED".
    return result.status.value


# What the test printed is quoted: each of its lines starts with the bar,
# and none of the grader's lines does, so output that prints "left behind —
# …" or "Score: 100 / 100" reads as the test's, never as the grader's.
PRINTED = "the test printed:"


QUOTE = "  │ "


@dataclass(frozen=True)
class Feedback:
    """One test's feedback in its parts, every one already made safe to
    show (untrusted.escape_controls), so each medium can set what the test
    printed apart from what the grader says."""

    detail: str = ""  # the grader's sentence on what happened
    printed: str = ""  # what the test printed, doctest's frame removed: the submission's words
    hint: str = ""
    left_behind: tuple[str, ...] = ()  # the grader's findings, one sentence per leak


def feedback_parts(result: TestResult) -> Feedback:
    """Everything a student needs about one test: what happened, the
    evidence and the hint when it failed; what it left behind, always."""
    left_behind = tuple(escape_controls(f"{_left_behind(result)} — {leak.sentence()}") for leak in result.leaks)
    if result.passed:
        return Feedback(left_behind=left_behind)
    hints = [] if result.status in (Status.LAB_BROKEN, Status.SKIPPED) else result.spec.hints_for(result.observed)
    hint = "\n".join(f"hint: {h}" for h in hints)
    # Escaped before the frame is cut: both then see the same lines.
    printed = feedback_output(escape_controls(result.output))
    return Feedback(escape_controls(result.detail), printed, hint, left_behind)


def _left_behind(result: TestResult) -> str:
    if result.killed:
        return "left behind by processes killed at the test's deadline (no clean-up could run, so not deducted)"
    return "left behind"


def leak_feedback(result: TestResult) -> str:
    return "\n".join(feedback_parts(result).left_behind)


def feedback(result: TestResult) -> str:
    """One test's feedback as plain text (JSON, Gradescope, PrairieLearn)."""
    parts = feedback_parts(result)
    lines = [parts.detail] if parts.detail else []
    if parts.printed:
        lines += [PRINTED, *quoted(parts.printed)]
    lines += [parts.hint] if parts.hint else []
    return "\n".join([*lines, *parts.left_behind])


def quoted(printed: str) -> list[str]:
    return [(QUOTE + line).rstrip() for line in printed.splitlines()]


def not_graded_results(grade: Grade) -> list[TestResult]:
    """A submission that could not be graded still lists every test, at 0."""
    if grade.gradable:
        return grade.results
    return [
        TestResult(spec, Status.NOT_GRADED, 0.0, detail="the submission could not be graded: see why above")
        for spec in grade.lab.tests
    ]


def leak_kinds_text(grade: Grade) -> str:
    return escape_controls(", ".join(grade.leak_kinds))


HIDDEN_TESTS = "Hidden tests"


def public_results(grade: Grade) -> list[TestResult]:
    return [r for r in not_graded_results(grade) if not r.spec.hidden]


def hidden_summary(grade: Grade) -> str:
    """Hidden tests as one line: how many passed and their points, never a
    name, an output or a hint."""
    hidden = [r for r in not_graded_results(grade) if r.spec.hidden]
    passed = sum(r.passed for r in hidden)
    points = sum(r.score for r in hidden)
    return (
        f"{HIDDEN_TESTS}: {passed} of {len(hidden)} passed, {points:g} / {sum(r.spec.points for r in hidden):g} "
        "points; their names and output are not shown"
    )


def public_leak_findings(grade: Grade) -> list[str]:
    """What the deduction was for, by test for the public tests; the hidden
    tests' findings only counted (an object's name can tell what a test did).
    A killed run's leaks are excused, as in the deduction itself."""
    findings = [
        escape_controls(f"{r.spec.name}: {leak.sentence()}")
        for r in grade.results
        if not r.spec.hidden
        for leak in r.charged_leaks
    ]
    in_hidden = sum(len(r.charged_leaks) for r in grade.results if r.spec.hidden)
    return findings + ([f"and {in_hidden} finding(s) in hidden tests"] if in_hidden else [])
