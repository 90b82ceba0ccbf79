"""Class report: what a class got wrong, for course staff.

    DIR/report.html         one self-contained page (no server, no network,
                            no external fonts, scripts or styles): the score
                            distribution, pass rates per test and per category
                            worst first, the failure causes per test as the
                            grader observed them, leak kinds, build errors,
                            and in every group the students, linked to their
                            feedback files
    DIR/class_report.json   the same figures, for other tools, with a format version
    DIR/details/<key>.json  each graded student's JSON report (./grade --format
                            json): statuses, leaks by kind, diagnostics. The
                            batch writes it before the student's record, so
                            a student marked done always has one.

Everything is read from DIR alone (the batch's records, the gradebook, the
details), so `./grade report DIR` rebuilds the page at any time, and the
same directory always gives the same bytes: nothing depends on timing.

Why the figures are not in summary.json: summary.json belongs to the
gradebook and is written from the records alone, byte for byte the same when
a killed batch resumes; these figures also need the details, and are rebuilt
on their own by `./grade report`, which must never rewrite the gradebook's files.

Every string that comes from a submission (output, diagnostics, file names,
student ids) goes through safe_text before it reaches the page: it is
escaped, and control characters are made visible; it never becomes markup.
"""

from __future__ import annotations

import csv
import html
import json
import re
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from grader.classroom import gradebook
from grader.reports import feedback, machine, untrusted
from grader import atomic
from grader.errors import GraderError
from grader.grading.lab import Lab, TestSpec, load_lab
from grader.grading.run import Status
from grader.grading.score import Grade

FORMAT_VERSION = 1
PAGE = "report.html"
FIGURES = "class_report.json"
DETAILS = "details"

# An example shows this much of what the grader saw: enough to recognise
# the failure, short enough that the page stays readable with 100 students.
EXAMPLE_LINES = 12
EXAMPLE_CHARS = 1500


# ---- what the batch writes for the report --------------------------------


def details_path(out: Path, key: str) -> Path:
    return out / DETAILS / f"{key}.json"


def write_details(out: Path, key: str, grade: Grade) -> None:
    """Called by the batch before a student's record: the per-test statuses
    and leak kinds that the Gradescope results do not keep."""
    atomic.write_atomically(details_path(out, key), machine.render_machine(grade, "json"))


# ---- safe text -------------------------------------------------------------


def safe_text(text: str, multiline: bool = False) -> str:
    """Submission-derived text as HTML text: its control characters shown
    as escapes (untrusted.escape_controls), then HTML-escaped, so nothing a
    student prints can become markup, move the cursor or hide text. Safe in
    attribute values too."""
    shown = untrusted.escape_controls(text)
    if not multiline:
        shown = shown.replace("\n", "\\x0a")
    return html.escape(shown, quote=True)


# ---- the figures -------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    key: str  # the gradebook's key: names the feedback file
    student: str  # as the gradebook's student column says


@dataclass
class Group:
    """Students who share one observation, with one example of it."""

    label: str
    students: list[Member] = field(default_factory=list)
    example: str = ""
    example_of: str = ""  # the key of the student the example comes from


@dataclass
class TestFigures:
    name: str
    category: str
    hidden: bool
    points: float
    hint: str
    passed: int
    graded: int
    causes: list[Group]  # why the others did not pass, and what any run left behind

    @property
    def rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


@dataclass
class CategoryFigures:
    name: str
    tests: int
    passed: int  # passing (student, test) pairs
    runs: int  # graded students × tests in the category

    @property
    def rate(self) -> float:
        return self.passed / self.runs if self.runs else 0.0


@dataclass
class ClassFigures:
    lab: str
    title: str
    max_score: float
    students: int
    graded: int
    not_gradable: int
    grader_errors: int
    mean: float
    median: float
    distribution: dict[str, int]
    tests: list[TestFigures]  # worst first
    categories: list[CategoryFigures]  # worst first
    leaks: list[Group]  # by kind
    build_errors: list[Group]  # by the compiler's first error
    not_gradable_reasons: list[Group]  # everything else that could not be graded
    grader_error_reasons: list[Group]
    missing_details: list[str] = field(default_factory=list)  # keys graded before details were kept


