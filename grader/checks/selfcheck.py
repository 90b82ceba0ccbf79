"""./grade selfcheck: is each lab fit to publish?

One lab at a time, in this order (a step that needs the reference build is
not run when the first step could not make it):

    lab.toml      the reference builds and lab.toml matches its test cases
    reference     the reference scores full marks
    skeleton      the skeleton scores 0 on every graded test
    bug corpus    every buggy submission fails exactly its expected tests
    hidden tests  there are hidden tests, and their sources are in solutions/
    handout       the write-up follows handouts/README.md and renders
    starter pack  the pack holds no solutions/, no hidden test name and no
                  line of the lab's solution
    contract      each entry of solutions/LAB/contract.toml holds (sentence in
                  the header, tests in lab.toml, a bug or mutant that fails
                  them); the table shows every sentence, gaps included
    mutants       the last full mutation run (./grade mutants) reaches the
                  lab's floor, its survivors are all marked equivalent, no
                  marking is stale; a result made on other files says so
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.checks import contract, corpus, mutants
from grader.grading import pipeline
from grader.publishing import handout, pack_audit, starter_pack
from grader.errors import GraderError
from grader.grading.lab import Lab
from grader.grading.sandbox import Sandbox
from grader.grading.score import Grade, TestResult
from grader.reports.untrusted import terminal_text

# A lab's corpus must hold at least this many realistic bugs.
MIN_BUGS = 6


class CheckState(str, Enum):
    OK = "ok"
    FAILED = "failed"
    NOT_RUN = "not run"  # an earlier check it needs failed
    SKIPPED = "skipped"  # left out on purpose (--skip)


@dataclass(frozen=True)
class Check:
    lab: str
    name: str
    state: CheckState
    detail: str

    @property
    def ok(self) -> bool:
        return self.state in (CheckState.OK, CheckState.SKIPPED)


class Failed(Exception):
    """A check that did not hold; its message says what to fix."""


class NotRun(Exception):
    """A step that cannot run because an earlier one failed."""


class LeftOut(Exception):
    """A step the lab has not taken up yet: shown, and the lab is not fit to
    publish, as with --skip."""


@dataclass
class Context:
    lab: Lab
    sandbox: Sandbox
    jobs: int = 1  # tests, and bugs of the corpus, graded at once
    reference: pipeline.Reference | None = None
    listed: dict[str, bool] = field(default_factory=dict)  # test case -> from a hidden source
    html: str | None = None  # the rendered write-up, once it renders


# ---- the steps ------------------------------------------------------------


def lab_toml(ctx: Context) -> str:
    if not ctx.lab.has_solution:
        raise Failed(
            f"solutions/{ctx.lab.name}/BUILD is missing: selfcheck needs the reference (is this a starter pack?)"
        )
    ctx.reference = pipeline.prepare_reference(ctx.lab, ctx.sandbox)
    assert ctx.reference.binary is not None
    ctx.listed = ctx.reference.listed  # prepare_reference checked it against lab.toml
    tests = ctx.lab.tests
    hidden = sum(t.hidden for t in tests)
    return f"{len(tests)} tests ({len(tests) - hidden} public, {hidden} hidden), {ctx.lab.max_score:g} points"


def reference(ctx: Context) -> str:
    assert ctx.reference is not None
    return reference_check(
        pipeline.grade(ctx.lab, ctx.lab.solution_directory, "reference", ctx.reference, ctx.sandbox, ctx.jobs)
    )


def skeleton(ctx: Context) -> str:
    assert ctx.reference is not None
    return skeleton_check(pipeline.grade(ctx.lab, ctx.lab.directory, "skeleton", ctx.reference, ctx.sandbox, ctx.jobs))


def bug_corpus(ctx: Context) -> str:
    verdicts = corpus.check_lab(ctx.lab, ctx.sandbox, ctx.jobs)
    wrong = [f"{v.bug.name}: {v.problems()}" for v in verdicts if not v.ok]
    if len(verdicts) < MIN_BUGS:
        wrong.insert(0, f"{len(verdicts)} bugs in solutions/{ctx.lab.name}/bugs/; a lab needs at least {MIN_BUGS}")
    if wrong:
        raise Failed("\n".join(wrong))
    return f"{len(verdicts)} bugs, each fails exactly its tests"


def hidden_tests(ctx: Context) -> str:
    hidden = [t for t in ctx.lab.tests if t.hidden]
    if not hidden:
        raise Failed("no test in lab.toml has hidden = true: a lab needs tests students cannot read")
    public_sources = [t.name for t in hidden if not ctx.listed.get(t.name, False)]
    if public_sources:
        raise Failed(f"hidden tests whose source is not in solutions/{ctx.lab.name}/: {public_sources}")
    count = f"{len(hidden)} hidden test{'s' if len(hidden) != 1 else ''}"
    return f"{count} ({sum(t.points for t in hidden):g} points), sources in solutions/{ctx.lab.name}/"


def handout_check(ctx: Context) -> str:
    found = handout.problems(ctx.lab, drafts=True)
    if found:
        raise Failed("\n".join(found))
    # Text still to write does not keep the page from rendering: the starter
    # pack is checked with the draft, so a new lab sees every other verdict.
    ctx.html = handout.render(ctx.lab, draft=True)
    unwritten = handout.problems(ctx.lab)
    if unwritten:
        raise Failed("\n".join(unwritten))
    categories = {t.category for t in ctx.lab.tests}
    return (
        f"handouts/{ctx.lab.name}.md: sections in order, one heading for each of the {len(categories)} "
        "categories tested, directives resolve, renders"
    )


def pack_check(ctx: Context) -> str:
    if ctx.html is None:
        raise NotRun("the write-up does not render")
    pack = starter_pack.build(ctx.lab, ctx.html)
    found = pack_audit.secrets_in(pack)
    if found:
        raise Failed("\n".join(found))
    size = sum(len(content) for content, _ in pack.files.values())
    detail = (
        f"{len(pack.files)} files, {size / 1024:.0f} KiB: no solutions/, no hidden test name, "
        f"none of {len(pack_audit.solution_lines(ctx.lab))} solution lines"
    )
    overlap = pack_audit.framework_overlap(ctx.lab)
    if overlap:
        files = sorted({f for holders in overlap.values() for f in holders})
        lines = "1 solution line is" if len(overlap) == 1 else f"{len(overlap)} solution lines are"
        detail += f"\nnote: {lines} also in the framework every pack ships ({', '.join(files)})"
    return detail


def mutation_score(ctx: Context) -> str:
    if not mutants.equivalents_file(ctx.lab).exists():
        raise LeftOut(
            f"no mutation analysis yet (no solutions/{ctx.lab.name}/mutants.toml): "
            f"{mutants.rerun_command(ctx.lab.name)}, then mark its equivalent mutants and set a floor"
        )
    return mutants.selfcheck_line(ctx.lab)  # raises mutants.BelowStandard


def contract_table(ctx: Context) -> str:
    table = contract.table(ctx.lab)
    if table.errors:
        raise Failed("\n".join(table.errors))
    return contract.summary(table)


# Ordering rule: lab.toml comes first, it builds the reference the next
# four steps use; the handout renders before the pack, which ships it.
STEPS: tuple[tuple[str, Callable[[Context], str], bool], ...] = (
    ("lab.toml", lab_toml, False),
    ("reference", reference, True),
    ("skeleton", skeleton, True),
    ("bug corpus", bug_corpus, True),
    ("hidden tests", hidden_tests, True),
    ("handout", handout_check, False),
    ("starter pack", pack_check, False),
    ("mutants", mutation_score, False),
    ("contract", contract_table, False),
)  # (name, step, needs the reference build)


STEP_NAMES = tuple(name for name, _, _ in STEPS)


def check_lab(
    lab: Lab, sandbox: Sandbox, console: Console, jobs: int = 1, skip: frozenset[str] = frozenset()
) -> list[Check]:
    """Every check of STEPS in order, but those named in `skip`."""
    ctx = Context(lab, sandbox, jobs)
    checks = []
    for name, step, needs_reference in STEPS:
        if name in skip:
            checks.append(Check(lab.name, name, CheckState.SKIPPED, "left out (--skip)"))
            continue
        if needs_reference and ctx.reference is None:
            checks.append(Check(lab.name, name, CheckState.NOT_RUN, "needs the reference build (see lab.toml)"))
            continue
        with console.status(f"{lab.name}: {name} …"):
            try:
                checks.append(Check(lab.name, name, CheckState.OK, step(ctx)))
            except (Failed, GraderError, mutants.BelowStandard) as e:
                message = e.message if isinstance(e, GraderError) else str(e)
                checks.append(Check(lab.name, name, CheckState.FAILED, message))
            except NotRun as e:
                checks.append(Check(lab.name, name, CheckState.NOT_RUN, str(e)))
            except LeftOut as e:
                checks.append(Check(lab.name, name, CheckState.SKIPPED, str(e)))
    return checks


# ---- verdicts on grades (pure, so they are tested without building) --------


def reference_check(grade: Grade) -> str:
    if not grade.gradable:
        raise Failed("the reference does not build:\n" + _first_lines(grade.diagnostics))
    failing = [f"{r.spec.name} ({_status(r)})" for r in grade.results if not r.passed]
    if failing or grade.score != grade.max_score:
        raise Failed(f"the reference scores {grade.score:g}/{grade.max_score:g}; it fails:\n" + "\n".join(failing))
    return f"{grade.score:g}/{grade.max_score:g} in {grade.seconds:.0f} s"


def skeleton_check(grade: Grade) -> str:
    if not grade.gradable:
        raise Failed("the skeleton does not build (students could not start):\n" + _first_lines(grade.diagnostics))
    scoring = [f"{r.spec.name} ({r.score:g} points)" for r in grade.results if r.score > 0]
    if scoring:
        raise Failed("the skeleton scores on tests it must fail:\n" + "\n".join(scoring))
    missing = {t.name for t in grade.lab.tests} - {r.spec.name for r in grade.results}
    if missing:
        raise Failed(f"tests that did not run on the skeleton: {sorted(missing)}")
    return f"0/{grade.max_score:g} on all {len(grade.results)} tests"


def _status(result: TestResult) -> str:
    return result.status.value


def _first_lines(text: str, count: int = 8) -> str:
    return "\n".join(text.splitlines()[:count])


# ---- the table ------------------------------------------------------------

_STATE_STYLE = {
    CheckState.OK: "green",
    CheckState.FAILED: "bold red",
    CheckState.NOT_RUN: "yellow",
    CheckState.SKIPPED: "dim",
}


def print_table(checks: list[Check], console: Console) -> None:
    table = Table(title="Self-check: is each lab fit to publish?", show_lines=True)
    for column in ("lab", "check", "result", "details"):
        table.add_column(column, overflow="fold")
    for check in checks:
        # A detail can quote compiler output and test output (the reference's, the corpus's).
        table.add_row(
            check.lab,
            check.name,
            Text(check.state.value, style=_STATE_STYLE[check.state]),
            terminal_text(check.detail),
        )
    console.print(table)
    failed = [c for c in checks if not c.ok]
    labs = sorted({c.lab for c in checks})
    if failed:
        console.print(Text(f"{len(failed)} of {len(checks)} checks did not pass.", style="bold red"))
        return
    skipped = sorted({c.name for c in checks if c.state is CheckState.SKIPPED})
    if skipped:
        console.print(
            Text(f"Every check run passed; {', '.join(skipped)} left out: not yet fit to publish.", style="bold yellow")
        )
        return
    console.print(Text(f"All {len(checks)} checks passed: {', '.join(labs)} ready to publish.", style="bold green"))
