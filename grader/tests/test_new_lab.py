"""./grade new-lab: the files it writes, the names and titles it refuses
(writing nothing then), labs/course.toml gaining the lab, and — in a copy
of the repository — a scaffolded lab that builds, grades its skeleton 0 and
its reference full marks, and fails selfcheck only for what is still to
write. No test scaffolds into the real repository: other tests list its labs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import grader.publishing
from grader import cli
from grader.publishing import handout, new_lab, pack_files
from grader.errors import GraderError
from grader.grading.lab import CATEGORIES, REPO, _parse
from grader.checks.selfcheck import MIN_BUGS

TITLE = 'Round trips: a pipe and "back"'


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository holding what new-lab reads: the course's order, and one lab."""
    root = tmp_path / "repo"
    (root / "labs" / "pipe").mkdir(parents=True)
    shutil.copyfile(REPO / "labs" / "course.toml", root / "labs" / "course.toml")
    (root / "labs" / "pipe" / "lab.toml").write_text("[lab]\n")
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} | {
        p.relative_to(root).as_posix() + "/": b"" for p in root.rglob("*") if p.is_dir()
    }


def course_order(root: Path) -> list[str]:
    return tomllib.loads((root / "labs" / "course.toml").read_text())["order"]


EXPECTED_FILES = [
    "handouts/demo.md",
    "labs/demo/BUILD",
    "labs/demo/demo_lab.cpp",
    "labs/demo/demo_lab.h",
    "labs/demo/demo_test_support.h",
    "labs/demo/lab.toml",
    "labs/demo/public_test.cpp",
    "solutions/demo/BUILD",
    "solutions/demo/bugs/README.md",
    "solutions/demo/demo_lab.cpp",
    "solutions/demo/hidden_test.cpp",
]


# ---- what it writes -----------------------------------------------------------


def test_it_writes_exactly_the_files_of_a_lab_and_says_which(repo: Path, capsys) -> None:
    before = tree(repo)
    assert new_lab.main(["demo", "--title", TITLE], repo=repo) == 0
    after = tree(repo)
    added = sorted(p for p in after if p not in before and not p.endswith("/"))
    assert added == EXPECTED_FILES
    changed = [p for p in before if after.get(p) != before[p]]
    assert changed == ["labs/course.toml"]
    heading, *rest = capsys.readouterr().out.splitlines()
    assert heading == "lab 'demo' scaffolded:"
    listed = rest[: rest.index("Next:")]
    assert listed == [f"  {path}" for path in added] + ["  labs/course.toml (demo appended to order)"]
    steps = "\n".join(rest[len(listed) :])
    assert "./grade selfcheck demo" in steps and f"at least {MIN_BUGS} bugs" in steps


def test_the_lab_is_appended_to_the_course_order_and_its_comments_kept(repo: Path) -> None:
    original = (repo / "labs" / "course.toml").read_text()
    order = course_order(repo)
    new_lab.main(["demo"], repo=repo)
    text = (repo / "labs" / "course.toml").read_text()
    assert course_order(repo) == [*order, "demo"]
    assert [line for line in text.splitlines() if line.startswith("#")] == [
        line for line in original.splitlines() if line.startswith("#")
    ]
    new_lab.main(["ring"], repo=repo)
    assert course_order(repo) == [*order, "demo", "ring"]


def test_lab_toml_declares_exactly_the_test_cases_of_the_sources(repo: Path) -> None:
    new_lab.main(["demo", "--title", TITLE], repo=repo)
    data = tomllib.loads((repo / "labs/demo/lab.toml").read_text())
    lab = _parse("demo", data, Path("labs/demo/lab.toml"))
    assert lab.title == TITLE and lab.student_files == ("demo_lab.cpp",)
    assert data["limits"] and lab.leak_deduction > 0

    def cases(path: str) -> list[str]:
        return re.findall(r'^TEST_CASE\("([^"]+)"\)', (repo / path).read_text(), re.MULTILINE)

    assert cases("labs/demo/public_test.cpp") == [t.name for t in lab.tests if not t.hidden]
    assert cases("solutions/demo/hidden_test.cpp") == [t.name for t in lab.tests if t.hidden] != []
    assert all(t.points > 0 and t.hint for t in lab.tests)
    for directory in ("labs/demo", "solutions/demo"):
        assert (repo / directory / "demo_lab.cpp").exists()
    assert 'lab_public(name = "demo")' in (repo / "labs/demo/BUILD").read_text()
    assert 'lab_solution(name = "demo")' in (repo / "solutions/demo/BUILD").read_text()


