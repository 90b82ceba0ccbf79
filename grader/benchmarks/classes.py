"""A generated class for the batch benchmark and tests (and for grading a big batch by
hand): real submissions of the pipe lab — the reference, the skeleton, every
bug of the corpus, compile errors, missing, misnamed and empty files, files in
folders and archives — and archives a grader must refuse. Each student comes
with the row the gradebook must give it.

    /usr/bin/python3 -m grader.benchmarks.classes DIR --copies 5   # 115 students
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from grader.checks import corpus
from grader.grading.lab import REPO, Lab, load_lab


@dataclass(frozen=True)
class Expected:
    status: str  # "graded" or "not gradable"
    score: float | None  # None: not gradable, so 0
    reason: str  # text the row's reason must contain ("" for a clean grade)


def make_class(
    root: Path, lab: Lab, copies: int = 1, salt: str = "", only: set[str] | None = None
) -> dict[str, Expected]:
    """Writes the class into root (one folder or archive per student);
    returns student -> expected row. salt changes every file, so a new salt
    makes Bazel compile everything again (for measuring).

    only: the kinds to make (reference, skeleton, bug-NAME, compile-error, …).
    """
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Expected] = {}
    for copy in range(1, copies + 1):
        for kind, make in _kinds(lab).items():
            if only is not None and kind not in only:
                continue
            student = f"{kind}-{copy:02d}"
            source = _source(lab, kind, f"// {student} {salt}\n")
            expected[student] = make(root, student, source)
    return expected


# One kind of student: (class directory, student, the reference's code) -> its row.
Kind = Callable[[Path, str, bytes], Expected]


def _kinds(lab: Lab) -> dict[str, Kind]:
    name = lab.student_files[0]
    kinds: dict[str, Kind] = {
        "reference": lambda root, s, code: _folder(root / s, {name: code}, Expected("graded", lab.max_score, "")),
        "skeleton": lambda root, s, code: _folder(root / s, {name: code}, Expected("graded", 0, "")),
        "compile-error": lambda root, s, code: _folder(
            root / s, {name: code}, Expected("not gradable", None, "does not compile: ")
        ),
        "missing": lambda root, s, code: _folder(
            root / s, {"README.txt": b"forgot it"}, Expected("not gradable", None, f"{name} is missing (")
        ),
        "misnamed": lambda root, s, code: _folder(
            root / s, {name.title(): code}, Expected("not gradable", None, f"found {name.title()}")
        ),
        "empty": lambda root, s, code: _folder(root / s, {}, Expected("not gradable", None, "empty submission")),
        "nested": lambda root, s, code: _folder(
            root / s, {f"lab/src/{name}": code}, Expected("graded", lab.max_score, "")
        ),
        "zipped": lambda root, s, code: _zipped(
            root / s / "handin.zip", {f"pipe/{name}": code}, Expected("graded", lab.max_score, "")
        ),
        "tarred": lambda root, s, code: _tarred(
            root / f"{s}.tar.gz", {f"work/{name}": code}, Expected("graded", lab.max_score, "")
        ),
        "traversal": lambda root, s, code: _zipped(
            root / s / "handin.zip",
            {f"../../{name}": code},
            Expected("not gradable", None, "refused: path leaving the directory"),
        ),
        "bomb": lambda root, s, code: _zipped(
            root / s / "handin.zip",
            {name: code + b"/" * (65 << 20)},
            Expected("not gradable", None, "refused: expands past 64 MiB"),
        ),
        "link": lambda root, s, code: _link(root / f"{s}.tar.gz", name),
        "damaged": lambda root, s, code: _folder(
            root / s, {"handin.zip": b"PK\x03\x04 cut short"}, Expected("not gradable", None, "the archive is damaged")
        ),
    }
    for bug in corpus.load_bugs(lab):
        deduction = min(lab.max_leak_deduction, lab.leak_deduction * len(bug.leaks))
        score = lab.max_score - sum(t.points for t in lab.tests if t.name in bug.fails) - deduction
        kinds[f"bug-{bug.name}"] = partial(_bug_folder, name=name, score=score)
    return kinds


def _source(lab: Lab, kind: str, header: str) -> bytes:
    name = lab.student_files[0]
    if kind == "skeleton":
        text = (lab.directory / name).read_text()
    elif kind.startswith("bug-"):
        bug = next(b for b in corpus.load_bugs(lab) if f"bug-{b.name}" == kind)
        with tempfile.TemporaryDirectory() as scratch:
            text = (corpus.materialize(lab, bug, Path(scratch)) / name).read_text()
    else:
        text = (lab.solution_directory / name).read_text()
    if kind == "compile-error":
        text = text.replace("return all;", "return all", 1)
    return (header + text).encode()


def _bug_folder(root: Path, student: str, code: bytes, name: str, score: float) -> Expected:
    return _folder(root / student, {name: code}, Expected("graded", score, ""))


def _folder(directory: Path, files: dict[str, bytes], expected: Expected) -> Expected:
    directory.mkdir(parents=True)
    for relative, data in files.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_bytes(data)
    return expected


def _zipped(path: Path, members: dict[str, bytes], expected: Expected) -> Expected:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return expected


def _tarred(path: Path, members: dict[str, bytes], expected: Expected) -> Expected:
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return expected


def _link(path: Path, name: str) -> Expected:
    with tarfile.open(path, "w:gz") as t:
        info = tarfile.TarInfo(f"work/{name}")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        t.addfile(info)
    return Expected("not gradable", None, "refused: link leaving the directory")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Write a generated class of the pipe lab.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--salt", default="")
    args = parser.parse_args(argv)
    expected = make_class(args.directory, load_lab("pipe"), args.copies, args.salt)
    print(f"{len(expected)} students in {args.directory}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main(sys.argv[1:]))
