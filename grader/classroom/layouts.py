"""Platform layouts: where each student's part is in what a course platform
exports: Gradescope's submission_<id>/ folders beside
submission_metadata.yml, Canvas's flat <name>_<userid>_<submissionid>_<file>
names, or one folder per student; a folder wrapping everything is looked
through."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

from grader.classroom.archives import ARCHIVE_SUFFIXES, JUNK, is_absolute, is_archive, normal
from grader.classroom.submission import Submission
from grader.errors import GraderError
from grader.grading.lab import Lab
from grader.grading.stage import slot_name

GRADESCOPE_METADATA = "submission_metadata.yml"
# doe_jane_12345_67890_pipe_lab.cpp, doe_jane_LATE_12345_67890_pipe_lab-1.cpp
CANVAS_NAME = re.compile(r"^(?P<name>.+?)(?P<late>_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
CANVAS_COPY = re.compile(r"^(?P<stem>.+?)-(?P<copy>\d+)(?P<ext>(\.[^.]+)?)$")


def entries_in(directory: Path) -> list[Path]:
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
    students = [
        n for n, folder in children.items() if folder or n.lower().endswith(ARCHIVE_SUFFIXES) or CANVAS_NAME.match(n)
    ]
    return len(students) >= 2


def look_through_wrappers(root: Path, lab: Lab) -> Path:
    while True:
        entries = entries_in(root)
        if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
            return root
        if not is_wrapper({p.name: p.is_dir() and not p.is_symlink() for p in entries_in(entries[0])}, lab):
            return root
        root = entries[0]


def folders(root: Path, loose: Path) -> tuple[list[Submission], list[str]]:
    """One folder per student; a student's archive beside the folders
    (alice.zip) is that student's submission."""
    found, warnings = [], []
    for entry in entries_in(root):
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


def gradescope(root: Path) -> tuple[list[Submission], list[str]]:
    metadata = _read_yaml(root / GRADESCOPE_METADATA)
    found: list[Submission] = []
    warnings: list[str] = []
    listed: set[str] = set()
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
    for entry in entries_in(root):
        if entry.is_dir() and entry.name not in listed:
            found.append(
                Submission(entry.name, directory=entry, notes=(f"{entry.name} is not in {GRADESCOPE_METADATA}",))
            )
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


def canvas(root: Path, into: Path) -> tuple[list[Submission], list[str]]:
    """Canvas's flat download: files grouped by student, each renamed back to
    what the student uploaded."""
    groups: dict[tuple[str, str], list[tuple[str, Path]]] = {}
    late: set[tuple[str, str]] = set()
    warnings = []
    for entry in entries_in(root):
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


def with_keys(found: list[Submission]) -> list[Submission]:
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


def archive_wrapper(members: list[tuple[str, bool]], lab: Lab) -> list[str]:
    """The wrapper folders of a class archive, found from its member names
    as look_through_wrappers finds them on disk (so each student's part
    is known before anything is extracted)."""
    # An absolute path (refused) says nothing about the layout; a path with
    # .. still names its student in its first folders.
    inside = [(name, folder) for name, folder in members if not is_absolute(name)]
    paths = [([p for p in normal(name).split("/") if p], folder) for name, folder in inside]
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


def archive_owner(member: str, wrapper: list[str]) -> str:
    parts = [p for p in normal(member).split("/") if p][len(wrapper) :]
    if not parts:
        return ""
    if len(parts) == 1 and CANVAS_NAME.match(parts[0]):
        return CANVAS_NAME.match(parts[0])["name"]  # type: ignore[index]
    if len(parts) == 1 and is_archive(Path(parts[0])):
        return archive_stem(parts[0])
    return parts[0]
