"""The grader as an ordered list of small stages (STAGES below):

    stage ─► files present ─► compile (sandboxed, ours) and refuse ─► link (Bazel)
          ─► list tests ─► run each test alone, sandboxed, `jobs` at once, and score ─► unstage

Each stage is a function of the grade's shared state (`Grading`) that
returns why the submission cannot be graded, or None to go on; reports are
made from the Grade by the caller.

Ordering rules: the reference and the tests are built before the
submission, so a broken lab is found before a student is charged; the
objects are inspected (refuse) before Bazel links them, so nothing refused
ever runs; a test starts only when the tests it depends on have their
verdicts, and results are reported in lab.toml order; unstage comes last,
whatever happened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from grader.grading import build, compile as compiling, lab as labs, run, stage, symbols
from grader.errors import GraderError
from grader.grading.lab import Lab, TestSpec
from grader.grading.run import TestRun
from grader.grading.sandbox import PROGRAMS_TARGET, Sandbox, programs as sandbox_programs
from grader.grading.score import Grade, TestResult, score_run, skipped_because


@dataclass
class Reference:
    """The lab's reference build, whose runs are made only when needed: a
    test the submission passes never needs the reference's verdict."""

    lab: Lab
    sandbox: Sandbox
    binary: Path | None
    listed: dict[str, bool] = field(default_factory=dict)  # test case -> from a hidden source
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
                self.runs[name] = run.run_test(
                    self.sandbox, self.binary, name, self.lab.timeout_of(self.lab.test(name))
                )
            return self.runs[name]


def prepare_reference(lab: Lab, sandbox: Sandbox) -> Reference:
    """Builds the reference and the tests, before any submission: the tests'
    objects are what a submission's objects are checked against."""
    if not lab.has_solution:
        _build_with_programs(stage.tests_target(lab), f"lab {lab.name!r} is broken: its tests do not build")
        return Reference(lab, sandbox.with_limits(lab.limits), None)
    _build_with_programs(
        f"//solutions/{lab.name}:reference_tests", f"lab {lab.name!r} is broken: its reference does not build"
    )
    binary = labs.REPO / "bazel-bin" / "solutions" / lab.name / "reference_tests"
    limited = sandbox.with_limits(lab.limits)
    try:
        listed = run.list_tests(limited, binary)
    except run.ListingFailed as e:
        raise GraderError(
            f"lab {lab.name!r} is broken: its reference tests did not list their test cases: {e.detail}"
        ) from e
    labs.check_against_binary(lab, listed)
    return Reference(lab, limited, binary, listed)


def _build_with_programs(target: str, broken: str) -> None:
    """Builds `target` and the sandbox's programs in one Bazel command (each
    command has a fixed cost, even with nothing to do); when it fails, says
    which of the two failed."""
    result = build.build(target, PROGRAMS_TARGET)
    if not result.ok:
        sandbox_programs(already_built=False)  # raises if they are what failed
        raise GraderError(f"{broken}:\n{result.diagnostics}")
    sandbox_programs(already_built=True)


def compile_box(sandbox: Sandbox) -> compiling.Box:
    """Compiles are contained with the same primitives as the tests, so the
    test sandbox's detection holds for them too."""
    return compiling.Box(isolated=sandbox.isolated, drop_to_uid=sandbox.drop_to_uid, reason=sandbox.reason)


@dataclass
class Grading:
    """What the stages of one grade share: each stage reads it, adds what it
    made (the staged files, the linked binary, the listing) and returns why
    the submission cannot be graded, or None to go on."""

    lab: Lab
    submission: Path
    reference: Reference
    sandbox: Sandbox  # the test sandbox, with the lab's limits
    jobs: int
    grade: Grade
    staged: stage.Staged
    first_failure: bool = False  # skip the tests not yet started once one has failed
    listed: dict[str, bool] = field(default_factory=dict)


Stage = Callable[[Grading], str | None]


def grade(
    lab: Lab,
    submission: Path,
    label: str,
    reference: Reference,
    sandbox: Sandbox,
    jobs: int = 1,
    first_failure: bool = False,
) -> Grade:
    """The submission's grade, made by STAGES in order; `jobs` of its tests
    run at once. With `first_failure`, tests not yet started once one has
    failed are skipped: mutation analysis needs only to know that some test
    fails."""
    started = time.monotonic()
    staged = stage.stage(lab, submission, stage.slot_name(label))
    state = Grading(
        lab,
        submission,
        reference,
        sandbox.with_limits(lab.limits),
        jobs,
        Grade(lab=lab, label=label, isolation=sandbox.isolation),
        staged,
        first_failure,
    )
    try:
        for _, step in STAGES:
            why = step(state)
            if why is not None:
                state.grade.gradable = False
                state.grade.diagnostics = why
                break
        state.grade.seconds = time.monotonic() - started
        return state.grade
    finally:
        # Its files, objects and linked tests: nothing of it is left for a
        # later build or student to read.
        stage.unstage(staged)


def compile_staged(lab: Lab, staged: stage.Staged, sandbox: Sandbox, remember: bool = False) -> str:
    """Compiles the student's files, inspects the objects and places them
    for the link; '' when they may be linked, else why not (the student's
    verdict). No lock is held: compiles of many students run at once."""
    box, limits = compile_box(sandbox), compiling.Limits.of(lab)
    compiled = compiling.compile_files(lab, staged.files, staged.workspace, box, limits, remember=remember)
    if not compiled.ok:
        return compiled.diagnostics
    defined_by_tests = symbols.definitions_in(build.test_objects(lab))
    reasons = [
        r for path in compiled.objects for r in symbols.refusals(path, _source_of(path, staged), defined_by_tests)
    ]
    if reasons:
        return "the grader refuses to link your code with the tests:\n" + "\n".join(f"- {r}" for r in reasons)
    stage.place(staged, compiled.objects)
    return ""


