"""The bug corpus: realistic wrong submissions, each with the tests it must
fail. A corpus entry is the reference with a few exact edits, written as
TOML in solutions/<lab>/bugs/<bug>.toml:

    description = "what the student got wrong"
    fails = ["test names that must not pass"]        # every other test must pass
    output = { "test name" = "text its feedback must contain" }   # optional
    leaks = ["zombie process"]   # the kinds of leak it must be reported for, exactly (default: none)
    [[change]]
    file = "pipe_lab.cpp"   # optional: the lab's first student file
    old = "the reference's text, matched exactly once"
    new = "the buggy text"

Writing bugs as edits keeps each one readable as a diff and the corpus in
step with the reference: an edit that no longer matches is refused.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grader import toml
from grader.grading import pipeline, stage
from grader.errors import GraderError
from grader.grading.lab import Lab
from grader.reports.feedback import feedback, feedback_parts
from grader.grading.sandbox import Sandbox
from grader.grading.score import Grade, TestResult


@dataclass(frozen=True)
class Change:
    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Bug:
    name: str
    description: str
    fails: frozenset[str]
    output: dict[str, str]
    changes: tuple[Change, ...]
    leaks: frozenset[str] = frozenset()


@dataclass
class BugResult:
    bug: Bug
    grade: Grade
    should_fail_but_passed: list[str] = field(default_factory=list)
    should_pass_but_failed: list[str] = field(default_factory=list)
    missing_output: list[str] = field(default_factory=list)
    wrong_leaks: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.grade.gradable
            and not self.should_fail_but_passed
            and not self.should_pass_but_failed
            and not self.missing_output
            and not self.wrong_leaks
        )

    def problems(self) -> str:
        if not self.grade.gradable:
            return "does not build: " + self.grade.diagnostics
        lines = [f"should fail but passed: {n}" for n in self.should_fail_but_passed]
        lines += [f"should pass but did not: {n}" for n in self.should_pass_but_failed]
        lines += [f"feedback lacks the expected text: {n}" for n in self.missing_output]
        lines += [self.wrong_leaks] if self.wrong_leaks else []
        return "\n".join(lines)


# Compiles at once when compiling the corpus first: the course machine's cores.
COMPILE_JOBS = 2


def bugs_directory(lab: Lab) -> Path:
    return lab.solution_directory / "bugs"


def load_bugs(lab: Lab) -> list[Bug]:
    return [_load(lab, path) for path in sorted(bugs_directory(lab).glob("*.toml"))]


def _load(lab: Lab, path: Path) -> Bug:
    data = toml.loads(path.read_text())
    where = f"{path.relative_to(lab.solution_directory.parent.parent)}"
    declared = {t.name for t in lab.tests}
    unknown = [n for n in [*data.get("fails", []), *data.get("output", {})] if n not in declared]
    if unknown:
        raise GraderError(f"{where} names tests that lab.toml does not declare: {unknown}")
    if not data.get("change"):
        raise GraderError(f"{where} has no [[change]]: a bug must differ from the reference")
    changes = tuple(
        Change(file=c.get("file", lab.student_files[0]), old=c["old"], new=c["new"]) for c in data["change"]
    )
    return Bug(
        name=path.stem,
        description=" ".join(data.get("description", "").split()),
        fails=frozenset(data.get("fails", [])),
        output=dict(data.get("output", {})),
        changes=changes,
        leaks=frozenset(data.get("leaks", [])),
    )


def materialize(lab: Lab, bug: Bug, into: Path) -> Path:
    """Writes the buggy submission into `into`: the reference, edited."""
    for name in lab.student_files:
        shutil.copyfile(lab.solution_directory / name, into / name)
    for index, change in enumerate(bug.changes, start=1):
        target = into / change.file
        text = target.read_text()
        found = text.count(change.old)
        if found != 1:
            raise GraderError(
                f"bug {lab.name}/{bug.name}: change #{index} matches the reference {found} times, not once",
                tip=f"update solutions/{lab.name}/bugs/{bug.name}.toml to the reference's current text",
            )
        target.write_text(text.replace(change.old, change.new))
    return into


def materialize_all(lab: Lab, bugs: Mapping[str, Bug], scratch: Path) -> dict[str, Path]:
    """Each bug's submission in a directory of its own under `scratch`, by key."""
    submissions = {}
    for key, bug in bugs.items():
        directory = scratch / key
        directory.mkdir()
        submissions[key] = materialize(lab, bug, directory)
    return submissions


def check_lab(lab: Lab, sandbox: Sandbox, jobs: int = 1) -> list[BugResult]:
    """Grades every bug of the lab's corpus, `jobs` bugs at once, each one
    test at a time: a corpus holds busy-waiting bugs, which spin a core
    each, and the other bugs' tests must not be starved into time-outs."""
    bugs = load_bugs(lab)
    reference = pipeline.prepare_reference(lab, sandbox)
    with tempfile.TemporaryDirectory(prefix=f"ipclab-corpus-{lab.name}-") as scratch:
        submissions = materialize_all(lab, {bug.name: bug for bug in bugs}, Path(scratch))
        # Every bug compiled at once (both cores busy) and linked in one
        # Bazel command; each grade below takes its compile from memory and
        # finds its link done.
        pipeline.compile_first(lab, [(submissions[b.name], slot(lab, b)) for b in bugs], sandbox, COMPILE_JOBS)
        with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="bug") as pool:
            return list(pool.map(lambda bug: check_bug(lab, bug, submissions[bug.name], reference, sandbox), bugs))


def first_evidence(result: TestResult) -> str:
    """What happened, and the first check that did not hold with what it
    logged: enough to tell a wrong corpus entry from a flaky test."""
    parts = feedback_parts(result)
    printed = parts.printed.splitlines()
    errors = [i for i, line in enumerate(printed) if "ERROR:" in line]
    evidence = printed[errors[0] : errors[0] + 3] if errors else printed[:2]
    return "; ".join(line.strip() for line in [parts.detail, *evidence] if line.strip())


def slot(lab: Lab, bug: Bug) -> str:
    return stage.slot_name(f"bug-{lab.name}-{bug.name}")


def check_bug(
    lab: Lab, bug: Bug, submission: Path, reference: pipeline.Reference, sandbox: Sandbox, jobs: int = 1
) -> BugResult:
    grade = pipeline.grade(lab, submission, slot(lab, bug), reference, sandbox, jobs)
    verdict = BugResult(bug, grade)
    for result in grade.results:
        name = result.spec.name
        if name in bug.fails and result.passed:
            verdict.should_fail_but_passed.append(name)
        if name not in bug.fails and not result.passed:
            verdict.should_pass_but_failed.append(f"{name} ({first_evidence(result)})")
        if name in bug.output and bug.output[name] not in feedback(result):
            verdict.missing_output.append(f"{name}: expected {bug.output[name]!r}")
    found = set(grade.leak_kinds)
    if found != bug.leaks:
        verdict.wrong_leaks = f"leaks reported: {sorted(found) or 'none'}; expected: {sorted(bug.leaks) or 'none'}"
    return verdict
