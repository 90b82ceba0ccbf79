"""The corpus checker itself: it notices a bug that does not fail what it
claims, and an edit that no longer matches the reference. Every lab's corpus
is graded by ./grade selfcheck, which test_selfcheck.py runs."""

from __future__ import annotations

import pytest

from grader.checks import corpus
from grader.grading import pipeline
from grader.errors import GraderError
from grader.grading.lab import available_labs, load_lab
from grader.grading.run import Status
from grader.grading.score import TestResult


# Every bug of every corpus, a test each, so that parallel workers share
# them out (./grade selfcheck grades the same, a lab at a time); the
# course's later labs, whose bugs take longest, first.
BUGS = [(lab, bug.name) for lab in available_labs()[::-1] for bug in corpus.load_bugs(load_lab(lab))]
_REFERENCES: dict[str, pipeline.Reference] = {}  # one build and listing per lab and worker
# A bug that fails many tests spends most of its time waiting for their
# deadlines (a deadlock, a hang), not on the CPU: its tests run side by side.
MANY_FAILURES, JOBS_FOR_MANY = 5, 3


@pytest.mark.long
@pytest.mark.parametrize("lab_name, bug_name", BUGS, ids=[f"{lab}-{bug}" for lab, bug in BUGS])
def test_every_bug_fails_exactly_its_tests(lab_name: str, bug_name: str, box, tmp_path) -> None:
    lab = load_lab(lab_name)
    bug = next(b for b in corpus.load_bugs(lab) if b.name == bug_name)
    if lab_name not in _REFERENCES:
        _REFERENCES[lab_name] = pipeline.prepare_reference(lab, box)
    submission = corpus.materialize(lab, bug, tmp_path)
    jobs = JOBS_FOR_MANY if len(bug.fails) >= MANY_FAILURES else 1
    verdict = corpus.check_bug(lab, bug, submission, _REFERENCES[lab_name], box, jobs)
    assert verdict.ok, verdict.problems()


def test_a_wrong_expectation_is_caught(box, tmp_path) -> None:
    lab = load_lab("pipe")
    bug = next(b for b in corpus.load_bugs(lab) if b.name == "exec_failure_exits_1")
    claimed = corpus.Bug(bug.name, bug.description, frozenset({lab.tests[0].name}), {}, bug.changes)
    submission = corpus.materialize(lab, claimed, tmp_path)
    verdict = corpus.check_bug(lab, claimed, submission, pipeline.prepare_reference(lab, box), box)
    assert not verdict.ok
    assert verdict.should_fail_but_passed == [lab.tests[0].name]
    assert any("127" in line for line in verdict.should_pass_but_failed)


def test_an_edit_that_no_longer_matches_the_reference_is_refused(tmp_path) -> None:
    lab = load_lab("pipe")
    stale = corpus.Bug("stale", "", frozenset(), {}, (corpus.Change("pipe_lab.cpp", "no such text", "x"),))
    with pytest.raises(GraderError) as error:
        corpus.materialize(lab, stale, tmp_path)
    assert "matches the reference 0 times" in error.value.message


def test_a_test_that_should_pass_names_its_first_failed_check_and_what_it_logged() -> None:
    spec = load_lab("pipe").tests[0]
    output = "\n".join(
        [
            "public_test.cpp:226: ERROR: CHECK( others.empty() ) is NOT correct!",
            "  values: CHECK( false )",
            "  logged: also found: /dev/shm/sem.qxnv0t",
            "public_test.cpp:229: ERROR: CHECK( run.status == kOk ) is NOT correct!",
        ]
    )
    result = TestResult(spec, Status.FAILED, 0.0, detail="failed; the checks that did not hold:", output=output)
    evidence = corpus.first_evidence(result)
    assert evidence.startswith("failed; the checks that did not hold:")
    assert "CHECK( others.empty() )" in evidence and "/dev/shm/sem.qxnv0t" in evidence
    assert "run.status" not in evidence  # the first check only
