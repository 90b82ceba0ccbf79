"""Stage: copy a submission's student files into a Bazel package of its own.

Only the files lab.toml names are taken from the submission; the header, the
tests and the BUILD file always come from the lab (instructor files win), so
a submission cannot change what it is graded against.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.lab import REPO, Lab

STAGE_ROOT = REPO / "_stage"
STAGE_LOCK = STAGE_ROOT / ".lock"  # stays, like _stage/ itself: see unstage

BUILD_TEMPLATE = """\
# Written by the grader for one submission; rewritten on every run.
load("//grader/bazel:lab.bzl", "lab_submission")

lab_submission(
    lab = "{lab}",
    srcs = [{srcs}],
    tests = "{tests}",
)
"""


@dataclass(frozen=True)
class Staged:
    lab: Lab
    slot: str
    directory: Path
    missing: tuple[str, ...]  # student files the submission lacks

    @property
    def target(self) -> str:
        return f"//_stage/{self.slot}/{self.lab.name}:tests"

    @property
    def binary(self) -> Path:
        return REPO / "bazel-bin" / "_stage" / self.slot / self.lab.name / "tests"


def slot_name(label: str) -> str:
    """A Bazel package name segment for any label (student ids included)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", label)[:80] or "submission"


def tests_target(lab: Lab) -> str:
    if lab.has_solution:
        return f"//solutions/{lab.name}:tests"
    return f"//labs/{lab.name}:public_suite"


@contextlib.contextmanager
def slots_fixed() -> Iterator[None]:
    """While held, no slot is staged or removed, by any thread or process.

    A student's build blocks every other slot from its compiler by path
    (hidden_from), and Bazel refuses to start when a blocked path is gone:
    a slot removed between listing and building cost a classmate a build.
    Bazel runs one command at a time anyway, so holding this over a build
    costs nothing. Not reentrant: take it once.
    """
    STAGE_ROOT.mkdir(exist_ok=True)
    with open(STAGE_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def stage(lab: Lab, submission: Path, slot: str) -> Staged:
    with slots_fixed():
        return _stage(lab, submission, slot)


def _stage(lab: Lab, submission: Path, slot: str) -> Staged:
    directory = STAGE_ROOT / slot / lab.name
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    missing = []
    for name in lab.student_files:
        source = submission / name
        if source.is_file() and not source.is_symlink():
            shutil.copyfile(source, directory / name)
        else:
            missing.append(name)
    srcs = ", ".join(f'"{name}"' for name in lab.student_files if name not in missing)
    (directory / "BUILD").write_text(BUILD_TEMPLATE.format(lab=lab.name, srcs=srcs, tests=tests_target(lab)))
    return Staged(lab=lab, slot=slot, directory=directory, missing=tuple(missing))


def hidden_from(staged: Staged) -> list[Path]:
    """What a submission's compiler must not read: the solutions, with their
    hidden tests and bug corpus, and every other staged submission. The
    tests are compiled before any submission, so its build needs none of it."""
    others = [p for p in STAGE_ROOT.iterdir() if p.is_dir() and p != staged.directory.parent] if STAGE_ROOT.exists() else []
    return [REPO / "solutions", *others]


def unstage(staged: Staged) -> None:
    with slots_fixed():
        shutil.rmtree(staged.directory, ignore_errors=True)
        slot_directory = staged.directory.parent
        if slot_directory.exists() and not any(slot_directory.iterdir()):
            slot_directory.rmdir()
    # _stage/ itself stays (it is ignored by git): removing it could race with
    # another thread of a batch creating its own slot inside it.
