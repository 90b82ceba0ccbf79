"""Tests run in parallel (pipeline.run_tests): dependencies are honoured,
results keep lab.toml's order, and tests really overlap. The judge here is
a stand-in, so the scheduler is tested without building anything."""

from __future__ import annotations

import threading

import pytest

from grader.grading import build, pipeline, sandbox
from grader.errors import GraderError
from grader.grading.lab import TestSpec, load_lab
from grader.grading.run import Status
from grader.grading.score import TestResult


def spec(name: str, *depends: str) -> TestSpec:
    return TestSpec(name, 1.0, "basics", "", depends=depends)


class Recorder:
    """A judge that logs when each test starts and ends, and fails the
    tests named in `failing`."""

    def __init__(self, failing: set[str] = frozenset()) -> None:
        self.failing = failing
        self.events: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, test: TestSpec) -> TestResult:
        with self.lock:
            self.events.append(f"start {test.name}")
        status = Status.FAILED if test.name in self.failing else Status.PASSED
        with self.lock:
            self.events.append(f"end {test.name}")
        return TestResult(test, status, 0.0 if status is Status.FAILED else test.points)


def test_results_come_back_in_lab_order_whatever_finished_first() -> None:
    slow_started = threading.Event()
    release = threading.Event()

    def judge(test: TestSpec) -> TestResult:
        if test.name == "first":
            slow_started.set()
            assert release.wait(30), "the second test never ran beside the first"
        else:
            assert slow_started.wait(30)
            release.set()  # the second ends while the first still runs
        return TestResult(test, Status.PASSED, test.points)

    results = pipeline.run_tests([spec("first"), spec("second")], judge, jobs=2)
    assert [r.spec.name for r in results] == ["first", "second"]


def test_a_dependent_test_starts_only_after_its_prerequisite_ended() -> None:
    judge = Recorder()
    pipeline.run_tests([spec("base"), spec("other"), spec("built on base", "base")], judge, jobs=3)
    assert judge.events.index("end base") < judge.events.index("start built on base")


def test_a_test_whose_prerequisite_failed_is_skipped_and_never_run() -> None:
    judge = Recorder(failing={"base"})
    results = pipeline.run_tests([spec("base"), spec("built on base", "base"), spec("independent")], judge, jobs=2)
    by_name = {r.spec.name: r for r in results}
    assert by_name["built on base"].status is Status.SKIPPED
    assert "'base'" in by_name["built on base"].detail
    assert "start built on base" not in judge.events
    assert by_name["independent"].passed


def test_a_skip_makes_its_own_dependents_skipped_too() -> None:
    judge = Recorder(failing={"a"})
    results = pipeline.run_tests([spec("a"), spec("b", "a"), spec("c", "b")], judge, jobs=1)
    assert [r.status for r in results] == [Status.FAILED, Status.SKIPPED, Status.SKIPPED]


def test_one_job_runs_the_tests_one_after_another_in_order() -> None:
    judge = Recorder()
    pipeline.run_tests([spec("a"), spec("b"), spec("c")], judge, jobs=1)
    assert judge.events == ["start a", "end a", "start b", "end b", "start c", "end c"]


def test_a_dependency_on_a_test_that_is_not_there_is_ignored() -> None:
    # A starter pack lists no hidden tests; a public test may depend on one.
    results = pipeline.run_tests([spec("public", "hidden")], Recorder(), jobs=2)
    assert results[0].passed


def test_a_cycle_of_dependencies_is_a_clear_error_not_a_hang() -> None:
    with pytest.raises(GraderError, match="cycle"):
        pipeline.run_tests([spec("a", "b"), spec("b", "a")], Recorder(), jobs=2)


def _failing_build(failing: set[str]):
    def fake(*targets: str) -> build.BuildResult:
        broken = failing & set(targets)
        return build.BuildResult(ok=not broken, diagnostics=f"error in {sorted(broken)}" if broken else "")

    return fake


def test_a_reference_that_does_not_build_is_the_labs_fault_not_the_sandboxs(box, monkeypatch) -> None:
    monkeypatch.setattr(sandbox, "_programs", None)
    monkeypatch.setattr(sandbox, "_install", lambda: None)
    monkeypatch.setattr(build, "build", _failing_build({"//solutions/pipe:reference_tests"}))
    with pytest.raises(GraderError, match="lab 'pipe' is broken: its reference does not build"):
        pipeline.prepare_reference(load_lab("pipe"), box)


def test_sandbox_programs_that_do_not_build_are_named_as_what_failed(box, monkeypatch) -> None:
    monkeypatch.setattr(sandbox, "_programs", None)
    monkeypatch.setattr(sandbox, "_install", lambda: None)
    monkeypatch.setattr(build, "build", _failing_build({sandbox.PROGRAMS_TARGET}))
    with pytest.raises(GraderError, match="launcher and inspector do not build") as error:
        pipeline.prepare_reference(load_lab("pipe"), box)
    assert "reference" not in error.value.message
