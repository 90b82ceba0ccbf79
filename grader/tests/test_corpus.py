"""The bug corpus is graded: every bug fails exactly the tests it names, and
the corpus checker itself notices a bug that does not."""

from __future__ import annotations

import pytest

from grader import corpus, pipeline
from grader.errors import GraderError
from grader.lab import available_labs, load_lab


@pytest.mark.parametrize("name", available_labs())
def test_every_bug_fails_exactly_its_tests(name: str, box) -> None:
    lab = load_lab(name)
    verdicts = corpus.check_lab(lab, box)
    assert len(verdicts) >= 6, f"{name}: the corpus needs at least six bugs"
    problems = {v.bug.name: v.problems() for v in verdicts if not v.ok}
    assert problems == {}


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
