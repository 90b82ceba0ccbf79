"""Which of the repository's files a starter pack ships: the workspace files
and the grader every pack has (framework_files), and a lab's own files
(shipped_files), never the grader's tests, the scaffolder or the harness's
sources."""

from __future__ import annotations

import re
from pathlib import Path

from grader.grading.lab import REPO


# What a pack takes from the repository besides the lab itself.
ROOT_FILES = ("WORKSPACE", "BUILD", ".bazelrc", ".gitignore", "grade")


TREES = ("third_party", "grader")


# Never shipped: the grader's own tests read solutions/, and the suite runner
# runs them; new_lab.py holds a reference and a hidden test's name; caches
# are not source. Nor the harness's code (but for its main): a pack ships it
# compiled, see grader/harness/BUILD.starter.
LEFT_OUT = re.compile(
    r"^grader/(tests/|suite\.py$|publishing/new_lab\.py$|harness/(BUILD|(?!main\.cpp$)[^/]+\.cpp$))|(^|/)__pycache__/|\.pyc$"
)


def framework_files() -> list[Path]:
    """What every pack ships, whatever its lab."""
    return [REPO / name for name in ROOT_FILES] + [p for tree in TREES for p in shipped_files(REPO / tree)]


def shipped_files(directory: Path) -> list[Path]:
    """The files below `directory` a pack may carry (LEFT_OUT says which not)."""
    return [
        p for p in sorted(directory.rglob("*")) if p.is_file() and not LEFT_OUT.search(p.relative_to(REPO).as_posix())
    ]
