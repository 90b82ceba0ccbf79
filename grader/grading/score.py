"""Score: turn test runs into points, as lab.toml says.

Four rules beyond pass/fail:
- a test whose prerequisite failed is skipped, not failed a second time;
- a test the reference also fails is the lab's fault: the student is not
  charged for it, and the lab is reported as broken;
- a submission that did not build is "not gradable": score 0, with the
  compiler's diagnostics, distinct from one that built and failed;
- what a test leaves behind (IPC objects, processes, descriptors) is
  reported by name with every test, and deducted once per kind of leak as
  lab.toml [leaks] says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.grading.lab import Lab, TestSpec
from grader.grading.run import Leak, Status, TestRun
from grader.grading.sandbox import Isolation


# Runs the grader ended by killing every process of the test: no destructor
# or clean-up code could run, so what they left behind is not charged (nor
# when the test itself killed a process at its deadline).
KILLED_BY_GRADER = frozenset({Status.TIMED_OUT, Status.FLOODED})


@dataclass
class TestResult:
    __test__ = False  # not a pytest test class, despite the name

    spec: TestSpec
    status: Status
    score: float
    seconds: float = 0.0
    detail: str = ""
    output: str = ""
    leaks: list[Leak] = field(default_factory=list)
    killed_at_deadline: bool = False  # see TestRun
    observed: tuple[str, ...] = ()  # see TestRun

    @property
    def passed(self) -> bool:
        return self.score >= self.spec.points and self.status is Status.PASSED

    @property
    def killed(self) -> bool:
        """The grader or the test killed processes of the code under test
        at a deadline, so they could not clean up."""
        return self.status in KILLED_BY_GRADER or self.killed_at_deadline

    @property
    def charged_leaks(self) -> list[Leak]:
        """The leaks that count against the grade: none of a killed run."""
        return [] if self.killed else self.leaks


@dataclass
class Grade:
    lab: Lab
    label: str  # who or what was graded: "reference", a student id, a path
    isolation: Isolation
    gradable: bool = True
    diagnostics: str = ""  # compiler output, or why the submission could not be graded
    results: list[TestResult] = field(default_factory=list)
    seconds: float = 0.0

    @staticmethod
    def not_gradable(lab: Lab, label: str, isolation: Isolation, why: str) -> Grade:
        """A submission no test ran on: score 0, and why."""
        return Grade(lab=lab, label=label, isolation=isolation, gradable=False, diagnostics=why)

    @property
    def leak_kinds(self) -> list[str]:
        return sorted({leak.kind for r in self.results for leak in r.charged_leaks})

    @property
    def leak_deduction(self) -> float:
        """lab.toml [leaks]: points off per kind of leak, up to a maximum."""
        return min(self.lab.max_leak_deduction, self.lab.leak_deduction * len(self.leak_kinds))

    @property
    def score(self) -> float:
        return max(0.0, sum(r.score for r in self.results) - self.leak_deduction)

    @property
    def max_score(self) -> float:
        return self.lab.max_score

    @property
    def broken_tests(self) -> list[str]:
        return [r.spec.name for r in self.results if r.status is Status.LAB_BROKEN]


def skipped_because(spec: TestSpec, results: dict[str, TestResult]) -> str | None:
    failed = [d for d in spec.depends if d in results and not results[d].passed]
    if not failed:
        return None
    return "skipped: depends on " + ", ".join(repr(d) for d in failed) + ", which did not pass"


def score_run(spec: TestSpec, run: TestRun, reference: TestRun | None) -> TestResult:
    """reference: the reference's run of the same test, when the submission failed it."""
    if run.passed:
        return _result(spec, run, run.status, spec.points, "")
    if reference is not None and not reference.passed:
        detail = f"the reference fails this test too ({reference.status.value}); you are not charged for it"
        return _result(spec, run, Status.LAB_BROKEN, spec.points, detail)
    return _result(spec, run, run.status, 0.0, run.detail)


def _result(spec: TestSpec, run: TestRun, status: Status, score: float, detail: str) -> TestResult:
    return TestResult(
        spec, status, score, run.seconds, detail, run.output, run.leaks, run.killed_at_deadline, run.observed
    )