@dataclass(frozen=True)
class _Run:
    """One graded student's run of one test, as the details say."""

    passed: bool
    cause: str  # "" when passed
    example: str
    leaks: tuple[tuple[str, str], ...]  # (kind, "object — clean it up with fix")


def class_figures(out: Path) -> ClassFigures:
    """The figures of the batch in `out`, from its files alone."""
    lab = _lab_of(out)
    rows = _rows(out, lab)
    members = {r["key"]: Member(r["key"], r["student"]) for r in rows}
    graded = [r for r in rows if r["status"] == gradebook.GRADED]
    runs: dict[str, dict[str, _Run]] = {}
    missing: list[str] = []
    for row in graded:
        found = _runs_of(out, lab, row)
        if found is None:
            missing.append(row["key"])
            found = _runs_from_record(lab, row)
        runs[row["key"]] = found
    scores = [float(r["score"]) for r in rows]
    tests = [_test_figures(spec, runs, members) for spec in lab.tests]
    return ClassFigures(
        lab=lab.name,
        title=lab.title,
        max_score=lab.max_score,
        students=len(rows),
        graded=len(graded),
        not_gradable=sum(r["status"] == gradebook.NOT_GRADABLE for r in rows),
        grader_errors=sum(r["status"] == gradebook.ERROR for r in rows),
        # Over every student, as summary.json: a missing submission is a 0 too.
        mean=round(statistics.fmean(scores), 2) if scores else 0,
        median=round(statistics.median(scores), 2) if scores else 0,
        distribution=gradebook.distribution(lab, scores),
        tests=sorted(tests, key=lambda t: (t.rate, _order(lab, t.name))),
        categories=_categories(lab, tests),
        leaks=_leak_groups(lab, runs, members),
        build_errors=_build_errors(out, rows, members),
        not_gradable_reasons=_reason_groups(rows, members, gradebook.NOT_GRADABLE, skip_build_errors=True),
        grader_error_reasons=_reason_groups(rows, members, gradebook.ERROR),
        missing_details=missing,
    )


