"""The grader's own compile of a student's files: what it sees, its limits,
and whose fault each way it can end is."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from grader.grading import compile as compiling
from grader.errors import GraderError
from grader.grading.lab import REPO, load_lab

PIPE = load_lab("pipe")
REFERENCE = PIPE.solution_directory / "pipe_lab.cpp"


def compile_source(
    tmp_path: Path, source: str, box: compiling.Box, limits: compiling.Limits | None = None
) -> compiling.Compiled:
    (tmp_path / "pipe_lab.cpp").write_text(source)
    workspace = compiling.Workspace.create()
    try:
        compiled = compiling.compile_files(
            PIPE, {"pipe_lab.cpp": tmp_path / "pipe_lab.cpp"}, workspace, box, limits or compiling.Limits.of(PIPE)
        )
        for path in compiled.objects:
            assert path.stat().st_size > 0
        return compiled
    finally:
        workspace.remove()


@pytest.fixture(scope="module")
def isolated(box) -> compiling.Box:
    if not box.isolated:
        pytest.skip(f"bubblewrap cannot create namespaces here: {box.reason}")
    return compiling.Box(isolated=True, drop_to_uid=box.drop_to_uid)


def test_the_reference_compiles_with_diagnostics_naming_the_students_file(tmp_path: Path, isolated) -> None:
    assert compile_source(tmp_path, REFERENCE.read_text(), isolated).ok
    broken = compile_source(tmp_path, REFERENCE.read_text().replace("return all;", "return all", 1), isolated)
    assert broken.outcome is compiling.Outcome.FAILED
    assert "pipe_lab.cpp:" in broken.diagnostics and "/src/" not in broken.diagnostics
    assert "ipclab-compile-" not in broken.diagnostics


def test_going_past_the_cpu_limit_is_the_students_verdict(tmp_path: Path, isolated) -> None:
    from grader.tests.test_adversarial import COMPILE_BOMB

    limits = dataclasses.replace(compiling.Limits.of(PIPE), cpu_seconds=2, wall_seconds=120)
    compiled = compile_source(tmp_path, COMPILE_BOMB, isolated, limits)
    assert compiled.outcome is compiling.Outcome.OUT_OF_CPU, compiled.diagnostics
    assert "more than 2 s of CPU time" in compiled.diagnostics


def test_going_past_the_memory_limit_is_the_students_verdict(tmp_path: Path, isolated) -> None:
    # Each instance is a type of its own, none of them cheap to keep.
    hog = (
        "template <int A, int B> struct Grid { static constexpr long value = Grid<A - 1, B>::value + Grid<A, B - 1>::value; };\n"
        "template <int B> struct Grid<0, B> { static constexpr long value = 1; };\n"
        "template <int A> struct Grid<A, 0> { static constexpr long value = 1; };\n"
        "static_assert(Grid<400, 400>::value != 0);\n"
    )
    limits = dataclasses.replace(compiling.Limits.of(PIPE), memory_mb=300, wall_seconds=120, cpu_seconds=120)
    compiled = compile_source(tmp_path, hog, isolated, limits)
    assert compiled.outcome is compiling.Outcome.OUT_OF_MEMORY, compiled.diagnostics
    assert "the compiler ran out of memory (limit 300 MiB)" in compiled.diagnostics


def test_a_sandbox_that_cannot_start_is_the_graders_fault(
    tmp_path: Path, isolated, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = compiling._bubblewrap_setup
    monkeypatch.setattr(
        compiling, "_bubblewrap_setup", lambda w: ["--ro-bind", "/no/such/directory", "/nowhere", *real(w)]
    )
    with pytest.raises(GraderError, match="the compile sandbox did not start") as error:
        compile_source(tmp_path, REFERENCE.read_text(), isolated)
    assert "not the submission's doing" in (error.value.tip or "")


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")
def test_without_bubblewrap_the_compile_still_drops_root(tmp_path: Path) -> None:
    reduced = compiling.Box(isolated=False, drop_to_uid=True, reason="for the test")
    assert compile_source(tmp_path, REFERENCE.read_text(), reduced).ok
    compiled = compile_source(tmp_path, '#include "/etc/shadow"\n', reduced)
    assert compiled.outcome is compiling.Outcome.FAILED
    assert "Permission denied" in compiled.diagnostics, compiled.diagnostics


def test_a_submission_is_compiled_with_the_flags_bazel_gives_the_skeleton() -> None:
    # copts.bzl is Starlark made only of lists, which Python reads the same way.
    copts: dict[str, object] = {}
    exec((REPO / "grader" / "bazel" / "copts.bzl").read_text(), copts)
    assert [flag for flag in compiling.COMPILE_FLAGS if not flag.startswith("-std=")] == copts["STUDENT_COPTS"]
    assert "-D_GLIBCXX_ASSERTIONS" in compiling.COMPILE_FLAGS
