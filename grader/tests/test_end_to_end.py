"""The grader on the real pipe lab, through main(argv) as ./grade runs it:
reference full marks, skeleton zero, and every bad submission a verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from grader import cli
from grader.grading.lab import REPO, load_lab

PIPE = load_lab("pipe")


def grade_json(capsys, *args: str) -> dict:
    status = cli.main(["pipe", *args, "--format", "json"])
    assert status == cli.Exit.OK
    return json.loads(capsys.readouterr().out)


def test_the_reference_scores_full_marks(capsys) -> None:
    data = grade_json(capsys, "--submission", str(REPO / "solutions" / "pipe"))
    assert data["gradable"] is True
    assert data["score"] == data["max_score"] == 100
    assert data["broken_tests"] == []
    assert len(data["tests"]) == len(PIPE.tests)


def test_the_skeleton_scores_zero_and_says_what_to_implement(capsys) -> None:
    data = grade_json(capsys)  # default submission: labs/pipe, the skeleton
    assert data["score"] == 0
    for test in data["tests"]:
        assert test["status"] in ("failed", "skipped"), test
        assert "not implemented" in test["output"] or "skipped: depends on" in test["output"], test


def test_a_submission_that_does_not_compile_is_not_gradable(tmp_path: Path, capsys) -> None:
    source = (REPO / "solutions" / "pipe" / "pipe_lab.cpp").read_text()
    (tmp_path / "pipe_lab.cpp").write_text(source.replace("return all;", "return all", 1))
    data = grade_json(capsys, "--submission", str(tmp_path))
    assert data["gradable"] is False and data["score"] == 0
    assert "pipe_lab.cpp:" in data["diagnostics"] and "error:" in data["diagnostics"]
    assert "execroot" not in data["diagnostics"]


def test_a_submission_without_the_student_file_is_not_gradable(tmp_path: Path, capsys) -> None:
    (tmp_path / "pipe.cpp").write_text("// misnamed\n")
    data = grade_json(capsys, "--submission", str(tmp_path))
    assert data["gradable"] is False
    assert "lacks pipe_lab.cpp" in data["diagnostics"]


def test_only_the_student_file_is_taken_from_a_submission(tmp_path: Path, capsys) -> None:
    for name in ("pipe_lab.cpp",):
        (tmp_path / name).write_text((REPO / "solutions" / "pipe" / name).read_text())
    # A submission bringing its own header and tests changes nothing.
    (tmp_path / "pipe_lab.h").write_text("#error the submission's header must never be used\n")
    (tmp_path / "BUILD").write_text("this is not Starlark\n")
    data = grade_json(capsys, "--submission", str(tmp_path))
    assert data["score"] == 100


def test_gradescope_results_are_written_to_a_file(tmp_path: Path, capsys) -> None:
    out = tmp_path / "results.json"
    status = cli.main(
        ["pipe", "--submission", str(REPO / "solutions" / "pipe"), "--format", "gradescope", "--output", str(out)]
    )
    assert status == cli.Exit.OK
    data = json.loads(out.read_text())
    assert data["score"] == 100
    assert {t["visibility"] for t in data["tests"]} == {"visible", "after_published"}


def test_an_unknown_lab_is_a_clear_error(capsys) -> None:
    assert cli.main(["pipes"]) == cli.Exit.ERROR
    err = capsys.readouterr().err
    assert "no lab named 'pipes'" in err and "pipe" in err


def test_the_grader_leaves_no_process_and_no_ipc_object_behind(capsys) -> None:
    before_shm, before_mq = set(os.listdir("/dev/shm")), set(_mqueues())
    grade_json(capsys, "--submission", str(REPO / "solutions" / "pipe"))
    assert set(os.listdir("/dev/shm")) == before_shm
    assert set(_mqueues()) == before_mq
    # Other runs of the suite may be grading at the same time: look only at
    # this process's descendants and at programs from this checkout.
    ours = str(REPO / "bazel-bin")
    leftovers = [cmd for pid, cmd in _processes().items() if _descends_from(pid, os.getpid()) or ours in cmd]
    assert leftovers == []


def _mqueues() -> list[str]:
    return os.listdir("/dev/mqueue") if os.path.isdir("/dev/mqueue") else []


def _processes() -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_text()
            except OSError:
                pass
    return found


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state: the parent
        if pid == ancestor:
            return True
    return False


def test_help_names_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    missing = [name for name in cli.COMMANDS if f"./grade {name}" not in shown]
    assert not missing, f"./grade --help does not mention: {missing}"
