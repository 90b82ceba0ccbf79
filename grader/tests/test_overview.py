"""`./grade` with no arguments: one table of the labs that fits a screen,
whose figures are the grades' own; `./grade --details` adds each grade."""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.console import Console

from grader import cli, overview
from grader.grading import pipeline
from grader.grading.lab import available_labs, load_lab
from grader.grading.run import Leak, Status
from grader.grading.score import Grade, TestResult
from grader.grading.sandbox import Isolation

# Module-scoped fixtures grade once per worker: keep this module on one (./test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("overview")


SCREEN_LINES = 24  # the smallest terminal anyone uses: 80 × 24


@pytest.fixture(scope="module")
def graded_overview():
    """./grade run once on every lab, with the grades it made kept aside,
    to hold the table against."""
    grades: dict[tuple[str, str], Grade] = {}
    real_grade = pipeline.grade

    def recording(lab, submission, label, reference, box, jobs=1):
        grades[lab.name, label] = real_grade(lab, submission, label, reference, box, jobs)
        return grades[lab.name, label]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "grade", recording)
        patch.setattr(cli, "_width", lambda: 80)  # as on the smallest terminal
        out = io.StringIO()
        patch.setattr("sys.stdout", out)
        status = cli.main([])
    return status, out.getvalue(), grades


def rows_of(out: str) -> dict[str, list[str]]:
    """The table's rows by lab: their cells, stripped."""
    rows = {}
    for line in out.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells[0] in available_labs():
            rows[cells[0]] = cells
    return rows


@pytest.mark.long
def test_every_bundled_lab_is_healthy(graded_overview) -> None:
    status, out, _ = graded_overview
    assert status == cli.Exit.OK, out
    for name, (_, reference, skeleton, *_, verdict, _) in rows_of(out).items():
        full = load_lab(name).max_score
        assert (reference, skeleton, verdict) == (f"{full:g}/{full:g}", f"0/{full:g}", "healthy"), out


@pytest.mark.long
def test_the_overview_fits_one_screen(graded_overview) -> None:
    _, out, _ = graded_overview
    assert len(out.splitlines()) <= SCREEN_LINES - 2, out  # the prompt, and the command typed
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "./grade --details" in out.splitlines()[-1]


@pytest.mark.long
def test_the_overview_has_one_row_per_lab_with_its_grades(graded_overview) -> None:
    status, out, grades = graded_overview
    rows = rows_of(out)
    assert list(rows) == ["pipe", "fifo", "mq", "shm", "sem", "signals", "channels"], out  # the course's order
    for name, (_, reference, skeleton, public, hidden, verdict, seconds) in rows.items():
        lab = load_lab(name)
        assert reference == overview.score_text(grades[name, "reference"])
        assert skeleton == overview.score_text(grades[name, "skeleton"])
        assert (int(public), int(hidden)) == (sum(not t.hidden for t in lab.tests), sum(t.hidden for t in lab.tests))
        problems = overview.problems(grades[name, "reference"], grades[name, "skeleton"])
        assert verdict == ("healthy" if not problems else "; ".join(problems))
        assert seconds.endswith(" s")
    all_healthy = all("healthy" == cells[5] for cells in rows.values())
    assert status == (cli.Exit.OK if all_healthy else cli.Exit.LAB_BROKEN)


@pytest.mark.long
def test_the_overview_leaves_the_reports_to_details(graded_overview) -> None:
    _, out, _ = graded_overview
    assert "Score:" not in out and "hint:" not in out


def test_details_show_every_grade_in_full_before_the_table(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli, "available_labs", lambda: ["pipe"])  # one lab is enough to see the details
    cli.main(["--details"])
    out = capsys.readouterr().out
    pipe = load_lab("pipe")
    assert out.count("Score: ") == 2  # the reference's report, then the skeleton's
    assert out.index("Score: 100 / 100") < out.index("Score: 0 / 100") < out.index("IPC Labs:")
    assert all(test.name in out for test in pipe.tests)
    assert "hint: " + pipe.tests[0].hint.split()[0] in out  # the skeleton's failures carry their hints
    assert list(rows_of(out)) == ["pipe"]


# ---- the rule, on grades made up for it -----------------------------------

PIPE = load_lab("pipe")


def made_up(label: str, passed: int, leaks: tuple[Leak, ...] = (), gradable: bool = True, lab=PIPE) -> Grade:
    results = [
        TestResult(
            spec,
            Status.PASSED if i < passed else Status.FAILED,
            spec.points if i < passed else 0.0,
            leaks=list(leaks) if i == 0 else [],
        )
        for i, spec in enumerate(lab.tests)
    ]
    return Grade(
        lab=lab, label=label, isolation=Isolation(True), gradable=gradable, results=results if gradable else []
    )


def table_of(standings: list[overview.Standing]) -> str:
    console = Console(file=io.StringIO(), width=80, highlight=False, emoji=False)
    overview.print_table(standings, console)
    return console.file.getvalue()


def test_a_healthy_lab_says_so() -> None:
    standing = overview.Standing(made_up("reference", len(PIPE.tests)), made_up("skeleton", 0), 12.0)
    assert standing.healthy
    hidden = sum(t.hidden for t in PIPE.tests)
    expected = ["100/100", "0/100", str(len(PIPE.tests) - hidden), str(hidden), "healthy", "12 s"]
    assert rows_of(table_of([standing]))["pipe"][1:] == expected


def test_a_skeleton_that_scores_is_named_as_the_problem() -> None:
    standing = overview.Standing(made_up("reference", len(PIPE.tests)), made_up("skeleton", 1), 12.0)
    assert not standing.healthy
    assert f"skeleton scores {PIPE.tests[0].points:g}" in table_of([standing])


def test_a_reference_that_does_not_build_or_leaks_is_named_as_the_problem() -> None:
    broken = overview.Standing(made_up("reference", 0, gradable=False), made_up("skeleton", 0), 1.0)
    assert "does not build" in rows_of(table_of([broken]))["pipe"][1]
    assert overview.problems(broken.reference, broken.skeleton) == ["reference does not build"]
    deducting = dataclasses.replace(PIPE, leak_deduction=2.0, max_leak_deduction=6.0)
    leak = Leak("descriptor", "fd 7 (pipe)", "close(7)")
    leaking = made_up("reference", len(PIPE.tests), leaks=(leak,), lab=deducting)
    assert overview.problems(leaking, made_up("skeleton", 0)) == ["reference loses 2 for leaks (descriptor)"]


def test_seven_labs_fit_a_screen_even_when_every_one_is_broken() -> None:
    standings = [overview.Standing(made_up("reference", 3), made_up("skeleton", 2), 100.0)] * 7
    lines = table_of(standings).splitlines()
    assert len(lines) <= SCREEN_LINES - 2, "\n".join(lines)
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
