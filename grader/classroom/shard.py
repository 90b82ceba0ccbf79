"""A class larger than one machine: `./grade batch … --shard K/N` grades
one slice of the class, and `./grade gradebook merge DIR… --output DIR`
joins the slices into the gradebook an unsharded batch writes, byte for byte.

Which shard a student is in depends only on the student's key (a group's
members on their group's, so a group is graded once): never on the order
the submissions folder lists them in, nor on how many machines run. Every
student is in exactly one of the N shards.

Each shard's output directory holds .state/shard.json: the lab, the
grader's version (a digest of the files that decide grades), K and N, the
layout the submissions were found in, and a digest of the whole class's
keys. Merging checks them all: slices of other labs or other graders, a
missing or repeated shard, or slices of different classes are refused,
before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.classroom import class_report, gradebook
from grader.classroom.submission import Submission
from grader.errors import GraderError
from grader.grading.lab import REPO, Lab, load_lab
from grader import atomic

FORMAT_VERSION = 1
MANIFEST = "shard.json"


@dataclass(frozen=True)
class Shard:
    index: int  # K, from 1
    count: int  # N

    @staticmethod
    def parse(text: str) -> Shard:
        match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise GraderError(
                f"--shard {text!r} is not K/N with 1 <= K <= N", tip="--shard 2/4 grades the second of four slices"
            )
        return Shard(int(match[1]), int(match[2]))

    def holds(self, submission: Submission) -> bool:
        return shard_of(submission, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_of(submission: Submission, count: int) -> int:
    """1 … count, from a digest of the student's key (or group): the same
    on every machine and in every run, and evenly spread."""
    key = submission.group or f"student:{submission.key}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count + 1


def class_digest(keys: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()


def grader_version(lab: Lab) -> str:
    """A digest of what decides a grade: the grader's code and the lab's
    files (tests, lab.toml, reference). Two machines with the same digest
    give the same submission the same row."""
    digest = hashlib.sha256()
    trees = [REPO / "grader", lab.directory, lab.solution_directory]
    for path in sorted(p for tree in trees for p in tree.rglob("*") if p.is_file()):
        relative = path.relative_to(REPO)
        if "__pycache__" in relative.parts or relative.parts[:2] == ("grader", "tests"):
            continue
        digest.update(f"{relative}\0".encode() + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def select(submissions: list[Submission], shard: Shard) -> list[Submission]:
    return [s for s in submissions if shard.holds(s)]


def write_manifest(
    out: Path, lab: Lab, shard: Shard, layout: str, everyone: list[Submission], mine: list[Submission]
) -> None:
    """Refuses to continue (--resume) a directory that holds another shard."""
    path = gradebook.state_directory(out) / MANIFEST
    manifest = {
        "format_version": FORMAT_VERSION,
        "lab": lab.name,
        "grader": grader_version(lab),
        "shard": [shard.index, shard.count],
        "layout": layout,
        "class": class_digest([s.key for s in everyone]),
        "students": sorted(s.key for s in mine),
    }
    previous = _read(path)
    if previous is not None and previous.get("shard") != manifest["shard"]:
        raise GraderError(
            f"{out} holds shard {'/'.join(map(str, previous.get('shard', [])))}, not {shard}",
            tip="choose another --out for this shard",
        )
    atomic.write_atomically(path, json.dumps(manifest, indent=2) + "\n")


def refuse_unsharded(out: Path) -> None:
    """A shard's directory holds a slice: grading the whole class into it
    would leave a manifest that no longer says what it holds."""
    previous = _read(gradebook.state_directory(out) / MANIFEST)
    if previous is not None:
        raise GraderError(
            f"{out} holds shard {'/'.join(map(str, previous.get('shard', [])))} of a sharded batch",
            tip="add the same --shard K/N to continue it, or choose another --out",
        )


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Slice:
    directory: Path
    manifest: dict[str, Any]

    @property
    def shard(self) -> str:
        index, count = self.manifest["shard"]
        return f"{index}/{count}"


def read_slices(directories: list[Path]) -> list[Slice]:
    slices = []
    for directory in directories:
        manifest = _read(gradebook.state_directory(directory) / MANIFEST)
        if manifest is None or manifest.get("format_version") != FORMAT_VERSION:
            raise GraderError(
                f"{directory} is not the output of a sharded batch (no {gradebook.STATE}/{MANIFEST})",
                tip="each DIR is the --out of one ./grade batch … --shard K/N",
            )
        slices.append(Slice(directory, manifest))
    return slices


def check_slices(slices: list[Slice]) -> None:
    """The slices are of one class, one lab, one grader, and hold every
    shard exactly once, with no student in two."""
    if not slices:
        raise GraderError("no shards to merge", tip="./grade gradebook merge out-1 out-2 … --output merged")
    first = slices[0]
    for field, what in (
        ("lab", "lab"),
        ("grader", "grader version"),
        ("layout", "submissions layout"),
        ("class", "class (the submissions folders differ)"),
    ):
        differing = [s for s in slices if s.manifest[field] != first.manifest[field]]
        if differing:
            raise GraderError(
                f"{differing[0].directory} and {first.directory} are shards of a different {what}: "
                f"{differing[0].manifest[field]!r} against {first.manifest[field]!r}",
                tip="grade every shard with the same checkout of the grader, the same lab and the same submissions",
            )
    count = first.manifest["shard"][1]
    if any(s.manifest["shard"][1] != count for s in slices):
        raise GraderError(
            "the shards were cut into different numbers of slices: "
            + ", ".join(f"{s.directory} is {s.shard}" for s in slices)
        )
    seen: dict[int, Path] = {}
    for s in slices:
        index = s.manifest["shard"][0]
        if index in seen:
            raise GraderError(f"shard {s.shard} is given twice: {seen[index]} and {s.directory}")
        seen[index] = s.directory
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in seen]
    if missing:
        raise GraderError(
            f"shard(s) {', '.join(missing)} missing: the gradebook would lack their students",
            tip="grade them with ./grade batch … --shard K/N and pass their directories too",
        )
    owner: dict[str, Path] = {}
    for s in slices:
        for key in s.manifest["students"]:
            if key in owner:
                raise GraderError(f"student {key!r} is in two shards: {owner[key]} and {s.directory}")
            owner[key] = s.directory
    if class_digest(list(owner)) != first.manifest["class"]:
        raise GraderError(
            "the shards together do not hold the whole class they were cut from",
            tip="grade every shard again with the same submissions folder",
        )


def merge(directories: list[Path], output: Path) -> dict[str, Any]:
    """Joins the slices into output: every student's results, feedback and
    record, then the gradebook, Canvas file, summary and class report,
    written as an unsharded batch writes them. Returns the summary."""
    slices = read_slices(directories)
    check_slices(slices)
    if output.exists() and any(output.iterdir()):
        raise GraderError(f"{output} is not empty", tip="merge into a new directory")
    lab = load_lab(slices[0].manifest["lab"])
    if grader_version(lab) != slices[0].manifest["grader"]:
        raise GraderError(
            f"the shards were graded by grader version {slices[0].manifest['grader']}, this checkout is "
            f"{grader_version(lab)}",
            tip="merge with the checkout that graded them",
        )
    # Every record is read before anything is written: a refused merge leaves no half of a gradebook.
    records = {}
    for s in slices:
        for key in s.manifest["students"]:
            record = gradebook.read_record(s.directory, key)
            if record is None:
                raise GraderError(
                    f"{s.directory} has no record of {key!r}: shard {s.shard} did not finish",
                    tip="run its ./grade batch again with --resume",
                )
            records[key] = (s.directory, record)
    for key, (directory, _) in records.items():
        _copy_student(directory, output, key)
    submissions = [Submission(student=record["student"], key=key) for key, (_, record) in records.items()]
    gradebook.check_manifest(output, lab, resume=False)
    data = gradebook.write_class(output, lab, slices[0].manifest["layout"], submissions)
    class_report.write(output)
    return data


def _copy_student(source: Path, output: Path, key: str) -> None:
    files = [Path("results") / f"{key}.json", Path("feedback") / f"{key}.md", class_report.details_path(Path(), key)]
    for relative in files:
        if (source / relative).exists():  # a student with no files has no details
            (output / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative, output / relative)
    # The record last, as a batch writes it: it marks the student done.
    target = gradebook.record_path(output, key)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(gradebook.record_path(source, key), target)
