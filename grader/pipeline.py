"""The grader as an ordered list of small stages:

    stage ─► build ─► list tests ─► run each test alone, sandboxed ─► score ─► report

Ordering rules: the reference is built before the submission, so a broken lab
is found before a student is charged; tests run in lab.toml order, so a
prerequisite has its verdict before the tests that depend on it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import build, lab as labs, run, stage
from grader.errors import GraderError
from grader.lab import Lab
from grader.run import TestRun
from grader.sandbox import Sandbox
from grader.score import Grade, TestResult, score_run, skipped_because


@dataclass
class Reference:
    """The lab's reference build, whose runs are made only when needed: a
    test the submission passes never needs the reference's verdict."""

    lab: Lab
    sandbox: Sandbox
    binary: Path | None
    runs: dict[str, TestRun] = field(default_factory=dict)
    # Batch grading asks from several threads at once: each test's reference
    # run is made once, while other tests' runs go ahead.
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)

    def run(self, name: str) -> TestRun | None:
        if self.binary is None:
            return None  # a starter pack: no reference to compare with
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self.runs:
                self.runs[name] = run.run_test(self.sandbox, self.binary, name, self.lab.timeout_of(self.lab.test(name)))
            return self.runs[name]


def prepare_reference(lab: Lab, sandbox: Sandbox) -> Reference:
    if not lab.has_solution:
        return Reference(lab, sandbox.with_limits(lab.limits), None)
    result = build.build(f"//solutions/{lab.name}:reference_tests")
    if not result.ok:
        raise GraderError(f"lab {lab.name!r} is broken: its reference does not build:\n{result.diagnostics}")
    binary = labs.REPO / "bazel-bin" / "solutions" / lab.name / "reference_tests"
    limited = sandbox.with_limits(lab.limits)
    try:
        listed = run.list_tests(limited, binary)
    except run.ListingFailed as e:
        raise GraderError(f"lab {lab.name!r} is broken: its reference tests did not list their test cases: {e.detail}") from e
    labs.check_against_binary(lab, listed)
    return Reference(lab, limited, binary)


def grade(lab: Lab, submission: Path, label: str, reference: Reference, sandbox: Sandbox) -> Grade:
    started = time.monotonic()
    isolation = "bubblewrap" if sandbox.isolated else f"reduced: {sandbox.reason}"
    verdict = Grade(lab=lab, label=label, isolation=isolation)
    staged = stage.stage(lab, submission, stage.slot_name(label))
    try:
        return _finished(_build_and_run(lab, staged, submission, verdict, reference, sandbox), started)
    finally:
        # Bazel keeps what it compiled; the staged copy is no longer needed,
        # and the repository is left as it was.
        stage.unstage(staged)


def _build_and_run(
    lab: Lab, staged: stage.Staged, submission: Path, verdict: Grade, reference: Reference, sandbox: Sandbox
) -> Grade:
    if staged.missing:
        verdict.gradable = False
        verdict.diagnostics = (
            f"the submission lacks {', '.join(staged.missing)} "
            f"(expected in {submission}; lab {lab.name} grades the files {', '.join(lab.student_files)})"
        )
        return verdict
    # The student's build cannot see solutions/, so the tests must be built
    # already; after a change to the lab or the harness they may not be.
    tests = build.build(stage.tests_target(lab))
    if not tests.ok:
        raise GraderError(f"lab {lab.name!r} is broken: its tests do not build:\n{tests.diagnostics}")
    with stage.slots_fixed():  # what it hides stays there until Bazel is done
        built = build.build(staged.target, hide=stage.hidden_from(staged))
    if not built.ok:
        verdict.gradable = False
        verdict.diagnostics = built.diagnostics or "the build failed without a message from the compiler"
        return verdict
    try:
        listed = run.list_tests(sandbox.with_limits(lab.limits), staged.binary)
    except run.ListingFailed as e:
        verdict.gradable = False
        verdict.diagnostics = _before_main(e)
        return verdict
    labs.check_against_binary(lab, listed)
    results: dict[str, TestResult] = {}
    for spec in lab.tests:
        if spec.name not in listed:
            continue  # a hidden test, in a starter pack
        reason = skipped_because(spec, results)
        if reason:
            results[spec.name] = TestResult(spec, run.Status.SKIPPED, 0.0, detail=reason)
            continue
        test_run = run.run_test(sandbox.with_limits(lab.limits), staged.binary, spec.name, lab.timeout_of(spec))
        reference_run = None if test_run.passed else reference.run(spec.name)
        results[spec.name] = score_run(spec, test_run, reference_run)
    verdict.results = list(results.values())
    return verdict


def _before_main(failure: run.ListingFailed) -> str:
    shown = failure.output.strip()[:600]
    return (
        f"the tests could not start: {failure.detail}. Code that runs before main, such as the "
        "constructor of a global object in your files, stopped the program before any test ran. "
        "Move that work into the functions the lab asks for."
        + (f"\nWhat the program printed:\n{shown}" if shown else "")
    )


def _finished(verdict: Grade, started: float) -> Grade:
    verdict.seconds = time.monotonic() - started
    return verdict