def _lab_of(out: Path) -> Lab:
    manifest = gradebook.state_directory(out) / gradebook.MANIFEST
    try:
        name = json.loads(manifest.read_text())["lab"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise GraderError(
            f"{out} does not hold a batch: {manifest} is missing or unreadable ({e})",
            tip="pass the --out directory of a ./grade batch run",
        )
    return load_lab(name)


def _rows(out: Path, lab: Lab) -> list[dict[str, Any]]:
    """The records of the gradebook's students, in key order. The gradebook
    says who is in the class: a record left from a student no longer in it
    is not counted."""
    in_gradebook = _gradebook_students(out)
    rows = []
    for path in sorted(gradebook.state_directory(out).glob("*.json")):
        if path.name == gradebook.MANIFEST:
            continue
        record = gradebook.read_record(out, path.stem)
        if not record or record.get("lab") != lab.name or record.get("key") != path.stem:
            continue
        if in_gradebook is not None and record.get("student") not in in_gradebook:
            continue
        rows.append(record)
    if not rows:
        raise GraderError(
            f"{out} holds no student records yet", tip="run ./grade batch with --out to this directory first"
        )
    return sorted(rows, key=lambda r: r["key"])


def _gradebook_students(out: Path) -> set[str] | None:
    try:
        with open(out / "gradebook.csv", newline="") as f:
            return {row["student"] for row in csv.DictReader(f)}
    except OSError:
        return None  # a batch still running: every record counts


def _order(lab: Lab, name: str) -> int:
    return [t.name for t in lab.tests].index(name)


def _runs_of(out: Path, lab: Lab, row: dict[str, Any]) -> dict[str, _Run] | None:
    try:
        details = json.loads(details_path(out, row["key"]).read_text())
    except (OSError, ValueError):
        return None
    specs = {t.name: t for t in lab.tests}
    runs = {}
    for test in details.get("tests", []):
        spec = specs.get(test.get("name"))
        if spec is None:
            continue  # a test removed from lab.toml since
        runs[spec.name] = _run(spec, test)
    return runs


def _run(spec: TestSpec, test: dict[str, Any]) -> _Run:
    # Passed as the gradebook counts it: full points (a test the reference
    # also fails is not charged, so it counts as passed there too).
    passed = float(test.get("score", 0)) >= spec.points
    output = str(test.get("output", ""))
    leaks = tuple(
        (str(x.get("kind")), f"{x.get('object')} — clean it up with {x.get('fix')}") for x in test.get("leaks", [])
    )
    if passed:
        return _Run(True, "", "", leaks)
    return _Run(False, cause(_status(test.get("status")), output), _example(spec, output), leaks)


def _status(text: object) -> Status | str:
    """A run's Status, as the JSON report wrote it; or what else it says
    ("lab broken")."""
    try:
        return Status(text)
    except ValueError:
        return str(text or "")


def _runs_from_record(lab: Lab, row: dict[str, Any]) -> dict[str, _Run]:
    """A student graded before details were kept: pass or fail from the record."""
    return {
        t.name: _Run(
            row["tests"].get(t.name, 0) >= t.points, "cause not recorded (graded before details were kept)", "", ()
        )
        for t in lab.tests
    }


_SIGNAL = re.compile(r"killed by signal (\d+) \((\w+)\)")
# doctest's "public_test.cpp:170: ERROR: CHECK( x == y ) is NOT correct!"
_CHECK = re.compile(r"^\S+:\d+: (?:FATAL )?ERROR: (.+?)(?: is NOT correct!)?$")


def cause(status: Status | str, output: str) -> str:
    """What the grader observed, as a group label: the status, and for a
    crash the signal; a failure that is not a failed check says what it was."""
    first = output.splitlines()[0] if output else ""
    if status is Status.CRASHED:
        signal = _SIGNAL.search(first)
        if signal:
            return f"crashed by signal {signal.group(1)} ({signal.group(2)})"
        if "inspector" in first:
            return "crashed: killed the sandbox's inspector"
        return "crashed"
    if status is Status.FAILED:
        if first.startswith("failed; the checks"):
            # The same check failing is the same mistake, wherever it is.
            # The output is quoted line by line (feedback.QUOTE) below the detail.
            lines = (line.removeprefix(feedback.QUOTE) for line in output.splitlines())
            check = next((m.group(1) for m in map(_CHECK.match, lines) if m), None)
            return f"failed check: {check}" if check else "failed checks"
        if "processes" in first and "fork()" in first:
            return "failed: a forked child returned into the test"
        if "checks held" in first:
            return "failed: checks held, then a bad exit status"
        return "failed"
    if status is Status.SKIPPED:
        return "skipped: a test it depends on failed"
    return status.value if isinstance(status, Status) else status or "failed"


def _example(spec: TestSpec, output: str) -> str:
    """The evidence, without the hint (shown once per test) and the leak
    lines (grouped on their own)."""
    without_hint = output.replace(f"hint: {spec.hint}", "")
    lines = [line for line in without_hint.splitlines() if not line.startswith("left behind")]
    return _shortened("\n".join(lines).strip())


def _shortened(text: str) -> str:
    lines = text.splitlines()
    cut = "\n".join(lines[:EXAMPLE_LINES])[:EXAMPLE_CHARS]
    return cut + ("\n[…]" if cut != text else "")


def _test_figures(spec: TestSpec, runs: dict[str, dict[str, _Run]], members: dict[str, Member]) -> TestFigures:
    groups: dict[str, Group] = {}
    passed = 0
    for key in sorted(runs):
        run = runs[key].get(spec.name)
        if run is None:
            continue
        if run.passed:
            passed += 1
        else:
            _join(groups, run.cause, members[key], run.example)
        for kind, found in run.leaks:
            _join(groups, f"left a {kind}", members[key], found)
    causes = sorted(groups.values(), key=lambda g: (-len(g.students), g.label))
    return TestFigures(
        spec.name,
        spec.category,
        spec.hidden,
        spec.points,
        spec.hint,
        passed,
        sum(spec.name in r for r in runs.values()),
        causes,
    )


def _join(groups: dict[str, Group], label: str, member: Member, example: str) -> None:
    group = groups.setdefault(label, Group(label))
    if member not in group.students:
        group.students.append(member)
    if not group.example_of:
        group.example, group.example_of = example, member.key  # the first student in key order


def _categories(lab: Lab, tests: list[TestFigures]) -> list[CategoryFigures]:
    figures: dict[str, CategoryFigures] = {}
    for spec in lab.tests:  # lab.toml order breaks ties
        figures.setdefault(spec.category, CategoryFigures(spec.category, 0, 0, 0))
    for test in tests:
        category = figures[test.category]
        category.tests += 1
        category.passed += test.passed
        category.runs += test.graded
    return sorted(figures.values(), key=lambda c: c.rate)


def _leak_groups(lab: Lab, runs: dict[str, dict[str, _Run]], members: dict[str, Member]) -> list[Group]:
    """Each kind of leak across the class: who left it, in which tests."""
    groups: dict[str, Group] = {}
    where: dict[str, list[str]] = {}
    for key in sorted(runs):
        for spec in lab.tests:
            run = runs[key].get(spec.name)
            for kind, found in run.leaks if run else ():
                _join(groups, kind, members[key], f"{spec.name}: {found}")
                if spec.name not in where.setdefault(kind, []):
                    where[kind].append(spec.name)
    for kind, group in groups.items():
        group.example += "\nleft in: " + "; ".join(where[kind])
    return sorted(groups.values(), key=lambda g: (-len(g.students), g.label))


BUILD_ERROR = "does not compile: "
# "pipe_lab.cpp:93:27: error: …": the place differs from student to student,
# the mistake is the same.
_PLACE = re.compile(r"^\S*?:\d+(?::\d+)?:\s*")


def _build_errors(out: Path, rows: list[dict[str, Any]], members: dict[str, Member]) -> list[Group]:
    groups: dict[str, Group] = {}
    for row in rows:
        if not row["reason"].startswith(BUILD_ERROR):
            continue
        first = row["reason"][len(BUILD_ERROR) :]
        _join(groups, _PLACE.sub("", first), members[row["key"]], _diagnostics(out, row["key"], first))
    return sorted(groups.values(), key=lambda g: (-len(g.students), g.label))


def _diagnostics(out: Path, key: str, first: str) -> str:
    """The compiler's output from its first error on, or that line alone."""
    try:
        diagnostics = json.loads(details_path(out, key).read_text()).get("diagnostics", "")
    except (OSError, ValueError):
        return first
    lines = diagnostics.splitlines()
    start = next((i for i, line in enumerate(lines) if first.strip() in line), 0)
    return _shortened("\n".join(lines[start:]).strip()) or first


def _reason_groups(
    rows: list[dict[str, Any]], members: dict[str, Member], status: str, skip_build_errors: bool = False
) -> list[Group]:
    groups: dict[str, Group] = {}
    for row in rows:
        if row["status"] != status or skip_build_errors and row["reason"].startswith(BUILD_ERROR):
            continue
        reason = row["reason"] or status
        label = _kind_of_problem(reason) if status == gradebook.NOT_GRADABLE else reason
        _join(groups, label, members[row["key"]], reason)
    return sorted(groups.values(), key=lambda g: (-len(g.students), g.label))


def _kind_of_problem(reason: str) -> str:
    """The kind of problem, without what is each student's own: "x.cpp is
    missing (the submission holds README.txt)" -> "x.cpp is missing",
    "a.zip refused: path leaving the directory: ../x" -> "a.zip refused:
    path leaving the directory"."""
    kind = reason.split(" (", 1)[0].split(" — ", 1)[0]
    return ": ".join(kind.split(": ")[:2])


def to_json(figures: ClassFigures) -> dict[str, Any]:
    data: dict[str, Any] = {"format_version": FORMAT_VERSION, **asdict(figures)}
    for test, raw in zip(figures.tests, data["tests"]):
        raw["pass_rate"] = round(test.rate, 4)
    for category, raw in zip(figures.categories, data["categories"]):
        raw["pass_rate"] = round(category.rate, 4)
    return data


# ---- the page ----------------------------------------------------------------


def write(out: Path) -> Path:
    """report.html and class_report.json in DIR, from DIR alone; atomically."""
    figures = class_figures(out)
    atomic.write_atomically(out / FIGURES, json.dumps(to_json(figures), indent=2, ensure_ascii=False) + "\n")
    page = out / PAGE
    atomic.write_atomically(page, render(figures))
    return page


def render(figures: ClassFigures) -> str:
    t = safe_text
    sections = [
        _distribution_section(figures),
        _test_section(figures),
        _category_section(figures),
        _causes_section(figures),
        _leak_section(figures),
        _not_gradable_section(figures),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{t(figures.lab)}: class report (staff only)</title>",
            f"<style>{_CSS}</style>",
            "</head>",
            "<body>",
            "<header>",
            f"<h1>{t(figures.lab)} — {t(figures.title)}: class report</h1>",
            '<p class="staff" id="staff">For course staff only. This page names the hidden tests and shows students\' '
            "output: do not share it with students.</p>",
            _contents(),
            "</header>",
            "<main>",
            *sections,
            "</main>",
            f"<footer>Rebuilt from the batch's directory by <code>./grade report DIR</code>; the same figures are in "
            f"<code>{FIGURES}</code> (format version {FORMAT_VERSION}).</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


_SECTIONS = (
    ("distribution", "Score distribution"),
    ("tests", "Pass rate per test"),
    ("categories", "Pass rate per category"),
    ("causes", "Why tests failed"),
    ("leaks", "What was left behind"),
    ("not-gradable", "Not gradable"),
)


def _contents() -> str:
    links = "".join(f'<li><a href="#{anchor}">{title}</a></li>' for anchor, title in _SECTIONS)
    return f'<nav><ul class="contents">{links}</ul></nav>'


def _number(value: float) -> str:
    return f"{value:g}"


def _percent(rate: float) -> str:
    return f"{100 * rate:.0f} %"


def _distribution_section(f: ClassFigures) -> str:
    facts = [
        ("students", str(f.students)),
        ("graded", str(f.graded)),
        ("not gradable", str(f.not_gradable)),
        ("mean", f"{_number(f.mean)} / {_number(f.max_score)}"),
        ("median", f"{_number(f.median)} / {_number(f.max_score)}"),
    ]
    if f.grader_errors:
        facts.append(("grader errors", str(f.grader_errors)))
    cells = "".join(
        f'<div class="fact" data-fact="{safe_text(name)}"><dt>{name}</dt><dd>{value}</dd></div>'
        for name, value in facts
    )
    return (
        '<section id="distribution"><h2>Score distribution</h2>'
        f'<dl class="facts">{cells}</dl>{histogram(f.distribution)}'
        '<p class="note">Per cent of the maximum score, over every student (a submission that could not be graded '
        "counts as 0).</p></section>"
    )


def histogram(distribution: dict[str, int]) -> str:
    """Students per score bucket as an inline SVG bar chart: a rectangle and
    a count per bucket, drawn here (no script, no library)."""
    width, height, top, bottom, left = 660, 220, 24, 36, 10
    slot = (width - 2 * left) / max(1, len(distribution))
    tallest = max(distribution.values(), default=0) or 1
    bars = []
    for index, (bucket, count) in enumerate(distribution.items()):
        bar_height = (height - top - bottom) * count / tallest
        x = left + index * slot
        y = height - bottom - bar_height
        bars.append(
            f'<g class="bar" data-bucket="{safe_text(bucket)}" data-count="{count}">'
            f"<title>{safe_text(bucket)} %: {count} student(s)</title>"
            f'<rect x="{x + 4:.1f}" y="{y:.1f}" width="{slot - 8:.1f}" height="{bar_height:.1f}"></rect>'
            f'<text class="count" x="{x + slot / 2:.1f}" y="{y - 6:.1f}" text-anchor="middle">{count}</text>'
            f'<text class="bucket" x="{x + slot / 2:.1f}" y="{height - bottom + 16:.1f}" text-anchor="middle">'
            f"{safe_text(bucket)}</text></g>"
        )
    axis = f'<line x1="{left}" y1="{height - bottom}" x2="{width - left}" y2="{height - bottom}"></line>'
    label = f'<text class="axis" x="{width / 2:.0f}" y="{height - 4}" text-anchor="middle">score, per cent of the maximum</text>'
    return (
        f'<svg class="histogram" id="histogram" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="students per score bucket">{axis}{"".join(bars)}{label}</svg>'
    )


def _rate_bar(rate: float) -> str:
    return f'<span class="meter" aria-hidden="true"><span style="width:{100 * rate:.1f}%"></span></span>'


def _test_name(name: str, hidden: bool) -> str:
    badge = ' <span class="hidden-badge">hidden</span>' if hidden else ""
    return f"{safe_text(name)}{badge}"


def _test_section(f: ClassFigures) -> str:
    rows = "".join(
        f'<tr data-test="{safe_text(t.name)}" data-passed="{t.passed}" data-graded="{t.graded}">'
        f'<td class="name">{_test_name(t.name, t.hidden)}</td><td>{safe_text(t.category)}</td>'
        f'<td class="num points">{_number(t.points)}</td>'
        f'<td class="num rate">{t.passed} / {t.graded}</td><td class="num">{_percent(t.rate)}</td>'
        f"<td>{_rate_bar(t.rate)}</td></tr>"
        for t in f.tests
    )
    return (
        '<section id="tests"><h2>Pass rate per test</h2>'
        f'<p class="note">Worst first, over the {f.graded} students whose submission built and ran. '
        "Passed means full points, as in the gradebook.</p>"
        '<div class="scroll"><table class="rates per-test"><thead><tr><th>test</th><th>category</th>'
        '<th class="points">points</th>'
        f"<th>passed</th><th>rate</th><th></th></tr></thead><tbody>{rows}</tbody></table></div></section>"
    )


def _category_section(f: ClassFigures) -> str:
    rows = "".join(
        f'<tr data-category="{safe_text(c.name)}" data-passed="{c.passed}" data-runs="{c.runs}">'
        f'<td class="name">{safe_text(c.name)}</td><td class="num">{c.tests}</td>'
        f'<td class="num">{c.passed} / {c.runs}</td><td class="num">{_percent(c.rate)}</td>'
        f"<td>{_rate_bar(c.rate)}</td></tr>"
        for c in f.categories
    )
    return (
        '<section id="categories"><h2>Pass rate per category</h2>'
        '<p class="note">Worst first: passing runs over graded students × tests in the category.</p>'
        '<div class="scroll"><table class="rates"><thead><tr><th>category</th><th>tests</th><th>passed</th>'
        f"<th>rate</th><th></th></tr></thead><tbody>{rows}</tbody></table></div></section>"
    )


def _students(group: Group) -> str:
    links = ", ".join(
        # The key is safe in file names; quoted anyway, since it comes from the platform.
        f'<a href="feedback/{safe_text(quote(m.key))}.md" data-key="{safe_text(m.key)}">{safe_text(m.student)}</a>'
        for m in group.students
    )
    return f'<p class="students">{links}</p>'


def _group(group: Group, kind: str) -> str:
    example = ""
    if group.example:
        example = (
            f'<details class="example" open><summary>example: {safe_text(group.example_of)}</summary>'
            f"<pre>{safe_text(group.example, multiline=True)}</pre></details>"
        )
    return (
        f'<li class="group" data-{kind}="{safe_text(group.label)}" data-count="{len(group.students)}">'
        f'<span class="label">{safe_text(group.label)}</span> <span class="count">{len(group.students)}</span>'
        f"{_students(group)}{example}</li>"
    )


def _groups(groups: list[Group], kind: str) -> str:
    return f'<ul class="groups">{"".join(_group(g, kind) for g in groups)}</ul>'


def _causes_section(f: ClassFigures) -> str:
    failing = [t for t in f.tests if t.causes]
    if not failing:
        return '<section id="causes"><h2>Why tests failed</h2><p>Every graded student passed every test.</p></section>'
    parts = []
    for t in failing:
        parts.append(
            f'<article class="test" data-test="{safe_text(t.name)}"><h3>{_test_name(t.name, t.hidden)} '
            f'<span class="rate-small">{t.passed} / {t.graded} passed</span></h3>'
            f'<p class="hint">hint: {safe_text(t.hint)}</p>{_groups(t.causes, "cause")}</article>'
        )
    note = ""
    if f.missing_details:
        note = (
            f'<p class="note">{len(f.missing_details)} student(s) were graded before details were kept: '
            "their causes are not known.</p>"
        )
    return (
        '<section id="causes"><h2>Why tests failed</h2>'
        '<p class="note">Per test, worst first, grouped by what the grader observed; the example is the first '
        f"student's, without the hint. Open it for the evidence.</p>{note}{''.join(parts)}</section>"
    )


def _leak_section(f: ClassFigures) -> str:
    body = _groups(f.leaks, "leak") if f.leaks else "<p>No test left anything behind.</p>"
    return (
        '<section id="leaks"><h2>What was left behind</h2>'
        f'<p class="note">Leak kinds across the class, most students first.</p>{body}</section>'
    )


def _not_gradable_section(f: ClassFigures) -> str:
    parts = ['<section id="not-gradable"><h2>Not gradable</h2>']
    parts.append(f'<p class="note">{f.not_gradable} student(s) scored 0 without running a test.</p>')
    parts.append('<h3 id="build-errors">Build errors, by the compiler\'s first error</h3>')
    parts.append(_groups(f.build_errors, "build-error") if f.build_errors else "<p>Every submission compiled.</p>")
    if f.not_gradable_reasons:
        parts += ["<h3>Other reasons</h3>", _groups(f.not_gradable_reasons, "reason")]
    if f.grader_error_reasons:
        parts += [
            "<h3>Grader errors (not the students' fault: <code>--resume</code> grades them again)</h3>",
            _groups(f.grader_error_reasons, "grader-error"),
        ]
    parts.append("</section>")
    return "".join(parts)


_CSS = """
:root { color-scheme: light; --ink: #1d232a; --muted: #5b6673; --line: #d6dbe1; --bad: #b3261e; --good: #1f7a3a; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 1rem 1.25rem 3rem; color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 1.5rem; margin: .5rem 0; } h2 { font-size: 1.2rem; margin: 2rem 0 .5rem;
  border-bottom: 2px solid var(--line); padding-bottom: .2rem; } h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
.staff { background: #fff4d6; border: 1px solid #e0b84a; padding: .5rem .75rem; border-radius: 4px; font-weight: 600; }
.contents { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .3rem 1rem; }
.note, footer { color: var(--muted); font-size: .9rem; }
.facts { display: flex; flex-wrap: wrap; gap: .5rem; margin: .5rem 0; }
.fact { border: 1px solid var(--line); border-radius: 4px; padding: .3rem .7rem; min-width: 7.5rem; }
.fact dt { color: var(--muted); font-size: .8rem; } .fact dd { margin: 0; font-size: 1.2rem; font-weight: 600; }
.histogram { width: 100%; max-width: 660px; height: auto; display: block; }
.histogram rect { fill: #3867a8; } .histogram line { stroke: var(--ink); }
.histogram text { font-size: 12px; fill: var(--ink); } .histogram .axis { fill: var(--muted); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: .3rem .5rem;
  border-bottom: 1px solid var(--line); vertical-align: top; } th { font-size: .85rem; color: var(--muted); }
td.num { text-align: right; white-space: nowrap; } td.name { min-width: 14rem; }
.meter { display: inline-block; width: 8rem; height: .7rem; background: #f1d4d2; border-radius: 2px; }
.meter span { display: block; height: 100%; background: var(--good); border-radius: 2px; }
.hidden-badge { font-size: .75rem; background: #ece6f7; color: #4b2a8a; border-radius: 3px; padding: 0 .3rem; }
.rate-small { font-weight: normal; color: var(--muted); font-size: .85rem; }
.hint { color: var(--muted); font-size: .9rem; margin: .2rem 0; }
.groups { list-style: none; padding: 0; margin: .3rem 0; }
.group { border-left: 4px solid var(--bad); padding: .3rem .6rem; margin: .4rem 0; background: #fbf7f7; }
.group .label { font-weight: 600; overflow-wrap: anywhere; }
.group .count { display: inline-block; min-width: 1.6rem; text-align: center; background: var(--bad); color: #fff;
  border-radius: 9px; font-size: .8rem; padding: 0 .35rem; }
.students { margin: .2rem 0; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f4f5f7; padding: .5rem; border-radius: 4px;
  font-size: .8rem; max-height: 22rem; overflow: auto; }
a { color: #1a56a5; }
@media (max-width: 640px) {
  body { padding: .6rem; font-size: 14px; }
  td.name { min-width: 8rem; } th, td { padding: .3rem .3rem; }
  /* The meter and the points give way, so the rate fits beside the name. */
  .rates td:last-child, .rates th:last-child, .per-test .points { display: none; }
  .fact { min-width: 45%; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav, .meter { display: none; }
  .staff { background: none; border: 2px solid #000; }
  .group { background: none; break-inside: avoid; }
  .group .count { background: none; color: #000; border: 1px solid #000; }
  details.example > pre { max-height: none; }
  h2, h3 { break-after: avoid; } tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""
