"""Report: one Grade, shown to people (a terminal table with feedback; a
Markdown feedback file) or to machines (JSON; the results files of
Gradescope and PrairieLearn; Autolab's autoresult line). Machine reports
carry a format version where the format allows one, and are written
atomically."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.grading.run import Status
from grader.grading.lab import Lab
from grader.grading.score import Grade, TestResult
from grader.reports.untrusted import escape_controls, markdown_code_block, markdown_literal, terminal_text
from grader.reports.version import grader_version

FORMAT_VERSION = 1
# Lines of a failing test's output shown in the terminal (all of it goes to JSON).
TERMINAL_OUTPUT_LINES = 25

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
    return (f"{prefix}<{len(left)} characters> == <{len(right)} characters>{suffix} — "
            f"first difference at character {differ}: {left[differ:differ + 16]!r} against {right[differ:differ + 16]!r}")  # fmt: skip


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
    return [TestResult(spec, Status.NOT_GRADED, 0.0, detail="the submission could not be graded: see why above") for spec in grade.lab.tests]


# ---- machines -----------------------------------------------------------


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
                "leaks": [{k: escape_controls(v) for k, v in (("kind", x.kind), ("object", x.object), ("fix", x.fix))}
                          for x in r.leaks],  # fmt: skip
            }
            for r in not_graded_results(grade)
        ],
    }


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
        lines = [f"{grade.lab.name}: {earned:g} / {sum(r.spec.points for r in shown):g} "
                 "on the tests shown now; the other tests are shown when your instructor releases them"]  # fmt: skip
    if not grade.isolation.full:
        lines.append(f"Tests ran in reduced isolation: {escape_controls(grade.isolation.reason)}")
    if not grade.gradable:
        lines += ["", "Your submission could not be graded:", escape_controls(grade.diagnostics)]
    return "\n".join(lines)


def _leak_entry(grade: Grade, number: int) -> dict[str, Any]:
    """The leak deduction as an entry of its own, so tests still add up.
    Findings are named by test, except a secret test's: those are counted,
    never named nor described (what a hidden test creates tells what it does)."""
    findings = [escape_controls(f"{r.spec.name}: {leak.sentence()}")
                for r in grade.results if not r.spec.secret for leak in r.charged_leaks]  # fmt: skip
    unnamed = sum(len(r.charged_leaks) for r in grade.results if r.spec.secret)
    if unnamed:
        findings.append(f"and {unnamed} finding(s) in tests not shown yet: see those tests when they are")
    return {
        "name": "Cleanup: what the tests left behind",
        "number": str(number),
        "score": -grade.leak_deduction,
        "max_score": 0,
        "status": "failed",
        "output": f"{grade.leak_deduction:g} points off for {_leak_kinds(grade)}:\n" + "\n".join(findings),
        **GRADESCOPE_PLAIN_TEST,
        "tags": ["cleanup"],
        "visibility": "visible",
    }


def _leak_kinds(grade: Grade) -> str:
    return escape_controls(", ".join(grade.leak_kinds))


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is for others to read
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


# PrairieLearn takes results.json files up to 1 MB ("this file should be
# limited to 1 MB", its external grading documentation); the margin leaves
# room for what truncation notes add.
PRAIRIELEARN_LIMIT = 1_000_000
PRAIRIELEARN_BUDGET = 950_000
HIDDEN_TESTS = "Hidden tests"


def public_results(grade: Grade) -> list[TestResult]:
    return [r for r in not_graded_results(grade) if not r.spec.hidden]


def hidden_summary(grade: Grade) -> str:
    """Hidden tests as one line: how many passed and their points, never a
    name, an output or a hint."""
    hidden = [r for r in not_graded_results(grade) if r.spec.hidden]
    passed = sum(r.passed for r in hidden)
    points = sum(r.score for r in hidden)
    return (f"{HIDDEN_TESTS}: {passed} of {len(hidden)} passed, {points:g} / {sum(r.spec.points for r in hidden):g} "
            "points; their names and output are not shown")  # fmt: skip


def public_leak_findings(grade: Grade) -> list[str]:
    """What the deduction was for, by test for the public tests; the hidden
    tests' findings only counted (an object's name can tell what a test did).
    A killed run's leaks are excused, as in the deduction itself."""
    findings = [escape_controls(f"{r.spec.name}: {leak.sentence()}") for r in grade.results if not r.spec.hidden
                for leak in r.charged_leaks]  # fmt: skip
    in_hidden = sum(len(r.charged_leaks) for r in grade.results if r.spec.hidden)
    return findings + ([f"and {in_hidden} finding(s) in hidden tests"] if in_hidden else [])


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
        tests.append({"name": HIDDEN_TESTS, "description": f"{len(hidden)} tests run on your submission",
                      "points": sum(r.score for r in hidden), "max_points": sum(r.spec.points for r in hidden),
                      "message": hidden_summary(grade), "output": ""})  # fmt: skip
    if grade.leak_deduction:
        output = f"{grade.leak_deduction:g} points off for {_leak_kinds(grade)}:\n" + "\n".join(public_leak_findings(grade))
        tests.append({"name": "Cleanup: what the tests left behind", "description": "cleanup",
                      "points": -grade.leak_deduction, "max_points": 0, "message": "leaks", "output": output})  # fmt: skip
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
        lines.append(f"Leaks: {grade.leak_deduction:g} points off for {_leak_kinds(grade)} (lab.toml [leaks])")
        lines += [f"    {finding}" for finding in public_leak_findings(grade)]
    lines.append(f"Score: {grade.score:g} / {grade.max_score:g}")
    return "\n".join(lines) + "\n"


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


