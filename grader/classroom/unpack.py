"""Unpack: turn what a course platform exports into one directory per
student holding exactly the lab's student files, and refuse what is unsafe.

SUBMISSIONS is a directory or an archive (.zip, .tar.gz, .tgz, .tar) of one,
in one of these layouts, detected in this order:

    gradescope  submission_metadata.yml beside submission_<id>/ folders
    canvas      a flat folder of <name>_<userid>_<submissionid>_<file> names
                (Canvas adds _LATE_ after the name, and -1, -2 … to a file
                uploaded again: pipe_lab-1.cpp is taken as pipe_lab.cpp)
    folders     one folder per student, named after the student

A folder that wraps everything (an export's own top folder) is looked
through. Inside a student's submission the lab's files may sit in a
subfolder, or in an archive the student uploaded.

Archives are never trusted: every member is checked before anything is
written, and a student whose part holds an absolute path, a path leaving
the directory (..), a link leaving it, a device file or FIFO, or more than
the size limit is refused whole, with the reason, naming the student. One
bad student never stops the others.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from grader.errors import GraderError
from grader.grading.lab import Lab
from grader.grading.stage import slot_name

GRADESCOPE_METADATA = "submission_metadata.yml"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
# What archivers and desktops leave behind; never a student's work.
JUNK = re.compile(r"^(__MACOSX|\.DS_Store|\._.*|Thumbs\.db|desktop\.ini)$")
# doe_jane_12345_67890_pipe_lab.cpp, doe_jane_LATE_12345_67890_pipe_lab-1.cpp
CANVAS_NAME = re.compile(r"^(?P<name>.+?)(?P<late>_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
CANVAS_COPY = re.compile(r"^(?P<stem>.+?)-(?P<copy>\d+)(?P<ext>(\.[^.]+)?)$")


@dataclass(frozen=True)
class Limits:
    student_bytes: int = 64 * 1024 * 1024  # what one student's files may expand to
    student_files: int = 2000  # members of one student's part
    class_members: int = 500_000  # a class archive with more is refused whole


@dataclass(frozen=True)
class Submission:
    student: str  # as the platform names the student: folder, email, Canvas name
    directory: Path | None = None  # holds exactly the lab's student files
    problem: str = ""  # why it cannot be graded: its row gets 0 and this reason
    notes: tuple[str, ...] = ()  # what was done to find the files, said to the student
    name: str = ""  # the student's full name, where the platform gives it
    platform_id: str = ""  # Canvas user id, Gradescope SID
    email: str = ""
    key: str = ""  # unique, safe in file names and Bazel packages; rows sort by it
    fingerprint: str = ""  # of the files graded: a resumed batch regrades a changed one
    group: str = ""  # the platform's submission, where several students share it (a Gradescope group)


@dataclass
class Collection:
    layout: str
    submissions: list[Submission]
    warnings: list[str] = field(default_factory=list)  # for the TA: files that belong to nobody


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def collect(source: Path, lab: Lab, scratch: Path, limits: Limits = Limits()) -> Collection:
    """Every student in `source`, each ready to grade or with its problem.

    scratch: an empty directory for unpacked and prepared files.
    """
    refusals: dict[str, str] = {}
    if source.is_file():
        if not is_archive(source):
            raise GraderError(
                f"{source} is neither a directory nor an archive",
                tip=f"pass a directory of submissions or a {', '.join(ARCHIVE_SUFFIXES)} file",
            )
        # The wrapper folders are found from the member names, before a
        # refused student's part could change how the extracted tree looks.
        refusals, wrapper = extract_class(source, scratch / "class", lab, limits)
        root = scratch.joinpath("class", *wrapper)
    elif source.is_dir():
        root = _look_through_wrappers(source, lab)
    else:
        raise GraderError(f"there are no submissions at {source}", tip="pass the directory or archive to grade")
    if (root / GRADESCOPE_METADATA).is_file():
        layout, found, warnings = "gradescope", *_gradescope(root)
    elif any(CANVAS_NAME.match(p.name) for p in _entries(root) if p.is_file()):
        layout, found, warnings = "canvas", *_canvas(root, scratch / "canvas")
    else:
        layout, found, warnings = "folders", *_folders(root, scratch / "loose")
    claimed = {s.student for s in found} | {_owner_name(s) for s in found}
    # A student whose whole part was refused has nothing on disk: still a row.
    found += [Submission(owner) for owner in refusals if owner and owner not in claimed]
    prepared = []
    for submission in _with_keys(found):
        refused = refusals.get(submission.student) or refusals.get(_owner_name(submission))
        if refused:
            prepared.append(replace(submission, directory=None, problem=refused))
        elif submission.problem or submission.directory is None:
            prepared.append(replace(submission, directory=None, problem=submission.problem or "no submission"))
        else:
            prepared.append(prepare(lab, submission, scratch / "prepared" / submission.key, limits))
    return Collection(layout, prepared, warnings)


def _owner_name(submission: Submission) -> str:
    """The name a student's part has in a class archive: their folder."""
    return submission.directory.name if submission.directory is not None else submission.student