def compile_first(lab: Lab, submissions: list[tuple[Path, str]], sandbox: Sandbox, jobs: int) -> None:
    """Compiles many submissions (directory, label) at once, `jobs` at a
    time, then links all that compiled in one Bazel command, every core
    busy; each one's grade() then takes its compile from memory and finds
    its link done. Whatever fails here is left for grade() to judge."""
    tests = build.build(stage.tests_target(lab))
    if not tests.ok:
        raise GraderError(f"lab {lab.name!r} is broken: its tests do not build:\n{tests.diagnostics}")

    def one(submission: Path, label: str) -> str:
        staged = stage.stage(lab, submission, stage.slot_name(label))
        try:
            if staged.missing or compile_staged(lab, staged, sandbox, remember=True):
                return ""
            return staged.target
        finally:
            staged.workspace.remove()  # the package stays, with its objects, for the link below

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="compile") as pool:
        targets = [t for t in pool.map(lambda s: one(*s), submissions) if t]
    build.build_all(targets)


def _source_of(path: Path, staged: stage.Staged) -> str:
    return next((n for n in staged.files if compiling.object_name(n) == path.name), path.name)


# ---- the stages, in order ---------------------------------------------------


def _files_present(state: Grading) -> str | None:
    if not state.staged.missing:
        return None
    return (
        f"the submission lacks {', '.join(state.staged.missing)} "
        f"(expected in {state.submission}; lab {state.lab.name} grades the files {', '.join(state.lab.student_files)})"
    )


def _compile_and_inspect(state: Grading) -> str | None:
    if not state.sandbox.isolated:
        state.grade.isolation = state.grade.isolation.weakened(
            "the compiler could read the host's files by absolute path"
        )
    # The tests were built with the reference (prepare_reference); if they
    # no longer build, the link below fails on them, a grader error.
    refused = compile_staged(state.lab, state.staged, state.sandbox)
    return build.trim_diagnostics(refused) if refused else None


def _link(state: Grading) -> str | None:
    linked = build.link(state.staged.target)
    if linked.ok:
        return None
    return "your files compiled, but do not link with the tests:\n" + (
        linked.diagnostics or "the linker failed without a message"
    )


def _list(state: Grading) -> str | None:
    try:
        state.listed = run.list_tests(state.sandbox, state.staged.binary)
    except run.ListingFailed as e:
        return _before_main(e)
    labs.check_against_binary(state.lab, state.listed)
    return None


def _run_and_score(state: Grading) -> str | None:
    tests = [spec for spec in state.lab.tests if spec.name in state.listed]  # hidden tests are not in a starter pack
    judge: Callable[[TestSpec], TestResult] = lambda spec: _judge(state, spec)
    state.grade.results = run_tests(
        tests, _stopping_at_first_failure(judge) if state.first_failure else judge, state.jobs
    )
    return None


def _stopping_at_first_failure(judge: Callable[[TestSpec], TestResult]) -> Callable[[TestSpec], TestResult]:
    failed = threading.Event()

    def judge_until_failed(spec: TestSpec) -> TestResult:
        if failed.is_set():
            return TestResult(spec, run.Status.SKIPPED, 0.0, detail="not run: an earlier test already failed")
        result = judge(spec)
        if not result.passed or result.leaks:
            failed.set()
        return result

    return judge_until_failed


STAGES: tuple[tuple[str, Stage], ...] = (
    ("files present", _files_present),
    ("compile and inspect", _compile_and_inspect),
    ("link", _link),
    ("list tests", _list),
    ("run and score", _run_and_score),
)


def _judge(state: Grading, spec: TestSpec) -> TestResult:
    test_run = run.run_test(state.sandbox, state.staged.binary, spec.name, state.lab.timeout_of(spec))
    reference_run = None if test_run.passed else state.reference.run(spec.name)
    return score_run(spec, test_run, reference_run)


def run_tests(tests: list[TestSpec], judge: Callable[[TestSpec], TestResult], jobs: int) -> list[TestResult]:
    """Judges every test, up to `jobs` at once, each in a sandbox of its own;
    a test starts only once the tests it depends on have their verdicts (and
    is skipped if one failed). Results come back in lab.toml order, whatever
    order they finished in, so reports do not depend on the scheduler."""
    results: dict[str, TestResult] = {}
    waiting = list(tests)
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="test") as pool:
        running: dict[Future[TestResult], TestSpec] = {}
        while waiting or running:
            ready = [s for s in waiting if _ready(s, results, tests)]
            if not ready and not running:
                raise GraderError(
                    f"lab.toml: the tests {', '.join(s.name for s in waiting)} depend on each other in a cycle"
                )
            for spec in ready:
                waiting.remove(spec)
                reason = skipped_because(spec, results)
                if reason:
                    results[spec.name] = TestResult(spec, run.Status.SKIPPED, 0.0, detail=reason)
                else:
                    running[pool.submit(judge, spec)] = spec
            if not running:
                continue  # skips may have made more tests ready
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                results[running.pop(future).name] = future.result()
    return [results[spec.name] for spec in tests]


def _ready(spec: TestSpec, results: dict[str, TestResult], tests: list[TestSpec]) -> bool:
    """Every test it depends on that will run has a verdict."""
    present = {t.name for t in tests}
    return all(d in results for d in spec.depends if d in present)


def _before_main(failure: run.ListingFailed) -> str:
    shown = failure.output.strip()[:600]
    return (
        f"the tests could not start: {failure.detail}. Code that runs before main, such as the "
        "constructor of a global object in your files, stopped the program before any test ran. "
        "Move that work into the functions the lab asks for."
        + (f"\nWhat the program printed:\n{shown}" if shown else "")
    )
