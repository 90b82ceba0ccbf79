"""Safe archive extraction: every member is checked before anything is
written, and a student whose part holds an absolute path, a path leaving
the directory (..), a link leaving it, a device file or FIFO, or more than
the size limit is refused whole, with the reason, naming the student. One
bad student never stops the others."""

from __future__ import annotations

import re
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from grader.classroom.submission import Limits

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
# What archivers and desktops leave behind; never a student's work.
JUNK = re.compile(r"^(__MACOSX|\.DS_Store|\._.*|Thumbs\.db|desktop\.ini)$")


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class Member:
    name: str  # as the archive spells it, with / separators
    kind: str  # "file", "dir", "link", "hardlink" or "special"
    size: int
    target: str  # a link's target
    open: Callable[[], object]  # a readable binary stream of a file's bytes


class _Budget:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.bytes: dict[str, int] = {}
        self.files: dict[str, int] = {}

    def charge(self, owner: str, size: int) -> str:
        self.bytes[owner] = self.bytes.get(owner, 0) + size
        self.files[owner] = self.files.get(owner, 0) + 1
        if self.bytes[owner] > self.limits.student_bytes:
            return f"expands past {self.limits.student_bytes // (1024 * 1024)} MiB"
        if self.files[owner] > self.limits.student_files:
            return f"holds more than {self.limits.student_files} files"
        return ""


def member_names(archive: Path) -> list[tuple[str, bool]]:
    """Every member's name and whether it is a folder, read before anything
    is extracted; Damaged when the archive cannot be read."""
    return [(m.name, m.kind == "dir") for m in _members(archive)]


def normal(name: str) -> str:
    # Zips made on Windows may separate with backslashes: ..\..\x is a traversal too.
    return name.replace("\\", "/")


def extract(archive: Path, into: Path, owner_of: Callable[[str], str], limits: Limits) -> dict[str, str]:
    """Extracts what is safe; returns owner -> why that owner's part was
    refused (nothing of a refused owner is left on disk)."""
    into.mkdir(parents=True, exist_ok=True)
    refused: dict[str, str] = {}
    budget = _Budget(limits)
    try:
        for member in _members(archive):
            owner = owner_of(member.name)
            if owner in refused:
                continue
            problem = _check(member) or (budget.charge(owner, member.size) if member.kind == "file" else "")
            if not problem and member.kind == "file":
                problem = _write(member, into / normal(member.name), limits.student_bytes)
            elif not problem and member.kind == "dir":
                (into / normal(member.name)).mkdir(parents=True, exist_ok=True)  # an empty folder is a student too
            if problem:
                refused[owner] = problem if member.name in problem else f"{problem}: {member.name}"
                _remove_owner(into, owner, owner_of)
    except Damaged as e:
        return {owner_of(""): f"the archive is damaged or not an archive ({e})"}
    return refused


def is_absolute(name: str) -> bool:
    return normal(name).startswith("/") or bool(re.match(r"^[A-Za-z]:", name))


def _check(member: Member) -> str:
    name = normal(member.name)
    if is_absolute(name):
        return f"absolute path {member.name}"
    if ".." in PurePosixPath(name).parts:
        return f"path leaving the directory: {member.name}"
    if member.kind == "special":
        return f"device file or FIFO: {member.name}"
    if member.kind in ("link", "hardlink"):
        base = PurePosixPath(name).parent if member.kind == "link" else PurePosixPath()
        target = normal(member.target)
        if target.startswith("/") or _escapes(base / target):
            return f"link leaving the directory: {member.name} -> {member.target}"
    return ""


def _escapes(path: PurePosixPath) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return True
    return False


def _write(member: Member, target: Path, limit: int) -> str:
    """Streams a file out, counting what it really expands to (a member's
    declared size can lie)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with member.open() as source, open(target, "wb") as out:  # type: ignore[attr-defined]
            while chunk := source.read(1 << 16):
                written += len(chunk)
                if written > limit:
                    return f"expands past {limit // (1024 * 1024)} MiB"
                out.write(chunk)
    except (
        OSError,
        zipfile.BadZipFile,
        tarfile.TarError,
        zlib.error,
        EOFError,
        RuntimeError,
        NotImplementedError,
    ) as e:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression.
        return f"cannot be extracted: {member.name}: {e}"
    return ""


def _remove_owner(into: Path, owner: str, owner_of: Callable[[str], str]) -> None:
    for path in sorted(into.rglob("*"), reverse=True) if into.exists() else []:
        relative = str(path.relative_to(into))
        if owner_of(relative) == owner and not path.is_dir():
            path.unlink()
    for path in sorted(into.rglob("*"), reverse=True) if into.exists() else []:
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


class Damaged(Exception):
    pass


def _members(archive: Path) -> Iterator[Member]:
    try:
        if archive.name.lower().endswith(".zip"):
            yield from _zip_members(archive)
        else:
            yield from _tar_members(archive)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, RuntimeError, NotImplementedError) as e:
        raise Damaged(str(e) or type(e).__name__) from e


def _zip_members(archive: Path) -> Iterator[Member]:
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0: made without Unix modes
            if info.is_dir() or file_type == stat.S_IFDIR:
                kind = "dir"
            elif file_type == stat.S_IFLNK:
                kind = "link"
            elif file_type in (0, stat.S_IFREG):
                kind = "file"
            else:
                kind = "special"
            target = zipped.read(info).decode(errors="replace") if kind == "link" else ""
            yield Member(info.filename, kind, info.file_size, target, partial(zipped.open, info))


def _tar_members(archive: Path) -> Iterator[Member]:
    with tarfile.open(archive, "r:*") as tarred:
        for info in tarred:
            if info.isdir():
                kind = "dir"
            elif info.issym():
                kind = "link"
            elif info.islnk():
                kind = "hardlink"
            elif info.isreg():
                kind = "file"
            else:
                kind = "special"
            yield Member(info.name, kind, info.size, info.linkname, partial(tarred.extractfile, info))
