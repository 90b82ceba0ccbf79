"""Staging and linking submissions side by side: a batch's threads stage,
compile, link and remove slots at once, and no student pays for another's
timing; whether a failed link is the student's is Bazel's structured word."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from grader.grading import build, stage
from grader.errors import GraderError
from grader.grading.lab import load_lab

PIPE = load_lab("pipe")


def staged_copy(tmp_path: Path, label: str, salt: str = "") -> stage.Staged:
    source = (PIPE.directory / "pipe_lab.cpp").read_text()
    (tmp_path / "pipe_lab.cpp").write_text(f"// {salt}\n{source}")
    return stage.stage(PIPE, tmp_path, stage.slot_name(label))


def test_a_slot_is_not_removed_while_the_slots_are_fixed(tmp_path: Path) -> None:
    staged = staged_copy(tmp_path, f"test-stage-{time.monotonic_ns()}")
    remover = threading.Thread(target=stage.unstage, args=(staged,))
    with stage.slots_fixed():
        remover.start()
        remover.join(timeout=0.5)
        assert remover.is_alive() and staged.directory.exists(), "unstage waits for whoever holds the slots"
    remover.join()
    assert not staged.directory.parent.exists()
    assert not staged.workspace.root.exists(), "the student's files are removed with the slot"


def test_the_student_files_never_enter_the_repository(tmp_path: Path) -> None:
    staged = staged_copy(tmp_path, f"test-stage-{time.monotonic_ns()}")
    try:
        assert sorted(p.name for p in staged.directory.iterdir()) == ["BUILD"]
        assert 'objects = ["pipe_lab.o"]' in (staged.directory / "BUILD").read_text()
        assert not staged.workspace.root.is_relative_to(stage.REPO)
    finally:
        stage.unstage(staged)


FINISHED_FAILED = {"id": {"buildFinished": {}}, "finished": {"exitCode": {"name": "BUILD_FAILURE", "code": 1}}}
TARGET = "//_stage/s/pipe:tests"


@pytest.mark.parametrize(
    "events, judged",
    [
        ([{"id": {"buildFinished": {}}, "finished": {"exitCode": {"name": "SUCCESS"}}}], build.Judgement.SUCCEEDED),
        ([{"id": {"buildFinished": {}}, "finished": {}}], build.Judgement.SUCCEEDED),  # proto3 omits a zero exit code
        (
            [
                {"id": {"actionCompleted": {}}, "action": {"type": "CppLink", "label": TARGET, "exitCode": 1}},
                FINISHED_FAILED,
            ],
            build.Judgement.LINK_FAILED,
        ),
        (
            [
                {
                    "id": {"actionCompleted": {}},
                    "action": {"type": "CppCompile", "label": "//solutions/pipe:hidden_tests"},
                },
                FINISHED_FAILED,
            ],
            build.Judgement.OTHER_ACTION_FAILED,
        ),
        (
            [
                {"id": {"actionCompleted": {}}, "action": {"type": "CppLink", "label": "//_stage/other/pipe:tests"}},
                FINISHED_FAILED,
            ],
            build.Judgement.OTHER_ACTION_FAILED,
        ),
        ([FINISHED_FAILED], build.Judgement.BAZEL_FAILED),  # an analysis error: no action failed
        (
            [{"id": {"buildFinished": {}}, "finished": {"exitCode": {"name": "INTERRUPTED", "code": 8}}}],
            build.Judgement.BAZEL_FAILED,
        ),
        ([{"id": {"started": {}}, "started": {}}], build.Judgement.NO_RESULT),  # the server died mid-build
    ],
)
def test_who_is_at_fault_comes_from_the_build_event_protocol(events: list[dict], judged: build.Judgement) -> None:
    assert build.judge(events, TARGET) is judged


def test_bazel_failing_to_link_for_its_own_reasons_is_a_grader_error(tmp_path: Path) -> None:
    staged = staged_copy(tmp_path, f"test-stage-{time.monotonic_ns()}", salt=str(time.time_ns()))
    try:
        # The tests it names do not exist: Bazel fails before any action runs.
        build_file = staged.directory / "BUILD"
        build_file.write_text(
            build_file.read_text().replace(stage.tests_target(PIPE), "//solutions/pipe:no_such_tests")
        )
        with pytest.raises(GraderError, match="for a reason other than the student's objects") as error:
            build.link(staged.target)
        assert "not the submission's doing" in (error.value.tip or "")
    finally:
        stage.unstage(staged)
