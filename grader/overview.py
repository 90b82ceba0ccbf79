"""Overview: `./grade` with no arguments, a newcomer's first command.

Every lab's reference and skeleton are graded, and one table says where each
lab stands, in under a screen; `./grade --details` adds each grade's full
report. The table's figures are read from the grades, and a lab is healthy
by the same rule that sets the exit code (problems() below), so the table
and the exit status can never disagree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.grading import pipeline
from grader.reports import terminal
from grader.grading.lab import Lab
from grader.grading.sandbox import Sandbox
from grader.grading.score import Grade

# The one line under the table: where to go from here.
MORE = "more: ./grade --details (every grade in full) · ./grade LAB · ./grade --help"


@dataclass(frozen=True)
class Standing:
    """One lab: its reference's grade, its skeleton's, and the wall time of
    both with the reference's build (a cold build is most of it)."""

    reference: Grade
    skeleton: Grade
    seconds: float

    @property
    def lab(self) -> Lab:
        return self.reference.lab

    @property
    def healthy(self) -> bool:
        return not problems(self.reference, self.skeleton)


def problems(reference: Grade, skeleton: Grade) -> list[str]:
    """What is wrong with a lab, in a few words each (they share a table
    cell with the other labs' rows, on one screen): the reference must
    score full marks and fail none of its own tests, the skeleton must
    score nothing. Empty: the lab is fit for students."""
    found = []
    if not reference.gradable:
        found.append("reference does not build")
    elif reference.broken_tests:
        found.append(f"reference fails {_tests(len(reference.broken_tests))}")
    elif reference.score < reference.max_score:
        found.append(f"reference loses {reference.max_score - reference.score:g}{_leaking(reference)}")
    if skeleton.score > 0:
        found.append(f"skeleton scores {skeleton.score:g}")
    return found


def grade_labs(labs: list[Lab], box: Sandbox, console: Console, jobs: int = 1) -> list[Standing]:
    """Builds each lab's reference once, then grades it and the skeleton,
    `jobs` tests at once."""
    standings = []
    for lab in labs:
        started = time.monotonic()
        with console.status(f"{lab.name}: building the reference …"):
            reference = pipeline.prepare_reference(lab, box)
        grades = {}
        for side, directory in (("reference", lab.solution_directory), ("skeleton", lab.directory)):
            with console.status(f"{lab.name}: grading the {side} …"):
                grades[side] = pipeline.grade(lab, directory, side, reference, box, jobs)
        standings.append(Standing(grades["reference"], grades["skeleton"], time.monotonic() - started))
    return standings


def print_details(standings: list[Standing], console: Console) -> None:
    """`./grade --details`: each lab's two grades in full, before the table."""
    for standing in standings:
        for grade in (standing.reference, standing.skeleton):
            terminal.print_grade(grade, console)
            console.print()


def print_table(standings: list[Standing], console: Console) -> None:
    """One row per lab, then the isolation in force and where to go next:
    15 lines for the seven labs, within 80 columns while the verdicts are short."""
    table = Table(title="IPC Labs: each lab's reference and skeleton, graded", title_justify="left")
    for column, justify in (
        ("lab", "left"),
        ("reference", "right"),
        ("skeleton", "right"),
        ("public", "right"),
        ("hidden", "right"),
        ("verdict", "left"),
        ("time", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for standing in standings:
        hidden = sum(t.hidden for t in standing.lab.tests)
        table.add_row(
            standing.lab.name,
            score_text(standing.reference),
            score_text(standing.skeleton),
            str(len(standing.lab.tests) - hidden),
            str(hidden),
            _standing_text(standing),
            f"{standing.seconds:.0f} s",
        )
    console.print(table)
    if standings:
        console.print(f"isolation: {standings[0].reference.isolation}")
    console.print(MORE)


def score_text(grade: Grade) -> str:
    if not grade.gradable:
        return "does not build"
    return f"{grade.score:g}/{grade.max_score:g}"


def _standing_text(standing: Standing) -> Text:
    found = problems(standing.reference, standing.skeleton)
    if not found:
        return Text("healthy", style="green")
    return Text("; ".join(found), style="bold red")


def _tests(count: int) -> str:
    return f"{count} test" + ("" if count == 1 else "s")


def _leaking(grade: Grade) -> str:
    return f" for leaks ({', '.join(grade.leak_kinds)})" if grade.leak_deduction else ""
