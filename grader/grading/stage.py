"""Stage: a submission's compiled objects, as a Bazel package of its own.

Only the files lab.toml names are taken from the submission, and they never
enter the repository: they are copied into a private compile workspace
(grader/grading/compile.py), and only the objects compiled from them are placed in
_stage/<slot>/<lab>/, beside a BUILD file the grader writes. The header,
the tests and the BUILD file always come from the lab (instructor files
win), so a submission cannot change what it is graded against.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.grading import compile as compiling
from grader.grading.lab import REPO, Lab

STAGE_ROOT = REPO / "_stage"
STAGE_LOCK = STAGE_ROOT / ".lock"  # stays, like _stage/ itself: see unstage

BUILD_TEMPLATE = """\
# Written by the grader for one submission; rewritten on every run.
load("//grader/bazel:lab.bzl", "lab_submission")

lab_submission(
    lab = "{lab}",
    objects = [{objects}],
    tests = "{tests}",
)
"""


@dataclass(frozen=True)
class Staged:
    lab: Lab
    slot: str
    directory: Path  # the Bazel package: BUILD and the objects
    workspace: compiling.Workspace  # the student's files, and the compiler's output
    files: dict[str, Path]  # student file name -> its copy, for the compiler
    missing: tuple[str, ...]  # student files the submission lacks

    @property
    def target(self) -> str:
        return f"//_stage/{self.slot}/{self.lab.name}:tests"

    @property
    def binary(self) -> Path:
        return self.outputs / "tests"

    @property
    def outputs(self) -> Path:
        """Where Bazel puts what it makes of this package."""
        return REPO / "bazel-bin" / "_stage" / self.slot / self.lab.name


def slot_name(label: str) -> str:
    """A Bazel package name segment for any label (student ids included)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", label)[:80] or "submission"


def tests_target(lab: Lab) -> str:
    if lab.has_solution:
        return f"//solutions/{lab.name}:tests"
    return f"//labs/{lab.name}:public_suite"


@contextlib.contextmanager
def slots_fixed() -> Iterator[None]:
    """While held, no slot is created or removed, by any thread or process:
    creating a slot's directory and removing an emptied one never race.
    Held only while directories change, never over a compile or a link.
    Not reentrant: take it once.
    """
    STAGE_ROOT.mkdir(exist_ok=True)
    with open(STAGE_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def process_slot(slot: str) -> str:
    """The slot's name for this process. Two graders on one checkout (a
    student's ./grade beside ./grade watch, two TAs' batches, parallel
    test workers) may grade the same label at once: each process has slots
    of its own. Within a process, labels are distinct."""
    return f"{slot}-p{os.getpid()}"


def stage(lab: Lab, submission: Path, label_slot: str) -> Staged:
    slot = process_slot(label_slot)
    workspace = compiling.Workspace.create()
    files: dict[str, Path] = {}
    missing = []
    for name in lab.student_files:
        source = submission / name
        if source.is_file() and not source.is_symlink():
            copy = workspace.root / "submitted" / name
            copy.parent.mkdir(exist_ok=True, mode=0o700)
            shutil.copyfile(source, copy)
            files[name] = copy
        else:
            missing.append(name)
    with slots_fixed():
        directory = STAGE_ROOT / slot / lab.name
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    objects = ", ".join(f'"{compiling.object_name(n)}"' for n in files if n.endswith(".cpp"))
    (directory / "BUILD").write_text(BUILD_TEMPLATE.format(lab=lab.name, objects=objects, tests=tests_target(lab)))
    return Staged(lab=lab, slot=slot, directory=directory, workspace=workspace, files=files, missing=tuple(missing))


def place(staged: Staged, objects: tuple[Path, ...]) -> None:
    """Puts the compiled objects into the package, for Bazel to link."""
    for path in objects:
        shutil.copyfile(path, staged.directory / path.name)


def unstage(staged: Staged) -> None:
    """Removes every trace of the submission: its files and objects, and
    what Bazel made of them (the linked tests), so no later build or
    student can read them."""
    staged.workspace.remove()
    with slots_fixed():
        for directory in (staged.directory, staged.outputs):
            shutil.rmtree(directory, ignore_errors=True)
            slot_directory = directory.parent
            if slot_directory.exists() and not any(slot_directory.iterdir()):
                slot_directory.rmdir()
    # _stage/ itself stays (it is ignored by git): removing it could race with
    # another thread of a batch creating its own slot inside it.
