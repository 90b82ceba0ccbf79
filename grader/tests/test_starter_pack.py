"""Starter packs: what each holds, proof that none gives away the solution
(not its files, not a hidden test's name, not a line of the reference), and
a pack unpacked on its own grading the skeleton 0 and the reference full
marks on the public tests."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import tarfile
import tomllib
from pathlib import Path

import pytest

from grader.publishing import pack_audit, public_toml, starter_pack
from grader.errors import GraderError
from grader.grading.lab import Lab, _parse, available_labs, load_lab

LABS = available_labs()


@pytest.fixture(scope="module")
def packs() -> dict[str, starter_pack.Pack]:
    return {name: starter_pack.build(load_lab(name)) for name in LABS}


def tarball_files(pack: starter_pack.Pack, directory: Path) -> dict[str, bytes]:
    """Every file of the written .tar.gz, by its path inside the pack."""
    written = starter_pack.write(pack, directory)
    with tarfile.open(written) as tar:
        return {
            member.name.removeprefix(f"{pack.top}/"): tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


# ---- what a pack holds ------------------------------------------------------


@pytest.mark.parametrize("name", LABS)
def test_a_pack_holds_what_a_student_needs_and_nothing_of_the_instructor(name: str, packs, tmp_path: Path) -> None:
    lab = load_lab(name)
    files = tarball_files(packs[name], tmp_path)
    needed = [
        "WORKSPACE",
        "BUILD",
        ".bazelrc",
        ".gitignore",
        "grade",
        "README.md",
        "grader/bootstrap.sh",
        "grader/cli.py",
        "grader/harness/BUILD",
        "grader/bazel/lab.bzl",
        "third_party/rules_cc/cc/defs.bzl",
        f"labs/{name}/BUILD",
        f"labs/{name}/lab.toml",
        f"handouts/{name}.md",
        f"handouts/{name}.html",
        *(f"labs/{name}/{student_file}" for student_file in lab.student_files),
    ]
    assert [path for path in needed if path not in files] == []
    unwanted = [
        p for p in files if p.startswith(("solutions/", "grader/tests/")) or "__pycache__" in p or "/bugs/" in p
    ]
    assert unwanted == []
    assert {p.split("/")[1] for p in files if p.startswith("labs/")} == {name}
    for path, content in files.items():
        if not path.startswith(
            ("labs/", "handouts/", "README.md", "grader/harness/BUILD", "grader/harness/libharness.a")
        ):
            assert content == (starter_pack.REPO / path).read_bytes(), f"{path} differs from the repository's"


@pytest.mark.parametrize("name", LABS)
def test_a_pack_ships_the_harness_compiled_with_its_headers_not_its_code(name: str, packs) -> None:
    harness = {p.removeprefix("grader/harness/") for p in packs[name].files if p.startswith("grader/harness/")}
    headers = {p.name for p in starter_pack.HARNESS.glob("*.h")}
    assert harness == headers | {"BUILD", "main.cpp", "libharness.a"}
    assert packs[name].files["grader/harness/libharness.a"][0].startswith(b"!<arch>\n")
    # pipe's write_all is the harness's write_fully, line for line: the
    # harness's code is secret too, and must be among the lines looked for.
    assert "const ssize_t n = ::write(fd, data.data(), data.size());" in pack_audit.solution_lines(load_lab("pipe"))


def test_a_pack_unpacks_into_one_directory_with_its_scripts_executable(packs, tmp_path: Path) -> None:
    pack = packs["pipe"]
    with tarfile.open(starter_pack.write(pack, tmp_path)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert {name.split("/")[0] for name in members} == {"pipe-starter"}
    assert members["pipe-starter/grade"].mode == 0o755
    assert members["pipe-starter/grader/bootstrap.sh"].mode == 0o755
    assert members["pipe-starter/labs/pipe/pipe_lab.cpp"].mode == 0o644


def test_the_same_sources_give_the_same_tarball(packs) -> None:
    assert starter_pack.tarball(packs["pipe"]) == starter_pack.tarball(starter_pack.build(load_lab("pipe")))


@pytest.mark.parametrize("name", LABS)
def test_the_pack_lab_toml_lists_exactly_the_public_tests(name: str, packs) -> None:
    lab = load_lab(name)
    text = packs[name].files[f"labs/{name}/lab.toml"][0].decode()
    data = tomllib.loads(text)
    assert [t["name"] for t in data["tests"]] == [t.name for t in lab.tests if not t.hidden]
    assert not any(t.get("hidden") for t in data["tests"])
    assert data["lab"] == tomllib.loads((lab.directory / "lab.toml").read_text())["lab"]


LAB_TOML = """\
# A lab.
[lab]
title = "t"
student_files = ["x.cpp"]

# ---- Part 1 ----

[[tests]]
name = "public one"
points = 1
category = "eof"
hint = "h"

# ---- Hidden tests ----

[[tests]]
name = "hidden one"
points = 2
category = "eof"
hidden = true
hint = "h"

[tests.hints]
"a secret cause" = "the hint of a hidden test, for that cause"
# the comment right above an entry goes with it
[[tests]]
name = "hidden two"
points = 2
category = "eof"
hint = "h"
hidden = true

