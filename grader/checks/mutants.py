"""./grade mutants LAB: mutation analysis of a lab's reference.

Each mutant is one small mechanical change of solutions/LAB/*.cpp (a call
deleted, a flag dropped or added, a retry loop made a single call, an
off-by-one, two arguments swapped, an early stop on EINTR), written in the
bug corpus's edit format (grader/checks/corpus.py): an `old` text that matches the
reference exactly once and its `new` text. It is graded like a corpus bug,
by the real pipeline, stopping at its first failed test:

    stillborn  it does not compile or link (counted apart)
    killed     a test failed, or a leak was found
    survived   every test passed and nothing leaked: a sentence of the
               header that no test pins down, or an equivalent mutant

Equivalent mutants (no behaviour changes) are marked, each with one line of
why, in solutions/LAB/mutants.toml:

    [[equivalent]]
    id = "delete-call-1a2b3c4d"
    why = "the destructor closes it a line later"

The score is killed / (mutants - stillborn - equivalent). A full run keeps
its result in solutions/LAB/mutants.result.json with a fingerprint of the
reference, the tests and the harness, so selfcheck can say when it is stale.
Verdicts so far are kept in .grade/mutants/LAB.json as they come, and
--resume skips those judged against the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import tempfile
import threading
import time
from grader import toml
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from rich.console import Console
from rich.text import Text

from grader.checks import corpus
from grader.grading import pipeline, stage
from grader.errors import GraderError
from grader.grading.lab import REPO, Lab
from grader.grading.sandbox import Sandbox
from grader.reports.untrusted import terminal_text

FORMAT = 1
PROGRESS_DIRECTORY = REPO / ".grade" / "mutants"


class Outcome(str, Enum):
    KILLED = "killed"
    SURVIVED = "survived"
    STILLBORN = "stillborn"


@dataclass(frozen=True)
class Mutant:
    id: str
    operator: str
    file: str
    line: int
    change: corpus.Change

    def diff(self) -> str:
        old = [f"- {line}" for line in self.change.old.splitlines()]
        new = [f"+ {line}" for line in self.change.new.splitlines()]
        return "\n".join([f"{self.file}:{self.line} ({self.operator})", *old, *new])

    def as_bug(self) -> corpus.Bug:
        return corpus.Bug(self.id, self.operator, frozenset(), {}, (self.change,))


@dataclass(frozen=True)
class Judged:
    mutant: Mutant
    outcome: Outcome
    by: str  # the first failed test, or the leak, or why it did not build


# ---- the operators ---------------------------------------------------------
# Each takes one line of code and yields (operator, new line) pairs; the
# line is code, never a comment or a preprocessor line.

# Calls whose deletion is a realistic student bug; a line that is only such
# a call (or `if (...) call;`) loses it.
CLEANUP_CALLS = (
    "close",
    "unlink",
    "sem_unlink",
    "mq_unlink",
    "shm_unlink",
    "munmap",
    "sem_close",
    "mq_close",
    "waitpid",
    "sem_post",
    "sem_wait",
    "kill",
    "ftruncate",
    "dup2",
    "sigaction",
    "sigprocmask",
    "pthread_sigmask",
    "clear",
    "reset",
    "_exit",
    "raise",
    "signal",
)
FLAGS = ("O_NONBLOCK", "O_EXCL", "O_CREAT", "SA_RESTART", "O_CLOEXEC", "SA_NOCLDSTOP", "SA_SIGINFO", "O_TRUNC")
ADDED_FLAGS = {"O_RDONLY": "O_NONBLOCK", "O_WRONLY": "O_NONBLOCK", "O_RDWR": "O_NONBLOCK", "O_CREAT": "O_EXCL"}
COMPARISONS = {" < ": " <= ", " <= ": " < ", " > ": " >= ", " >= ": " > ", " == ": " != ", " != ": " == "}

_STATEMENT_CALL = re.compile(r"^(\s*)((?:if \(.*\) )?)((?:::)?[\w.>\-\[\]()]*?\b(\w+)\(.*\));(\s*//.*)?$")
_WHILE_CALL = re.compile(r"^(\s*)while \((.*\w\(.*)\) \{$")
_CALL_WITH_ARGS = re.compile(r"::(\w+)\(")
# Functions whose arguments swapped give the same result.
SYMMETRIC = ("swap", "min", "max")


def delete_call(line: str) -> Iterator[tuple[str, str]]:
    match = _STATEMENT_CALL.match(line)
    if not match or match.group(4) not in CLEANUP_CALLS or " = " in match.group(3).split("(")[0]:
        return
    if match.group(3).startswith("return"):
        return
    indent, condition = match.group(1), match.group(2)
    yield "delete-call", f"{indent}{condition}{{}}" if condition else f"{indent}// (deleted)"


def _in_string(line: str, position: int) -> bool:
    """Inside a string literal: a message's words, not code."""
    return line.count('"', 0, position) % 2 == 1