# ---- layouts ------------------------------------------------------------


def _entries(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if not JUNK.match(p.name))


def is_wrapper(children: dict[str, bool], lab: Lab) -> bool:
    """Whether a lone folder, given what it holds (name -> is a folder), is an
    export's own top folder (assignment_123_export/) rather than a student:
    it holds Gradescope's metadata, or several students (folders, archives,
    Canvas-named files) and none of the lab's files itself."""
    if set(children) & set(lab.student_files):
        return False
    if GRADESCOPE_METADATA in children:
        return True
    students = [n for n, folder in children.items() if folder or n.lower().endswith(ARCHIVE_SUFFIXES) or CANVAS_NAME.match(n)]
    return len(students) >= 2


def _look_through_wrappers(root: Path, lab: Lab) -> Path:
    while True:
        entries = _entries(root)
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            return root
        if not is_wrapper({p.name: p.is_dir() and not p.is_symlink() for p in _entries(entries[0])}, lab):
            return root
        root = entries[0]


def _folders(root: Path, loose: Path) -> tuple[list[Submission], list[str]]:
    """One folder per student; a student's archive beside the folders
    (alice.zip) is that student's submission."""
    found, warnings = [], []
    for entry in _entries(root):
        if entry.is_dir() and not entry.is_symlink():
            found.append(Submission(entry.name, directory=entry))
        elif entry.is_file() and not entry.is_symlink() and is_archive(entry):
            student = archive_stem(entry.name)
            directory = loose / entry.name
            directory.mkdir(parents=True)
            shutil.copyfile(entry, directory / entry.name)
            found.append(Submission(student, directory=directory))
        else:
            warnings.append(f"{entry.name}: not a student folder, ignored")
    return found, warnings


def archive_stem(name: str) -> str:
    lower = name.lower()
    return next(name[: -len(s)] for s in ARCHIVE_SUFFIXES if lower.endswith(s))


def _gradescope(root: Path) -> tuple[list[Submission], list[str]]:
    metadata = _read_yaml(root / GRADESCOPE_METADATA)
    found, warnings, listed = [], [], set()
    for folder, record in sorted(metadata.items(), key=lambda item: str(item[0])):
        listed.add(str(folder))
        directory = root / str(folder)
        submitters = _field(record, "submitters") or [{}]
        group = str(folder) if len(submitters) > 1 else ""
        for person in submitters:
            email, sid, name = (str(_field(person, k) or "") for k in ("email", "sid", "name"))
            student = email or sid or name or str(folder)
            problem = "" if directory.is_dir() else f"{folder} is listed in {GRADESCOPE_METADATA} but not in the export"
            found.append(Submission(student, directory, problem, name=name, platform_id=sid, email=email, group=group))
    for entry in _entries(root):
        if entry.is_dir() and entry.name not in listed:
            found.append(Submission(entry.name, directory=entry, notes=(f"{entry.name} is not in {GRADESCOPE_METADATA}",)))
    return found, warnings


