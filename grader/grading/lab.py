"""A lab, as its lab.toml describes it. The grader reads nothing about a lab
from anywhere else, so adding a lab is adding a directory."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader import toml
from grader.errors import GraderError

REPO = Path(__file__).resolve().parents[2]
LABS = REPO / "labs"
SOLUTIONS = REPO / "solutions"

# Characters doctest's --test-case filter treats specially: a name holding one
# could select the wrong test cases, so such names are refused.
FILTER_CHARACTERS = set(",*?\\[]")
# The categories a test can be in, each with its heading under "What is
# graded" in the write-ups, in the order the write-ups list them. Handouts,
# selfcheck and lab.toml's checks all read this one table.
CATEGORIES = {
    "ordering": "Ordering",
    "boundaries": "Message boundaries",
    "eof": "EOF on close",
    "blocking": "Blocking",
    "nonblocking": "Non-blocking calls",
    "cleanup": "Cleanup",
    "errors": "Errors",
    "stress": "Stress",
}
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}


@dataclass(frozen=True)
class TestSpec:
    __test__ = False  # not a pytest test class, despite the name

    name: str
    points: float
    category: str
    hint: str
    hidden: bool = False
    timeout: float | None = None  # seconds; None: the lab's default
    depends: tuple[str, ...] = ()
    visibility: str = "visible"  # as Gradescope shows it to students
    # [tests.hints]: cause the test can observe -> the hint for that cause,
    # given in place of `hint` when the test reports it saw that cause.
    hints: tuple[tuple[str, str], ...] = ()

    def hints_for(self, observed: tuple[str, ...]) -> list[str]:
        """The hints of the causes the test observed; `hint` when it saw
        none that lab.toml names."""
        known = dict(self.hints)
        chosen = [known[cause] for cause in observed if cause in known]
        return chosen or [self.hint]

    @property
    def secret(self) -> bool:
        """Its results are not for students yet (Gradescope's visibility is
        not "visible"): no report a student reads names it, quotes its
        output or gives its hint, and no total there counts it."""
        return self.visibility != "visible"


@dataclass(frozen=True)
class SubmissionPolicy:
    """lab.toml [submissions]: applied where the course platform says when a
    submission was made and what came before it (Gradescope's
    submission_metadata.json); 0 everywhere: no limit, no penalty."""

    max_submissions: int = 0  # graded submissions per student; a later one keeps the last score
    late_penalty_per_day: float = 0.0  # per cent of the lab's points, per day or part of a day late
    max_late_penalty: float = 100.0  # per cent of the lab's points, at most

    @property
    def any(self) -> bool:
        return bool(self.max_submissions or self.late_penalty_per_day)


@dataclass(frozen=True)
class Lab:
    name: str
    title: str
    student_files: tuple[str, ...]
    timeout: float
    tests: tuple[TestSpec, ...]
    limits: dict[str, int] = field(default_factory=dict)
    leak_deduction: float = 0.0  # points off per kind of leak found; 0: reported only
    max_leak_deduction: float = 0.0
    submissions: SubmissionPolicy = SubmissionPolicy()

    @property
    def directory(self) -> Path:
        return LABS / self.name

    @property
    def solution_directory(self) -> Path:
        return SOLUTIONS / self.name

    @property
    def has_solution(self) -> bool:
        """Starter packs ship without solutions/: public tests only."""
        return (self.solution_directory / "BUILD").exists()

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests)

    def test(self, name: str) -> TestSpec:
        return next(t for t in self.tests if t.name == name)

    def timeout_of(self, test: TestSpec) -> float:
        return test.timeout if test.timeout is not None else self.timeout


def available_labs() -> list[str]:
    """The labs here, in the course's order (labs/course.toml), then any
    other in alphabetical order (a starter pack has one lab, and no list)."""
    found = {p.parent.name for p in LABS.glob("*/lab.toml")}
    order = _course_order()
    return [name for name in order if name in found] + sorted(found - set(order))


def _course_order(path: Path | None = None) -> list[str]:
    path = path or LABS / "course.toml"
    if not path.exists():
        return []
    shown = "labs/course.toml"
    try:
        order = toml.loads(path.read_text()).get("order", [])
    except toml.TOMLDecodeError as e:
        raise GraderError(f"{shown} is not valid TOML: {e}") from e
    if not isinstance(order, list) or not all(isinstance(name, str) for name in order):
        raise GraderError(f'{shown}: order must be a list of lab names, such as ["pipe", "fifo"]')
    return order


def load_lab(name: str) -> Lab:
    path = LABS / name / "lab.toml"
    if not path.exists():
        known = ", ".join(available_labs()) or "none"
        raise GraderError(f"there is no lab named {name!r}", tip=f"labs in this repository: {known}")
    try:
        data = toml.loads(path.read_text())
    except toml.TOMLDecodeError as e:
        raise GraderError(f"{path.relative_to(REPO)} is not valid TOML: {e}") from e
    return _parse(name, data, path.relative_to(REPO))


def _parse(name: str, data: dict, where: Path) -> Lab:
    header = data.get("lab", {})
    problems: list[str] = []
    tests = []
    for index, raw in enumerate(data.get("tests", [])):
        label = f"[[tests]] #{index + 1} ({raw.get('name', 'no name')!r})"
        missing = [key for key in ("name", "points", "category", "hint") if key not in raw]
        if missing:
            problems.append(f"{label} lacks {', '.join(missing)}")
            continue
        if FILTER_CHARACTERS & set(raw["name"]):
            problems.append(f"{label}: a test name may not contain any of , * ? \\ [ ]")
        if raw["category"] not in CATEGORIES:
            problems.append(f"{label}: category {raw['category']!r} is not one of {sorted(CATEGORIES)}")
        hidden = bool(raw.get("hidden", False))
        visibility = raw.get("visibility", "after_published" if hidden else "visible")
        if visibility not in VISIBILITIES:
            problems.append(f"{label}: visibility {visibility!r} is not one of {sorted(VISIBILITIES)}")
        hints = raw.get("hints", {})
        if not isinstance(hints, dict) or not all(isinstance(v, str) for v in hints.values()):
            problems.append(f"{label}: [tests.hints] must map each cause to its hint, as text")
            hints = {}
        tests.append(
            TestSpec(
                name=raw["name"],
                points=float(raw["points"]),
                category=raw["category"],
                hint=raw["hint"].strip(),
                hidden=hidden,
                timeout=raw.get("timeout"),
                depends=tuple(raw.get("depends", ())),
                visibility=visibility,
                hints=tuple((cause, text.strip()) for cause, text in hints.items()),
            )
        )
    problems += _check_names(tests)
    policy = _submission_policy(data.get("submissions", {}), problems)
    for key in ("title", "student_files"):
        if key not in header:
            problems.append(f"[lab] lacks {key}")
    if problems:
        raise GraderError(f"{where} is not a valid lab description:\n  " + "\n  ".join(problems))
    return Lab(
        name=name,
        title=header["title"],
        student_files=tuple(header["student_files"]),
        timeout=float(header.get("timeout", 20)),
        tests=tuple(tests),
        limits=dict(data.get("limits", {})),
        leak_deduction=float(data.get("leaks", {}).get("deduction", 0)),
        max_leak_deduction=float(data.get("leaks", {}).get("max_deduction", 0)),
        submissions=policy,
    )


# lab.toml [submissions] key -> SubmissionPolicy field
POLICY_SETTINGS = {
    "max": "max_submissions",
    "late_penalty_per_day": "late_penalty_per_day",
    "max_late_penalty": "max_late_penalty",
}


def _submission_policy(raw: dict, problems: list[str]) -> SubmissionPolicy:
    """[submissions]; problems gets a sentence for each setting that is
    unknown or out of range (that setting is then left at its default)."""
    problems += [
        f"[submissions] has no setting {key!r}; the settings are {', '.join(POLICY_SETTINGS)}"
        for key in raw
        if key not in POLICY_SETTINGS
    ]
    values: dict[str, float] = {}
    for key, field_name in POLICY_SETTINGS.items():
        if key not in raw:
            continue
        problem = _policy_problem(key, raw[key])
        if problem:
            problems.append(f"[submissions] {key} = {raw[key]!r}: {problem}")
        else:
            values[field_name] = raw[key]
    return SubmissionPolicy(
        max_submissions=int(values.get("max_submissions", 0)),
        late_penalty_per_day=float(values.get("late_penalty_per_day", 0)),
        max_late_penalty=float(values.get("max_late_penalty", 100)),
    )


def _policy_problem(key: str, value: object) -> str:
    """What is wrong with one [submissions] value; "" when nothing is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return "a number of at least 0 is expected"
    if key == "max" and value != int(value):
        return "a whole number of submissions is expected"
    if key != "max" and value > 100:
        return "a percentage from 0 to 100 is expected"
    return ""


