"""./grade selfcheck: every lab passes it (this is where the suite grades each
lab's reference, skeleton and bug corpus), and each check fails when it should."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from grader import cli
from grader.checks import mutants, selfcheck
from grader.grading.lab import Lab, TestSpec, available_labs, load_lab
from grader.grading.run import Status
from grader.grading.score import Grade, TestResult
from grader.grading.sandbox import Isolation

SPECS = (
    TestSpec("reader sees EOF once every write end is closed", 6, "eof", "Close every write end."),
    TestSpec("reader blocks on an empty pipe", 4, "blocking", "Do not busy-wait."),
)
# A lab with no directory, no solutions/ and no handout.
NOWHERE = Lab(name="no-such-lab", title="Nowhere", student_files=("x.cpp",), timeout=10, tests=SPECS)


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


# One test a lab, so that parallel workers share the labs out; the bug
# corpus is left out here and graded a bug a test (test_corpus.py), which
# shares it out too. The course's later labs are bigger: started first.
@pytest.mark.long
@pytest.mark.parametrize("name", available_labs()[::-1])
def test_every_lab_is_fit_to_publish(name: str, capsys) -> None:
    status = cli.main(["selfcheck", name, "--skip", "bug corpus"])
    out = capsys.readouterr().out
    assert status == cli.Exit.OK, out
    # A lab not yet mutation-analysed says so, and is left out like --skip.
    left_out = ["bug corpus"] + ([] if mutants.equivalents_file(load_lab(name)).exists() else ["mutants"])
    assert f"Every check run passed; {', '.join(left_out)} left out" in out
    # Each check's row says ok (the details may quote a header that says "failed").
    rows = [line for line in out.splitlines() if line.startswith(f"│ {name}")]
    assert len(rows) == len(selfcheck.STEPS), out
    assert sum("│ ok " in row for row in rows) == len(selfcheck.STEPS) - len(left_out), out


def test_a_skipped_check_is_shown_and_is_not_a_pass_to_publish() -> None:
    console = Console(file=io.StringIO(), width=200, record=True)
    checks = [
        selfcheck.Check("pipe", "reference", selfcheck.CheckState.OK, "100/100"),
        selfcheck.Check("pipe", "bug corpus", selfcheck.CheckState.SKIPPED, "left out (--skip)"),
    ]
    selfcheck.print_table(checks, console)
    text = console.export_text()
    assert "skipped" in text and "bug corpus left out: not yet fit to publish" in text
    assert "ready to publish" not in text


def grade(*results: TestResult, gradable: bool = True) -> Grade:
    return Grade(
        NOWHERE, "x", Isolation(True), gradable=gradable, diagnostics="x.cpp:1: error: nope", results=list(results)
    )


def test_a_reference_that_fails_a_test_is_named() -> None:
    assert selfcheck.reference_check(
        grade(TestResult(SPECS[0], Status.PASSED, 6), TestResult(SPECS[1], Status.PASSED, 4))
    )
    with pytest.raises(selfcheck.Failed) as failed:
        selfcheck.reference_check(
            grade(TestResult(SPECS[0], Status.PASSED, 6), TestResult(SPECS[1], Status.TIMED_OUT, 0))
        )
    assert "scores 6/10" in str(failed.value) and "reader blocks on an empty pipe (timed out)" in str(failed.value)
    with pytest.raises(selfcheck.Failed, match="does not build"):
        selfcheck.reference_check(grade(gradable=False))


def test_a_skeleton_that_scores_is_named() -> None:
    zero = (TestResult(SPECS[0], Status.FAILED, 0), TestResult(SPECS[1], Status.FAILED, 0))
    assert "0/10 on all 2 tests" in selfcheck.skeleton_check(grade(*zero))
    with pytest.raises(selfcheck.Failed) as failed:
        selfcheck.skeleton_check(grade(zero[0], TestResult(SPECS[1], Status.PASSED, 4)))
    assert "reader blocks on an empty pipe (4 points)" in str(failed.value)
    with pytest.raises(selfcheck.Failed, match="did not run"):
        selfcheck.skeleton_check(grade(zero[0]))
    with pytest.raises(selfcheck.Failed, match="students could not start"):
        selfcheck.skeleton_check(grade(gradable=False))


def test_a_lab_without_solutions_or_handout_fails_and_later_checks_say_why_they_did_not_run(box) -> None:
    checks = {c.name: c for c in selfcheck.check_lab(NOWHERE, box, quiet())}
    assert list(checks) == [name for name, _, _ in selfcheck.STEPS]
    assert (
        checks["lab.toml"].state == "failed" and "solutions/no-such-lab/BUILD is missing" in checks["lab.toml"].detail
    )
    for name in ("reference", "skeleton", "bug corpus", "hidden tests"):
        assert checks[name].state == "not run"
    assert checks["handout"].state == "failed" and "does not exist" in checks["handout"].detail
    assert checks["starter pack"].state == "not run"


def test_a_lab_without_hidden_tests_fails_the_check() -> None:
    ctx = selfcheck.Context(NOWHERE, sandbox=None)  # type: ignore[arg-type]
    with pytest.raises(selfcheck.Failed, match="no test in lab.toml has hidden = true"):
        selfcheck.hidden_tests(ctx)


def test_a_hidden_test_whose_source_is_public_fails_the_check() -> None:
    hidden = TestSpec("a hidden one", 3, "stress", "h", hidden=True)
    lab = Lab(name="demo", title="d", student_files=("x.cpp",), timeout=10, tests=(*SPECS, hidden))
    ctx = selfcheck.Context(lab, sandbox=None, listed={"a hidden one": False})  # type: ignore[arg-type]
    with pytest.raises(selfcheck.Failed, match="not in solutions/demo/"):
        selfcheck.hidden_tests(ctx)


def test_the_table_counts_what_did_not_pass() -> None:
    console = Console(file=io.StringIO(), width=200, record=True)
    checks = [
        selfcheck.Check("pipe", "reference", selfcheck.CheckState.OK, "100/100"),
        selfcheck.Check("pipe", "skeleton", selfcheck.CheckState.FAILED, "scores"),
    ]
    selfcheck.print_table(checks, console)
    assert "1 of 2 checks did not pass" in console.export_text()
