"""The corpus checker itself: it notices a bug that does not fail what it
claims, and an edit that no longer matches the reference. Every lab's corpus
is graded by ./grade selfcheck, which test_selfcheck.py runs."""

from __future__ import annotations

import pytest

from grader import corpus, pipeline
from grader.errors import GraderError
from grader.lab import load_lab


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