def flag(line: str) -> Iterator[tuple[str, str]]:
    for name in FLAGS:
        for pattern in (rf" \| {name}\b", rf"\b{name} \| "):
            match = re.search(pattern, line)
            if match and not _in_string(line, match.start()):
                yield "drop-flag", line[: match.start()] + line[match.end() :]
    for present, added in ADDED_FLAGS.items():
        match = re.search(rf"\b{present}\b", line)
        if match and not _in_string(line, match.start()) and added not in line and ("open" in line or "|" in line):
            yield "add-flag", line[: match.end()] + f" | {added}" + line[match.end() :]
    if re.search(r"sa_flags = 0;", line):
        yield "add-flag", line.replace("sa_flags = 0;", "sa_flags = SA_RESTART;")


def retry_once(line: str) -> Iterator[tuple[str, str]]:
    match = _WHILE_CALL.match(line)
    if match:
        yield "retry-once", f"{match.group(1)}if ({match.group(2)}) {{"
    if "EINTR" in line and "continue;" in line:
        yield "stop-on-eintr", line.replace("continue;", "break;")
    if re.search(r"errno != EINTR", line):
        yield "stop-on-eintr", line.replace("errno != EINTR", "true")


def off_by_one(line: str) -> Iterator[tuple[str, str]]:
    for old, new in COMPARISONS.items():
        start = line.find(old)
        while start >= 0:
            # `a <b` in a template or a stream is not a comparison: only a
            # spaced operator between two operands is one.
            if not _in_string(line, start):
                yield "off-by-one", line[:start] + new + line[start + len(old) :]
            start = line.find(old, start + 1)
    for old, new in ((" + 1", ""), (" - 1", "")):
        start = line.find(old)
        if start >= 0 and not _in_string(line, start) and not line[start + len(old) : start + len(old) + 1].isdigit():
            yield "off-by-one", line[:start] + new + line[start + len(old) :]


def swap_arguments(line: str) -> Iterator[tuple[str, str]]:
    for match in _CALL_WITH_ARGS.finditer(line):
        if match.group(1) in SYMMETRIC:
            continue
        arguments = _top_level_arguments(line, match.end())
        if arguments is None or len(arguments) < 2:
            continue
        (first_start, first_end), (second_start, second_end) = arguments[0], arguments[1]
        first, second = line[first_start:first_end].strip(), line[second_start:second_end].strip()
        if first == second:
            continue
        swapped = line[:first_start] + second + ", " + first + line[second_end:]
        yield "swap-arguments", swapped