def test_the_skeleton_throws_where_the_reference_works(repo: Path) -> None:
    new_lab.main(["demo"], repo=repo)
    skeleton = (repo / "labs/demo/demo_lab.cpp").read_text()
    reference = (repo / "solutions/demo/demo_lab.cpp").read_text()
    assert 'throw std::logic_error("not implemented: round_trip (demo_lab.cpp)");' in skeleton
    assert "not implemented" not in reference and "::pipe(" in reference and "::pipe(" not in skeleton
    header = (repo / "labs/demo/demo_lab.h").read_text()
    assert header.count("std::string round_trip(std::string_view message);") == 1
    assert "EXAMPLE" in header and "namespace demolab {" in header


def test_the_write_up_has_every_section_and_only_placeholders_to_write(repo: Path) -> None:
    new_lab.main(["demo", "--title", TITLE], repo=repo)
    lab = _parse("demo", tomllib.loads((repo / "labs/demo/lab.toml").read_text()), Path("lab.toml"))
    path = repo / "handouts/demo.md"
    lines = handout.read_lines(path)
    assert handout._section_problems(lines) == [] and handout._category_problems(lab, lines) == []
    headings = [line.text for line in lines if line.text.startswith("### ")]
    assert headings == [f"### {h}" for c, h in CATEGORIES.items() if c in {t.category for t in lab.tests}]
    assert [line.text for line in lines if line.text.startswith("::: ")] == [
        '::: include labs/demo/demo_lab.h from="// Sends" to="}  // namespace demolab"',
        "::: tests",
    ]
    assert path.read_text().startswith(f"# Lab `demo` — {TITLE}\n")
    placeholders = handout._placeholder_problems(lab, lines)
    assert len(placeholders) == 1 and placeholders[0].startswith("5 placeholders still to write in handouts/demo.md")


def test_without_a_title_the_title_is_a_placeholder_too(repo: Path) -> None:
    new_lab.main(["demo"], repo=repo)
    lab_toml = tomllib.loads((repo / "labs/demo/lab.toml").read_text())
    assert lab_toml["lab"]["title"].startswith(handout.PLACEHOLDER)
    assert (repo / "handouts/demo.md").read_text().count(handout.PLACEHOLDER) == 6


def test_the_readme_lists_exactly_the_files_a_new_lab_has() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## A new lab\n", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `((?:labs|solutions|handouts)/[^`]+)` \|", section, re.MULTILINE)
    scaffolded = [p.as_posix() for p in new_lab.scaffold_files("NAME", TITLE)]
    assert sorted(listed) == scaffolded
    assert "./grade new-lab" in section


# ---- what it refuses, writing nothing -----------------------------------------


@pytest.mark.parametrize(
    "name, complaint",
    [
        ("Pipe", "not a lowercase C++ identifier"),
        ("2pipe", "not a lowercase C++ identifier"),
        ("_stage", "not a lowercase C++ identifier"),
        ("shm-ring", "not a lowercase C++ identifier"),
        ("shm ring", "not a lowercase C++ identifier"),
        ("", "not a lowercase C++ identifier"),
        ("../pipe", "not a lowercase C++ identifier"),
        ("pipé", "not a lowercase C++ identifier"),
        ("shm__ring", "double underscore"),
        ("class", "is a C++ keyword"),
        ("new", "is a C++ keyword"),
        ("pipe", "a lab named 'pipe' exists already: labs/pipe"),
        ("channels", "a lab named 'channels' exists already: labs/course.toml's order"),
    ],
)
def test_a_name_that_cannot_be_a_new_lab_is_refused_and_nothing_written(repo: Path, name: str, complaint: str) -> None:
    before = tree(repo)
    with pytest.raises(GraderError) as error:
        new_lab.main([name], repo=repo)
    assert complaint in error.value.message
    assert error.value.tip
    assert tree(repo) == before


