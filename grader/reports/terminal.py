"""A grade, a corpus and a batch as rich tables in the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.grading.run import Status
from grader.grading.score import Grade
from grader.reports.untrusted import terminal_text
from grader.reports.feedback import Feedback, PRINTED, QUOTE, leak_kinds_text, feedback_parts, status_text


# Lines of a failing test's output shown in the terminal (all of it goes to JSON).
TERMINAL_OUTPUT_LINES = 25


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
    for column, justify in (
        ("#", "right"),
        ("test", "left"),
        ("category", "left"),
        ("points", "right"),
        ("status", "left"),
        ("time", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for index, r in enumerate(grade.results, start=1):
        name = r.spec.name + (" (hidden)" if r.spec.hidden else "")
        table.add_row(
            str(index),
            name,
            r.spec.category,
            f"{r.score:g}/{r.spec.points:g}",
            Text(status_text(r), style=_STYLE.get(r.status, "red")),
            f"{r.seconds:.2f}s",
        )
    console.print(table)
    for r in grade.results:
        if r.passed and not r.leaks:
            continue
        mark, style = ("⚠", "bold yellow") if r.passed or r.status is Status.LAB_BROKEN else ("✗", "bold red")
        console.print(Text(f"{mark} {r.spec.name}", style=style))
        _print_feedback(feedback_parts(r), console)
    if grade.broken_tests:
        console.print(
            Text(
                f"The lab is broken: the reference fails {len(grade.broken_tests)} test(s); "
                "they were not charged. Tell your instructor.",
                style="bold yellow",
            )
        )
    if grade.leak_deduction:
        console.print(
            Text(
                f"Leaks: {grade.leak_deduction:g} points off for {leak_kinds_text(grade)} " "(lab.toml [leaks])",
                style="bold yellow",
            )
        )
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
            console.print(
                Text(f"{title} ({len(names)}): ", style="bold") + terminal_text(", ".join(names[:shown]) + more)
            )