def _top_level_arguments(line: str, start: int) -> list[tuple[int, int]] | None:
    """The spans of a call's arguments, from just after its `(`; None when
    the call does not close on this line."""
    depth, spans, begin = 0, [], start
    for index in range(start, len(line)):
        char = line[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            if depth == 0:
                spans.append((begin, index))
                return spans if line[start:index].strip() else []
            depth -= 1
        elif char == "," and depth == 0:
            spans.append((begin, index))
            begin = index + 1
    return None


OPERATORS: tuple[Callable[[str], Iterator[tuple[str, str]]], ...] = (
    delete_call,
    flag,
    retry_once,
    off_by_one,
    swap_arguments,
)


# ---- generating ------------------------------------------------------------


def generate(lab: Lab) -> list[Mutant]:
    """Every mutant of the lab's reference files, in file and line order."""
    mutants: dict[str, Mutant] = {}
    for name in lab.student_files:
        text = (lab.solution_directory / name).read_text()
        lines = text.split("\n")
        for number, line in enumerate(lines, start=1):
            if not _is_code(line):
                continue
            for operator in OPERATORS:
                for kind, new_line in operator(line):
                    if new_line == line:
                        continue
                    change = _unique_change(name, text, lines, number - 1, new_line)
                    if change is None:
                        continue
                    mutant = Mutant(_id(kind, change), kind, name, number, change)
                    mutants.setdefault(mutant.id, mutant)
    return list(mutants.values())


def _is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(("//", "#", "*", "/*"))


def _unique_change(name: str, text: str, lines: list[str], index: int, new_line: str) -> corpus.Change | None:
    """The edit of line `index`, with as many lines before it as make its
    `old` text match the reference exactly once."""
    for first in range(index, max(-1, index - 6), -1):
        old = "\n".join(lines[first : index + 1])
        if text.count(old) == 1:
            return corpus.Change(name, old, "\n".join([*lines[first:index], new_line]))
    return None


def _id(kind: str, change: corpus.Change) -> str:
    digest = hashlib.sha256(f"{change.file}\0{change.old}\0{change.new}".encode()).hexdigest()[:8]
    return f"{kind}-{digest}"


def sample(mutants: list[Mutant], count: int, seed: str) -> list[Mutant]:
    """`count` mutants chosen the same way every time (seeded by the lab)."""
    if count >= len(mutants):
        return mutants
    chosen = set(random.Random(seed).sample(range(len(mutants)), count))
    return [m for i, m in enumerate(mutants) if i in chosen]


# ---- equivalent mutants ------------------------------------------------------


@dataclass(frozen=True)
class Equivalent:
    id: str
    why: str


def equivalents_file(lab: Lab) -> Path:
    return lab.solution_directory / "mutants.toml"


def load_equivalents(lab: Lab) -> dict[str, Equivalent]:
    path = equivalents_file(lab)
    if not path.exists():
        return {}
    entries = toml.loads(path.read_text()).get("equivalent", [])
    marked = {}
    for entry in entries:
        if not entry.get("why", "").strip():
            raise GraderError(
                f"{path.relative_to(REPO)}: equivalent mutant {entry.get('id')!r} has no `why`",
                tip="say in one line why the mutant behaves exactly like the reference",
            )
        marked[entry["id"]] = Equivalent(entry["id"], " ".join(entry["why"].split()))
    return marked


# ---- fingerprint --------------------------------------------------------------


def fingerprint(lab: Lab) -> dict[str, str]:
    """Hashes of what a mutant's verdict depends on: the reference, the
    tests (public and hidden, with lab.toml and their support headers) and
    the harness. Not the lab's bug corpus, contract table or benchmark: no
    test binary is built from them, and editing them changes no verdict."""
    reference = [lab.solution_directory / name for name in lab.student_files]
    tests = [
        path
        for directory in (lab.directory, lab.solution_directory)
        for path in sorted(directory.rglob("*"))
        if path.is_file()
        and path.suffix in (".cpp", ".h", ".toml")
        and path not in reference
        and path.name not in lab.student_files
        and path.parent.name not in ("bugs", "bench")
        and path.name != "contract.toml"
        and not path.name.startswith("mutants")
    ]
    harness = sorted(p for p in (REPO / "grader" / "harness").rglob("*") if p.is_file())
    return {"reference": _digest(reference), "tests": _digest(tests), "harness": _digest(harness)}


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# ---- results ------------------------------------------------------------------


@dataclass
class Result:
    lab: str
    fingerprint: dict[str, str]
    verdicts: dict[str, dict[str, object]] = field(default_factory=dict)  # mutant id -> judged
    generated: int = 0  # mutants of the reference
    sample: int | None = None  # how many were chosen, when not all
    seconds: float = 0.0

    def count(self, outcome: Outcome, equivalent: dict[str, Equivalent]) -> int:
        return sum(1 for i, v in self.verdicts.items() if v["outcome"] == outcome.value and i not in equivalent)

    def score(self, equivalent: dict[str, Equivalent]) -> tuple[int, int]:
        """(killed, non-equivalent mutants that built)."""
        killed = self.count(Outcome.KILLED, equivalent)
        return killed, killed + self.count(Outcome.SURVIVED, equivalent)

    def survivors(self, equivalent: dict[str, Equivalent]) -> list[str]:
        return [i for i, v in self.verdicts.items() if v["outcome"] == Outcome.SURVIVED.value and i not in equivalent]

    def to_json(self, equivalent: dict[str, Equivalent]) -> dict[str, object]:
        killed, counted = self.score(equivalent)
        return {
            "format": FORMAT,
            "lab": self.lab,
            "fingerprint": self.fingerprint,
            "generated": self.generated,
            "sample": self.sample,
            "seconds": round(self.seconds, 1),
            "killed": killed,
            "counted": counted,
            "stillborn": self.count(Outcome.STILLBORN, {}),
            "equivalent": sorted(i for i in equivalent if i in self.verdicts),
            "score": round(killed / counted, 4) if counted else None,
            "survivors": self.survivors(equivalent),
            "verdicts": self.verdicts,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Result:
        return cls(
            lab=str(data["lab"]),
            fingerprint=dict(data["fingerprint"]),  # type: ignore[call-overload]
            verdicts=dict(data["verdicts"]),  # type: ignore[call-overload]
            generated=int(data.get("generated", 0)),  # type: ignore[call-overload]
            sample=data.get("sample"),  # type: ignore[arg-type]
            seconds=float(data.get("seconds", 0.0)),  # type: ignore[arg-type]
        )


def result_file(lab: Lab) -> Path:
    return lab.solution_directory / "mutants.result.json"


def progress_file(lab: Lab) -> Path:
    return PROGRESS_DIRECTORY / f"{lab.name}.json"


def load_result(path: Path) -> Result | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        return None
    return Result.from_json(data)


def write_json(path: Path, data: dict[str, object]) -> None:
    """Atomically: a run stopped half-way never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as out:
        json.dump(data, out, indent=1, sort_keys=True)
        out.write("\n")
    os.chmod(out.name, 0o644)  # a result beside the solution is committed like any file
    os.replace(out.name, path)


def stale_markings(lab: Lab, mutants: list[Mutant]) -> list[str]:
    """Marked equivalent, but no longer a mutant of the reference."""
    present = {m.id for m in mutants}
    return sorted(i for i in load_equivalents(lab) if i not in present)


def staleness(lab: Lab, result: Result) -> list[str]:
    """What changed since the result was made: reference, tests, harness."""
    now = fingerprint(lab)
    return [part for part in ("reference", "tests", "harness") if result.fingerprint.get(part) != now[part]]


# ---- running --------------------------------------------------------------------


def slot(lab: Lab, mutant: Mutant) -> str:
    return stage.slot_name(f"mutant-{lab.name}-{mutant.id}")


def judge(lab: Lab, mutant: Mutant, submission: Path, reference: pipeline.Reference, sandbox: Sandbox) -> Judged:
    grade = pipeline.grade(lab, submission, slot(lab, mutant), reference, sandbox, first_failure=True)
    if not grade.gradable:
        return Judged(mutant, Outcome.STILLBORN, grade.diagnostics.splitlines()[0] if grade.diagnostics else "")
    failed = next((r for r in grade.results if not r.passed and r.status.value != "skipped"), None)
    if failed is not None:
        return Judged(mutant, Outcome.KILLED, f"{failed.spec.name} ({failed.status.value})")
    if grade.leak_kinds:
        return Judged(mutant, Outcome.KILLED, "leak: " + ", ".join(grade.leak_kinds))
    return Judged(mutant, Outcome.SURVIVED, "")


def judge_all(lab: Lab, todo: list[Mutant], sandbox: Sandbox, jobs: int, record: Callable[[Judged], None]) -> None:
    """Grades each mutant, `jobs` at once, handing each verdict to `record`
    as it comes; all are compiled and linked first, both cores busy."""
    if not todo:
        return
    reference = pipeline.prepare_reference(lab, sandbox)
    with tempfile.TemporaryDirectory(prefix=f"ipclab-mutants-{lab.name}-") as scratch:
        submissions = corpus.materialize_all(lab, {m.id: m.as_bug() for m in todo}, Path(scratch))
        pipeline.compile_first(lab, [(submissions[m.id], slot(lab, m)) for m in todo], sandbox, corpus.COMPILE_JOBS)
        with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="mutant") as pool:
            list(pool.map(lambda m: record(judge(lab, m, submissions[m.id], reference, sandbox)), todo))


def run(
    lab: Lab,
    sandbox: Sandbox,
    jobs: int = 1,
    resume: bool = False,
    count: int | None = None,
    on_judged: Callable[[Judged], None] = lambda _: None,
) -> tuple[Result, list[Mutant]]:
    """Judges the lab's mutants (all, or the same `count` of them each time),
    `jobs` at once, each one test at a time (busy-waiting mutants spin a
    core each). Every verdict is saved as it comes; a complete run of all
    mutants is also kept beside the solution."""
    started = time.monotonic()
    everything = generate(lab)
    chosen = everything if count is None else sample(everything, count, lab.name)
    result = Result(
        lab.name,
        fingerprint(lab),
        generated=len(everything),
        sample=None if len(chosen) == len(everything) else len(chosen),
    )
    previous = load_result(progress_file(lab)) if resume else None
    if previous is not None and previous.fingerprint == result.fingerprint:
        result.verdicts = {i: v for i, v in previous.verdicts.items() if i in {m.id for m in chosen}}
        result.seconds = previous.seconds
    todo = [m for m in chosen if m.id not in result.verdicts]
    lock = threading.Lock()

    def record(judged: Judged) -> None:
        with lock:
            result.verdicts[judged.mutant.id] = {
                "outcome": judged.outcome.value,
                "by": judged.by,
                "operator": judged.mutant.operator,
                "line": judged.mutant.line,
                "change": asdict(judged.mutant.change),
            }
            write_json(progress_file(lab), result.to_json({}))
        on_judged(judged)

    judge_all(lab, todo, sandbox, jobs, record)
    result.seconds += time.monotonic() - started
    write_json(progress_file(lab), result.to_json({}))
    if result.sample is None:
        write_json(result_file(lab), result.to_json(load_equivalents(lab)))
    return result, chosen


# ---- the report -------------------------------------------------------------------


def print_report(
    result: Result, chosen: dict[str, Mutant], equivalent: dict[str, Equivalent], stale: list[str], console: Console
) -> None:
    """Each surviving mutant with its diff, then the counts and the score."""
    for mutant_id in result.survivors(equivalent):
        console.print(Text(f"survived: {mutant_id}", style="bold red"))
        console.print(terminal_text(chosen[mutant_id].diff() if mutant_id in chosen else mutant_id))
        console.print()
    for mutant_id in stale:
        console.print(
            Text(
                f"stale marking: {mutant_id} is marked equivalent in "
                f"{equivalents_file_name(result.lab)} but is no longer a mutant of the reference",
                style="yellow",
            )
        )
    killed, counted = result.score(equivalent)
    marked = sum(1 for i in result.verdicts if i in equivalent)
    of = f"{len(result.verdicts)} of {result.generated} mutants" if result.sample else f"{result.generated} mutants"
    score = f"{killed}/{counted} = {killed / counted:.0%}" if counted else "nothing to score"
    console.print(
        f"{result.lab}: {of}: {killed} killed, {len(result.survivors(equivalent))} survived, {marked} equivalent, "
        f"{result.count(Outcome.STILLBORN, {})} stillborn; mutation score {score} ({result.seconds:.0f} s)"
    )


def equivalents_file_name(lab: str) -> str:
    return f"solutions/{lab}/mutants.toml"


# ---- selfcheck's line --------------------------------------------------------------


class BelowStandard(Exception):
    """The lab's mutation result does not meet its floor; says what to do."""


def floor_of(lab: Lab) -> float | None:
    path = equivalents_file(lab)
    if not path.exists():
        return None
    floor = toml.loads(path.read_text()).get("floor")
    return None if floor is None else float(floor)


def selfcheck_line(lab: Lab) -> str:
    """The score of the last full run against the lab's floor. A result
    made on other files is still shown, marked stale: a full run takes
    minutes per lab, and a change of the harness must not fail every lab."""
    result = load_result(result_file(lab))
    if result is None:
        raise BelowStandard(
            f"no mutation result in solutions/{lab.name}/mutants.result.json: {rerun_command(lab.name)}"
        )
    floor = floor_of(lab)
    if floor is None:
        raise BelowStandard(f"{equivalents_file_name(lab.name)} sets no `floor` (the lowest mutation score allowed)")
    return verdict_line(
        result, load_equivalents(lab), floor, stale_markings(lab, generate(lab)), staleness(lab, result)
    )


def rerun_command(lab: str) -> str:
    return f"run ./grade mutants {lab} --jobs 2"


def verdict_line(
    result: Result, equivalent: dict[str, Equivalent], floor: float, stale: list[str], changed: list[str]
) -> str:
    """selfcheck's detail for a result, or BelowStandard saying what to fix."""
    killed, counted = result.score(equivalent)
    score = killed / counted if counted else 0.0
    problems = []
    if score < floor:
        problems.append(f"mutation score {score:.0%} is below the lab's floor {floor:.0%}")
    survivors = result.survivors(equivalent)
    kill_or_mark = (
        f"surviving mutants: {', '.join(survivors)}: add a test that kills each, or mark it "
        f"equivalent in {equivalents_file_name(result.lab)} with why"
    )
    marked_but_gone = (
        f"marked equivalent in {equivalents_file_name(result.lab)} but no longer mutants of the "
        f"reference: {', '.join(stale)}"
    )
    # Once the reference has changed, markings of its old lines are
    # expected to go stale: the result as a whole needs a new run.
    if stale and not changed:
        problems.append(marked_but_gone)
    if problems:
        raise BelowStandard("\n".join([*problems, *([kill_or_mark] if survivors else [])]))
    line = (
        f"{killed}/{counted} killed ({score:.0%}, floor {floor:.0%}) of {result.generated} mutants; "
        f"{result.count(Outcome.STILLBORN, {})} stillborn, {sum(1 for i in equivalent if i in result.verdicts)} "
        f"equivalent; full run {result.seconds:.0f} s"
    )
    # Above the floor, a survivor is shown, not failed: the floor is the
    # lab's standard, and a survivor no test can catch deterministically
    # (undefined behaviour) is neither killed nor equivalent.
    if survivors:
        line += f"\n{kill_or_mark}"
    if changed:
        line += f"\nstale: the {', the '.join(changed)} changed since this run; {rerun_command(result.lab)}"
    if stale and changed:
        line += f"\n{marked_but_gone}"
    return line