@pytest.mark.parametrize("taken", ["solutions/demo/", "handouts/demo.md"])
def test_any_file_of_the_lab_already_there_is_refused(repo: Path, taken: str) -> None:
    path = repo / taken
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir() if taken.endswith("/") else path.write_text("mine")
    before = tree(repo)
    with pytest.raises(GraderError, match=f"exists already: {taken.rstrip('/')}"):
        new_lab.main(["demo"], repo=repo)
    assert tree(repo) == before


@pytest.mark.parametrize(
    "title, complaint",
    [
        ("", "must be one line of text"),
        ("   ", "must be one line of text"),
        ("two\nlines", "must be one line of text"),
        ("a\x1b[2Jb", "must be one line of text"),
        ("Pipes and backslashes \\", "may not end with a backslash"),
    ],
)
def test_a_title_must_be_one_line_of_text(repo: Path, title: str, complaint: str) -> None:
    before = tree(repo)
    with pytest.raises(GraderError, match=complaint):
        new_lab.main(["demo", "--title", title], repo=repo)
    assert tree(repo) == before


@pytest.mark.parametrize(
    "course",
    [
        "# no order here\n",
        'order = ["pipe"]\n[other]\norder = ["x"]\n',
        'notes = """\norder = ["not", "this"]\n"""\norder = ["pipe"]\n',
        'notes = """\norder = ["not", "this"]\n"""\n',  # the one match is inside a string
    ],
)
def test_a_course_order_it_cannot_append_to_is_refused(repo: Path, course: str) -> None:
    (repo / "labs" / "course.toml").write_text(course)
    before = tree(repo)
    with pytest.raises(GraderError, match="labs/course.toml: "):
        new_lab.main(["demo"], repo=repo)
    assert tree(repo) == before


def test_without_course_toml_nothing_is_written(repo: Path) -> None:
    (repo / "labs" / "course.toml").unlink()
    before = tree(repo)
    with pytest.raises(GraderError, match="labs/course.toml is missing"):
        new_lab.main(["demo"], repo=repo)
    assert tree(repo) == before


def test_a_write_failing_part_way_leaves_the_tree_as_it_was(repo: Path, monkeypatch) -> None:
    def disk_full(path: Path, content: str) -> None:
        raise OSError(28, "No space left on device")

    before = tree(repo)
    monkeypatch.setattr(new_lab, "_replace", disk_full)  # every file written, then the order fails
    with pytest.raises(GraderError, match="No space left on device.*nothing of it is left"):
        new_lab.main(["demo"], repo=repo)
    assert tree(repo) == before


def test_the_command_refuses_in_words(capsys) -> None:
    # Against the real repository: both are refused before anything is written.
    assert cli.main(["new-lab", "Bad-Name"]) == cli.Exit.ERROR
    assert "'Bad-Name' is not a lowercase C++ identifier" in capsys.readouterr().err
    assert cli.main(["new-lab", "pipe"]) == cli.Exit.ERROR
    assert "a lab named 'pipe' exists already" in capsys.readouterr().err


def test_starter_packs_leave_the_scaffolder_out() -> None:
    shipped = {p.relative_to(REPO).as_posix() for p in pack_files.framework_files()}
    assert "grader/cli.py" in shipped and "grader/publishing/new_lab.py" not in shipped


def test_in_a_starter_pack_the_command_says_what_it_is_for(monkeypatch, capsys) -> None:
    # A pack has no grader/publishing/new_lab.py: importing it fails as it would there.
    monkeypatch.delattr(grader.publishing, "new_lab")
    monkeypatch.setitem(sys.modules, "grader.publishing.new_lab", None)
    assert cli.main(["new-lab", "demo"]) == cli.Exit.ERROR
    assert "writes a lab into the course repository; this is a starter pack" in capsys.readouterr().err