def with_leaderboard(results: dict[str, Any], board: Sequence[Any]) -> dict[str, Any]:
    """Gradescope's results.json "leaderboard": a list of {name, value} and,
    where smaller is better, "order": "asc" (the autograder specification's
    leaderboard entries; the score is untouched)."""
    if board:
        results["leaderboard"] = [{"name": e.name, "value": e.value, **({"order": "asc"} if e.ascending else {})}
                                  for e in board]  # fmt: skip
    return results


def with_scoreboard(result: dict[str, Any], board: Sequence[Any]) -> dict[str, Any]:
    """Autolab's scoreboard is one array, columns named in the assessment's
    scoreboard spec: the benchmark's figures come after the scores, in
    bench.scoreboard order."""
    result["scoreboard"] = [*result["scoreboard"], *(e.value for e in board)]
    return result


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


# ---- people -------------------------------------------------------------

_STYLE = {Status.PASSED: "green", Status.LAB_BROKEN: "yellow", Status.SKIPPED: "dim"}


def print_grade(grade: Grade, console: Console) -> None:
    # One line, cut at the terminal's width: the label (a folder's name) cannot start a line of its own.
    header = Text(f"{grade.lab.name} — {grade.lab.title}", style="bold") + terminal_text(f"   ({grade.label})")
    console.print(header, no_wrap=True, overflow="ellipsis")
    if not grade.isolation.full:
        console.print(Text(f"reduced isolation — {grade.isolation.reason}", style="yellow"))
    if not grade.gradable:
        console.print(Text("Not gradable (score 0). Why:", style="bold red"))
        console.print(terminal_text(grade.diagnostics))
        console.print(Text(f"Score: 0 / {grade.max_score:g}", style="bold"))
        return
    table = Table(show_lines=False, pad_edge=False)
    for column, justify in (("#", "right"), ("test", "left"), ("category", "left"), ("points", "right"),
                            ("status", "left"), ("time", "right")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for index, r in enumerate(grade.results, start=1):
        name = r.spec.name + (" (hidden)" if r.spec.hidden else "")
        table.add_row(str(index), name, r.spec.category, f"{r.score:g}/{r.spec.points:g}",
                      Text(status_text(r), style=_STYLE.get(r.status, "red")), f"{r.seconds:.2f}s")  # fmt: skip
    console.print(table)
    for r in grade.results:
        if r.passed and not r.leaks:
            continue
        mark, style = ("⚠", "bold yellow") if r.passed or r.status is Status.LAB_BROKEN else ("✗", "bold red")
        console.print(Text(f"{mark} {r.spec.name}", style=style))
        _print_feedback(feedback_parts(r), console)
    if grade.broken_tests:
        console.print(Text(f"The lab is broken: the reference fails {len(grade.broken_tests)} test(s); "
                           "they were not charged. Tell your instructor.", style="bold yellow"))  # fmt: skip
    if grade.leak_deduction:
        console.print(Text(f"Leaks: {grade.leak_deduction:g} points off for {_leak_kinds(grade)} "
                           "(lab.toml [leaks])", style="bold yellow"))  # fmt: skip
    console.print(Text(f"Score: {grade.score:g} / {grade.max_score:g}", style="bold"))


def _print_feedback(parts: Feedback, console: Console) -> None:
    """One test's feedback, indented under its name; what the test printed
    is quoted line by line, so that no line of it starts where the grader's
    lines start."""
    indent, quote = Text("    "), Text("  " + QUOTE, style="dim")
    _print_wrapped(parts.detail, indent, console)
    printed = parts.printed.splitlines()
    if printed:
        _print_wrapped(PRINTED, indent, console)
    _print_wrapped("\n".join(printed[:TERMINAL_OUTPUT_LINES]), quote, console)
    if len(printed) > TERMINAL_OUTPUT_LINES:
        _print_wrapped(f"... ({len(printed) - TERMINAL_OUTPUT_LINES} more lines in --format json)", indent, console)
    _print_wrapped("\n".join([parts.hint, *parts.left_behind] if parts.hint else parts.left_behind), indent, console)


def _print_wrapped(text: str, prefix: Text, console: Console) -> None:
    """Each line of text after prefix; a line too long for the terminal goes
    on over lines that start with the same prefix, never at the margin (where
    rich's own wrapping would put it, and where the grader's lines start)."""
    width = max(20, console.width - prefix.cell_len)
    for line in text.splitlines():
        piece_of_line = Text(line)
        piece_of_line.expand_tabs()  # a tab counted as one cell would push the line past the width
        for piece in piece_of_line.wrap(console, width, overflow="fold") or [Text("")]:
            console.print(prefix + piece, no_wrap=True, crop=True)


def print_corpus(verdicts: list, console: Console) -> None:
    """`./grade corpus`: one row per bug, with what it was expected to fail."""
    table = Table(title="Bug corpus: each bug must fail exactly its tests")
    for column in ("lab", "bug", "score", "fails", "leaks", "verdict"):
        table.add_column(column)
    for lab, verdict in verdicts:
        failed = [r for r in verdict.grade.results if not r.passed]
        table.add_row(
            lab.name,
            verdict.bug.name,
            f"{verdict.grade.score:g}/{verdict.grade.max_score:g}",
            f"{len(failed)} tests" if verdict.grade.gradable else "does not build",
            terminal_text(", ".join(verdict.grade.leak_kinds)),
            Text("as expected", style="green") if verdict.ok else terminal_text(verdict.problems(), style="red"),
        )
    console.print(table)


def print_batch(summary: dict[str, Any], console: Console, shown: int = 15) -> None:
    """`./grade batch`: the class at a glance, and who needs a look."""
    table = Table(title=f"{summary['lab']}: {summary['students']} students", show_header=False)
    table.add_column(justify="right")
    table.add_column()
    table.add_row("graded", str(summary["graded"]))
    table.add_row("not gradable", str(summary["not_gradable"]))
    if summary["grader_errors"]:
        table.add_row(Text("grader errors", style="red"), str(summary["grader_errors"]))
    table.add_row("mean", f"{summary['mean']:g} / {summary['max_score']:g}")
    table.add_row("median", f"{summary['median']:g} / {summary['max_score']:g}")
    widest = max(summary["distribution"].values(), default=0) or 1
    for bucket, count in summary["distribution"].items():
        table.add_row(f"{bucket} %", "█" * round(30 * count / widest) + f" {count}")
    console.print(table)
    for title, names in (("did not compile", summary["build_errors"]), ("timed out", list(summary["timeouts"]))):
        if names:
            more = f" … and {len(names) - shown} more (summary.json)" if len(names) > shown else ""
            # Student names are folder and file names from the submissions.
            console.print(Text(f"{title} ({len(names)}): ", style="bold") + terminal_text(", ".join(names[:shown]) + more))