[limits]
processes = 64
"""


def test_hidden_entries_are_cut_out_with_their_comments_and_the_rest_is_kept() -> None:
    stripped = public_toml.strip_hidden(LAB_TOML)
    assert "hidden" not in stripped.lower()
    assert "# A lab." in stripped and "# ---- Part 1 ----" in stripped and "[limits]\nprocesses = 64" in stripped
    assert "Hidden tests" not in stripped and "goes with it" not in stripped
    assert "secret cause" not in stripped  # a test's [tests.hints] goes with it
    assert [t["name"] for t in tomllib.loads(stripped)["tests"]] == ["public one"]


def test_a_public_test_depending_on_a_hidden_one_is_refused() -> None:
    source = LAB_TOML.replace('hint = "h"\n\n# ---- Hidden', 'hint = "h"\ndepends = ["hidden one"]\n\n# ---- Hidden', 1)
    lab = _parse("demo", tomllib.loads(source), Path("lab.toml"))
    with pytest.raises(GraderError) as error:
        public_toml.check_public(lab, public_toml.strip_hidden(source))
    assert "depends on 'hidden one'" in error.value.message


# ---- nothing secret in any pack ---------------------------------------------


@pytest.mark.parametrize("name", LABS)
def test_no_pack_holds_a_line_of_its_labs_solution(name: str, packs, tmp_path: Path) -> None:
    lab = load_lab(name)
    secret = pack_audit.solution_lines(lab)
    reference = {
        line.strip() for f in lab.student_files for line in (lab.solution_directory / f).read_text().splitlines()
    }
    assert len(secret & reference) >= 10, "the reference's own code must be among the lines looked for"
    for path, content in tarball_files(packs[name], tmp_path).items():
        text = content.decode("utf-8", errors="replace")
        found = [line for line in secret if line in text]
        assert found == [], f"{path} holds solution code"


@pytest.mark.parametrize("name", LABS)
def test_no_pack_names_a_hidden_test(name: str, packs, tmp_path: Path) -> None:
    lab = load_lab(name)
    hidden = [t.name.lower() for t in lab.tests if t.hidden]
    assert hidden
    for path, content in tarball_files(packs[name], tmp_path).items():
        text = " ".join(content.decode("utf-8", errors="replace").lower().split())
        assert [n for n in hidden if n in text] == [], path
    assert pack_audit.secrets_in(packs[name]) == []


def with_file(pack: starter_pack.Pack, path: str, text: str) -> starter_pack.Pack:
    return dataclasses.replace(pack, files={**pack.files, path: (text.encode(), 0o644)})


def test_leaks_are_found_however_they_are_written(packs) -> None:
    pack = packs["pipe"]
    lab: Lab = pack.lab
    hidden = next(t.name for t in lab.tests if t.hidden and " " in t.name and "_" in t.name)
    words = hidden.split(" ")
    wrapped = " ".join(words[:2]).replace("_", "\\_") + "\n" + " ".join(words[2:])
    reference_line = sorted(pack_audit.solution_lines(lab))[0]
    cases = {
        "solutions/pipe/pipe_lab.cpp": "// anything",
        "handouts/extra.md": f"See *{wrapped}*.",
        "handouts/extra.html": "<td>" + html_escaped(hidden) + "</td>",
        "labs/pipe/notes.cpp": "    " + reference_line + "  ",
    }
    for path, text in cases.items():
        assert any(leak.startswith(path) for leak in pack_audit.secrets_in(with_file(pack, path, text))), path
    with pytest.raises(GraderError, match="would give away the solution"):
        starter_pack.write(with_file(pack, "README.md", reference_line), Path("/nonexistent"))


def html_escaped(text: str) -> str:
    return text.replace("'", "\u2019").replace("&", "&amp;").replace(" ", "\n  ", 1)


# ---- a pack on its own --------------------------------------------------------


def grade_in(directory: Path, lab: str) -> dict:
    result = subprocess.run(
        ["./grade", lab, "--format", "json"], cwd=directory, capture_output=True, text=True, timeout=1800
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# Each pack is a Bazel workspace of its own: a cold build, about a minute here.
@pytest.mark.long
@pytest.mark.parametrize("name", LABS)
def test_an_unpacked_pack_grades_the_skeleton_0_and_the_reference_full_marks(name: str, packs, tmp_path: Path) -> None:
    lab = load_lab(name)
    public = [t for t in lab.tests if not t.hidden]
    tarball = starter_pack.write(packs[name], tmp_path / "dist")
    home = tmp_path / "student"
    home.mkdir()
    subprocess.run(["tar", "xzf", str(tarball)], cwd=home, check=True)
    pack = home / f"{name}-starter"
    try:
        skeleton = grade_in(pack, name)
        assert skeleton["gradable"] and skeleton["score"] == 0
        assert skeleton["max_score"] == sum(t.points for t in public)
        assert [t["name"] for t in skeleton["tests"]] == [t.name for t in public]
        assert {t["status"] for t in skeleton["tests"]} <= {"failed", "skipped"}

        for student_file in lab.student_files:
            shutil.copyfile(lab.solution_directory / student_file, pack / "labs" / name / student_file)
        reference = grade_in(pack, name)
        assert reference["score"] == reference["max_score"] == skeleton["max_score"]
        assert reference["broken_tests"] == []

        # Instructor commands say what a pack is instead of failing on it.
        overview = subprocess.run(["./grade"], cwd=pack, capture_output=True, text=True, timeout=600)
        assert overview.returncode == 2 and "this is a starter pack" in overview.stderr
        assert f"./grade {name}" in overview.stderr
    finally:
        # Free the pack's own Bazel output base and server.
        subprocess.run(["bazel", "clean", "--expunge"], cwd=pack, capture_output=True, timeout=600)
        subprocess.run(["bazel", "shutdown"], cwd=pack, capture_output=True, timeout=600)
