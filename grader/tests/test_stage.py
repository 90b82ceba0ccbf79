"""Staging and building submissions side by side: a batch's threads stage,
build and remove slots at once, and no student pays for another's timing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from grader import build, stage
from grader.errors import GraderError
from grader.lab import load_lab

PIPE = load_lab("pipe")


def staged_copy(tmp_path: Path, label: str, salt: str = "") -> stage.Staged:
    source = (PIPE.directory / "pipe_lab.cpp").read_text()
    (tmp_path / "pipe_lab.cpp").write_text(f"// {salt}\n{source}")
    return stage.stage(PIPE, tmp_path, stage.slot_name(label))


def test_a_slot_is_not_removed_while_another_build_has_it_blocked(tmp_path: Path) -> None:
    staged = staged_copy(tmp_path, f"test-stage-{time.monotonic_ns()}")
    remover = threading.Thread(target=stage.unstage, args=(staged,))
    with stage.slots_fixed():
        remover.start()
        remover.join(timeout=0.5)
        assert remover.is_alive() and staged.directory.exists(), "unstage waits for the build holding the slots"
    remover.join()
    assert not staged.directory.parent.exists()


def test_what_a_build_hides_are_directories_only(tmp_path: Path) -> None:
    staged = staged_copy(tmp_path, f"test-stage-{time.monotonic_ns()}")
    try:
        with stage.slots_fixed():
            hidden = stage.hidden_from(staged)
        assert (stage.STAGE_ROOT / ".lock").exists() and all(p.is_dir() for p in hidden)
    finally:
        stage.unstage(staged)


def test_bazel_failing_before_the_compiler_is_a_grader_error_not_a_compile_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = staged_copy(tmp_path, f"test-stage-{time.monotonic_ns()}", salt=str(time.time_ns()))
    try:
        # As when a blocked slot vanished before Bazel mounted it.
        monkeypatch.setattr(build, "_blocked", lambda paths: [f"--sandbox_block_path={tmp_path}/gone"])
        with pytest.raises(GraderError, match="before compiling anything: Mount target") as error:
            build.build(staged.target)
        assert "not the submission's doing" in (error.value.tip or "")
    finally:
        stage.unstage(staged)