# ---- a scaffolded lab, built and checked in a copy of the repository ----------

# What a build and the grader need; not the other labs, not the grader's tests.
COPIED = ("WORKSPACE", "BUILD", ".bazelrc", ".gitignore", "grade", "third_party", "grader", "labs/course.toml")

SELFCHECK = """
import json
from rich.console import Console
from grader.checks import selfcheck
from grader.grading import sandbox
from grader.grading.lab import load_lab
checks = selfcheck.check_lab(load_lab("demo"), sandbox.detect(), Console(file=open("/dev/null", "w")), jobs=2)
print(json.dumps({c.name: [c.state.value, c.detail] for c in checks}))
"""


def copy_of_repository(target: Path) -> Path:
    for name in COPIED:
        source, copy = REPO / name, target / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("tests", "__pycache__"))
        else:
            shutil.copy2(source, copy)
    return target


def run(copy: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), cwd=copy, capture_output=True, text=True, timeout=1800)


def graded(copy: Path, *arguments: str) -> dict:
    result = run(copy, "./grade", "demo", "--format", "json", *arguments)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# A workspace of its own: a cold build, a minute or two here.
@pytest.mark.long
def test_a_scaffolded_lab_builds_grades_and_fails_selfcheck_only_for_what_is_to_write(tmp_path: Path) -> None:
    copy = copy_of_repository(tmp_path / "repo")
    try:
        scaffolded = run(copy, "./grade", "new-lab", "demo", "--title", TITLE)
        assert scaffolded.returncode == 0, scaffolded.stderr

        skeleton = graded(copy)
        assert skeleton["gradable"] and skeleton["score"] == 0 and skeleton["max_score"] == 10
        assert {t["status"] for t in skeleton["tests"]} <= {"failed", "skipped"}
        assert "not implemented: round_trip" in skeleton["tests"][0]["output"]

        reference = graded(copy, "--submission", "solutions/demo")
        assert reference["score"] == reference["max_score"] == 10
        assert reference["broken_tests"] == [] and reference["leaks"]["kinds"] == []

        table = run(copy, "./grade", "selfcheck", "demo", "--jobs", "2")
        assert table.returncode == cli.Exit.LAB_BROKEN, table.stderr
        assert "2 of 9 checks did not pass." in table.stdout

        result = run(copy, "/usr/bin/python3", "-c", SELFCHECK)
        assert result.returncode == 0, result.stderr
        checks = json.loads(result.stdout)
        verdicts = {name: verdict for name, (verdict, _) in checks.items()}
        assert verdicts == {
            "lab.toml": "ok",
            "reference": "ok",
            "skeleton": "ok",
            "bug corpus": "failed",
            "hidden tests": "ok",
            "handout": "failed",
            "starter pack": "ok",
            "mutants": "skipped",  # no mutation analysis yet: to do, as for any lab
            "contract": "ok",  # no sentence mapped yet: every one shows as a gap
        }
        assert checks["bug corpus"][1] == f"0 bugs in solutions/demo/bugs/; a lab needs at least {MIN_BUGS}"
        write_up = (copy / "handouts/demo.md").read_text().splitlines()
        lines = [str(n) for n, line in enumerate(write_up, start=1) if handout.PLACEHOLDER in line]
        assert checks["handout"][1] == (
            f"{len(lines)} placeholders still to write in handouts/demo.md (lines {', '.join(lines)}): "
            "replace each 'TO WRITE:' with the text it asks for"
        )

        published = run(copy, "./grade", "handout", "demo", "--output", str(tmp_path / "dist"))
        assert published.returncode == cli.Exit.ERROR and "is a draft, not fit to publish" in published.stderr
        assert not (tmp_path / "dist").exists()
    finally:
        # Free the copy's own Bazel output base and server.
        run(copy, "bazel", "clean", "--expunge")
        run(copy, "bazel", "shutdown")