def _field(record, key: str):
    # Gradescope writes Ruby symbols as keys: ":submitters:" reads as ":submitters".
    if not isinstance(record, dict):
        return None
    return record.get(f":{key}", record.get(key))


def _read_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError as e:
        raise GraderError("reading a Gradescope export needs PyYAML", tip="apt-get install python3-yaml") from e

    class Loader(yaml.SafeLoader):
        """Safe loading, with Ruby's tags (!ruby/object:…) read as plain data."""

    def untagged(loader, _suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    Loader.add_multi_constructor("!", untagged)
    try:
        data = yaml.load(path.read_text(errors="replace"), Loader=Loader)  # noqa: S506 — a SafeLoader
    except yaml.YAMLError as e:
        raise GraderError(f"{path.name} in the Gradescope export is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise GraderError(f"{path.name} in the Gradescope export does not map submissions to students")
    return data


def _canvas(root: Path, into: Path) -> tuple[list[Submission], list[str]]:
    """Canvas's flat download: files grouped by student, each renamed back to
    what the student uploaded."""
    groups: dict[tuple[str, str], list[tuple[str, Path]]] = {}
    late: set[tuple[str, str]] = set()
    warnings = []
    for entry in _entries(root):
        match = CANVAS_NAME.match(entry.name) if entry.is_file() and not entry.is_symlink() else None
        if not match:
            warnings.append(f"{entry.name}: not named as Canvas names submissions, ignored")
            continue
        who = (match["name"], match["uid"])
        groups.setdefault(who, []).append((match["file"], entry))
        if match["late"]:
            late.add(who)
    found = []
    for (name, uid), files in sorted(groups.items()):
        directory = into / f"{slot_name(name)}_{uid}"
        directory.mkdir(parents=True)
        notes = _canvas_files(files, directory)
        if (name, uid) in late:
            notes.append("Canvas marked this submission late")
        found.append(Submission(name, directory=directory, notes=tuple(notes), platform_id=uid))
    return found, warnings


def _canvas_files(files: list[tuple[str, Path]], directory: Path) -> list[str]:
    """Copies each file under its uploaded name; of pipe_lab.cpp and
    pipe_lab-1.cpp (uploaded again) the highest number is the latest."""
    chosen: dict[str, tuple[int, str, Path]] = {}
    for uploaded, path in files:
        copy = CANVAS_COPY.match(uploaded)
        original, number = (copy["stem"] + copy["ext"], int(copy["copy"])) if copy else (uploaded, 0)
        if original not in chosen or number > chosen[original][0]:
            chosen[original] = (number, uploaded, path)
    notes = []
    for original, (number, uploaded, path) in sorted(chosen.items()):
        shutil.copyfile(path, directory / original)
        if number:
            notes.append(f"{uploaded} was taken as {original} (Canvas numbers a file uploaded again)")
    return notes


def _with_keys(found: list[Submission]) -> list[Submission]:
    """Unique keys, the same every run: the order never depends on the disk."""
    found = sorted(found, key=lambda s: (slot_name(s.student), s.student, s.platform_id))
    used: set[str] = set()
    keyed = []
    for submission in found:
        base = slot_name(submission.student)
        key, n = base, 1
        while key.lower() in used:  # case-insensitive file systems too
            n += 1
            key = f"{base}-{n}"
        used.add(key.lower())
        keyed.append(replace(submission, key=key))
    return keyed


# ---- one student's files ------------------------------------------------


def prepare_one(lab: Lab, source: Path, scratch: Path, limits: Limits = Limits()) -> Submission:
    """One submission as a course platform delivers it (a folder, or an
    archive), ready to grade or with its problem."""
    if source.is_file() and is_archive(source):
        folder = scratch / "archive"
        folder.mkdir(parents=True)
        shutil.copyfile(source, folder / source.name)
        source = folder
    if not source.is_dir():
        return Submission("submission", problem=f"no submission at {source}")
    return prepare(lab, Submission("submission", directory=source, key="submission"), scratch / "prepared", limits)


def prepare(lab: Lab, submission: Submission, into: Path, limits: Limits = Limits()) -> Submission:
    """Finds the lab's files in a student's submission (at any depth, or in an
    archive the student uploaded) and copies exactly those into `into`."""
    assert submission.directory is not None
    notes = list(submission.notes)
    files, links = _regular_files(submission.directory)
    unpacked = into.parent / f"{into.name}.unpacked"
    if not _found_all(lab, files):
        for archive in [f for f in files if is_archive(f)]:
            refused = extract(archive, unpacked / archive.name, lambda _member: submission.student, limits)
            if refused:
                problem = f"{archive.name} refused: {refused[submission.student]}"
                return replace(submission, directory=None, problem=problem, notes=tuple(notes))
            more, more_links = _regular_files(unpacked / archive.name)
            files, links = files + more, links + more_links
    into.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for name in lab.student_files:
        problem, chosen, note = _choose(name, files, links, submission.directory, unpacked)
        if problem:
            return replace(submission, directory=None, problem=problem, notes=tuple(notes))
        notes += [note] if note else []
        shutil.copyfile(chosen, into / name)
        digest.update(name.encode() + b"\0" + (into / name).read_bytes() + b"\0")
    return replace(submission, directory=into, notes=tuple(notes), fingerprint=digest.hexdigest())


def _regular_files(directory: Path) -> tuple[list[Path], list[str]]:
    """Regular files at any depth, and the names of symbolic links (never
    followed, never graded)."""
    files, links = [], []
    for top, folders, names in os.walk(directory):  # os.walk does not follow links
        folders[:] = sorted(f for f in folders if not JUNK.match(f))
        for path in (Path(top) / n for n in sorted(names) if not JUNK.match(n)):
            if path.is_symlink():
                links.append(path.name)
            elif path.is_file():
                files.append(path)
    return files, links


def _found_all(lab: Lab, files: list[Path]) -> bool:
    return all(any(f.name == name for f in files) for name in lab.student_files)


def _choose(name: str, files: list[Path], links: list[str], base: Path, unpacked: Path) -> tuple[str, Path | None, str]:
    """(problem, the file to grade, a note for the student)."""
    matches = sorted((f for f in files if f.name == name), key=lambda f: (len(f.parts), str(f)))
    if not matches:
        if name in links:
            return f"{name} is a symbolic link: submit the file itself", None, ""
        return _missing(name, files), None, ""
    chosen = matches[0]
    if not chosen.read_bytes().strip():
        return f"{name} is empty", None, ""
    where = str(chosen.relative_to(unpacked if chosen.is_relative_to(unpacked) else base))
    if len(matches) > 1:
        return "", chosen, f"{name} was found in {len(matches)} places; graded {where}"
    return "", chosen, (f"graded {where}" if where != name else "")


def _missing(name: str, files: list[Path]) -> str:
    if not files:
        return "empty submission: no files"
    names = sorted({f.name for f in files})
    close = [n for n in names if n.lower() == name.lower()] or difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"{name} is missing; found {close[0]} — the file must be named exactly {name}"
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{name} is missing (the submission holds {shown})"


# ---- archives -----------------------------------------------------------


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


def extract_class(archive: Path, into: Path, lab: Lab, limits: Limits) -> tuple[dict[str, str], list[str]]:
    """A class archive: each student's part is checked on its own; returns
    the refused students (owner -> reason) and the wrapper folders. A
    damaged class archive stops the batch: it is no one student's fault."""
    try:
        members = [(m.name, m.kind == "dir") for m in _members(archive)]
    except _Damaged as e:
        raise GraderError(f"{archive} cannot be read: {e}", tip="download the export again") from e
    if len(members) > limits.class_members:
        raise GraderError(f"{archive} holds {len(members)} members, more than {limits.class_members}")
    wrapper = _wrapper(members, lab)
    into.joinpath(*wrapper).mkdir(parents=True, exist_ok=True)
    return extract(archive, into, lambda member: _owner(member, wrapper), limits), wrapper


def _wrapper(members: list[tuple[str, bool]], lab: Lab) -> list[str]:
    """The wrapper folders of a class archive, found from its member names
    as _look_through_wrappers finds them on disk (so each student's part
    is known before anything is extracted)."""
    # An absolute path (refused) says nothing about the layout; a path with
    # .. still names its student in its first folders.
    inside = [(name, folder) for name, folder in members if not _absolute(name)]
    paths = [([p for p in _normal(name).split("/") if p], folder) for name, folder in inside]
    paths = [(parts, folder) for parts, folder in paths if parts and not JUNK.match(parts[0])]
    prefix: list[str] = []
    while True:
        depth = len(prefix)
        heads = {parts[depth] for parts, _ in paths}
        # A lone folder: every member is inside it, or is the folder itself.
        if len(heads) != 1 or any(len(parts) == depth + 1 and not folder for parts, folder in paths):
            return prefix
        children: dict[str, bool] = {}
        for parts, folder in paths:
            if len(parts) > depth + 1 and not JUNK.match(parts[depth + 1]):
                name = parts[depth + 1]
                children[name] = children.get(name, False) or folder or len(parts) > depth + 2
        if not is_wrapper(children, lab):
            return prefix
        prefix.append(heads.pop())
        paths = [(parts, folder) for parts, folder in paths if len(parts) > depth + 1]


def _owner(member: str, wrapper: list[str]) -> str:
    parts = [p for p in _normal(member).split("/") if p][len(wrapper) :]
    if not parts:
        return ""
    if len(parts) == 1 and CANVAS_NAME.match(parts[0]):
        return CANVAS_NAME.match(parts[0])["name"]  # type: ignore[index]
    if len(parts) == 1 and is_archive(Path(parts[0])):
        return archive_stem(parts[0])
    return parts[0]


def _normal(name: str) -> str:
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
                problem = _write(member, into / _normal(member.name), limits.student_bytes)
            elif not problem and member.kind == "dir":
                (into / _normal(member.name)).mkdir(parents=True, exist_ok=True)  # an empty folder is a student too
            if problem:
                refused[owner] = problem if member.name in problem else f"{problem}: {member.name}"
                _remove_owner(into, owner, owner_of)
    except _Damaged as e:
        return {owner_of(""): f"the archive is damaged or not an archive ({e})"}
    return refused


def _absolute(name: str) -> bool:
    return _normal(name).startswith("/") or bool(re.match(r"^[A-Za-z]:", name))


def _check(member: Member) -> str:
    name = _normal(member.name)
    if _absolute(name):
        return f"absolute path {member.name}"
    if ".." in PurePosixPath(name).parts:
        return f"path leaving the directory: {member.name}"
    if member.kind == "special":
        return f"device file or FIFO: {member.name}"
    if member.kind in ("link", "hardlink"):
        base = PurePosixPath(name).parent if member.kind == "link" else PurePosixPath()
        target = _normal(member.target)
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
    except (OSError, zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, RuntimeError, NotImplementedError) as e:
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


class _Damaged(Exception):
    pass


def _members(archive: Path) -> Iterator[Member]:
    try:
        if archive.name.lower().endswith(".zip"):
            yield from _zip_members(archive)
        else:
            yield from _tar_members(archive)
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, RuntimeError, NotImplementedError) as e:
        raise _Damaged(str(e) or type(e).__name__) from e


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
            yield Member(info.filename, kind, info.file_size, target, lambda info=info: zipped.open(info))


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
            yield Member(info.name, kind, info.size, info.linkname, lambda info=info: tarred.extractfile(info))