def _check_names(tests: list[TestSpec]) -> list[str]:
    problems = []
    seen: set[str] = set()
    for test in tests:
        # doctest matches --test-case without regard to case.
        if test.name.lower() in seen:
            problems.append(f"test {test.name!r} is declared twice")
        seen.add(test.name.lower())
    names = {t.name for t in tests}
    for test in tests:
        for dependency in test.depends:
            if dependency not in names:
                problems.append(f"test {test.name!r} depends on {dependency!r}, which is not declared")
    return problems


def check_against_binary(lab: Lab, listed: dict[str, bool]) -> None:
    """Refuse a lab whose lab.toml and test binary disagree.

    listed: test case name -> whether its source is a hidden test.
    """
    declared = {t.name: t for t in lab.tests}
    problems = [f"test case {n!r} is in the tests but has no entry in lab.toml" for n in listed if n not in declared]
    for name, test in declared.items():
        if name not in listed:
            if test.hidden and not lab.has_solution:
                continue  # a starter pack: hidden tests are not there, by design
            problems.append(f"lab.toml declares {name!r}, but no test case has that name")
        elif listed[name] != test.hidden:
            where = "a hidden test source (solutions/)" if listed[name] else "a public test source (labs/)"
            problems.append(f"{name!r} is in {where}, but lab.toml says hidden = {str(test.hidden).lower()}")
    if problems:
        raise GraderError(
            f"lab {lab.name!r} is broken: labs/{lab.name}/lab.toml does not match its tests:\n  "
            + "\n  ".join(problems),
            tip="every test case needs exactly one [[tests]] entry with the same name",
        )
