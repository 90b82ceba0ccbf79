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
import shutil
from dataclasses import replace
from pathlib import Path

from grader.classroom import archives, layouts
from grader.classroom.archives import ARCHIVE_SUFFIXES, JUNK, extract, is_archive
from grader.classroom.layouts import CANVAS_NAME, GRADESCOPE_METADATA
from grader.classroom.submission import Collection, Limits, Submission
from grader.errors import GraderError
from grader.grading.lab import Lab


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
        root = layouts.look_through_wrappers(source, lab)
    else:
        raise GraderError(f"there are no submissions at {source}", tip="pass the directory or archive to grade")
    if (root / GRADESCOPE_METADATA).is_file():
        layout, found, warnings = "gradescope", *layouts.gradescope(root)
    elif any(CANVAS_NAME.match(p.name) for p in layouts.entries_in(root) if p.is_file()):
        layout, found, warnings = "canvas", *layouts.canvas(root, scratch / "canvas")
    else:
        layout, found, warnings = "folders", *layouts.folders(root, scratch / "loose")
    claimed = {s.student for s in found} | {_owner_name(s) for s in found}
    # A student whose whole part was refused has nothing on disk: still a row.
    found += [Submission(owner) for owner in refusals if owner and owner not in claimed]
    prepared = []
    for submission in layouts.with_keys(found):
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


def extract_class(archive: Path, into: Path, lab: Lab, limits: Limits) -> tuple[dict[str, str], list[str]]:
    """A class archive: each student's part is checked on its own; returns
    the refused students (owner -> reason) and the wrapper folders. A
    damaged class archive stops the batch: it is no one student's fault."""
    try:
        members = archives.member_names(archive)
    except archives.Damaged as e:
        raise GraderError(f"{archive} cannot be read: {e}", tip="download the export again") from e
    if len(members) > limits.class_members:
        raise GraderError(f"{archive} holds {len(members)} members, more than {limits.class_members}")
    wrapper = layouts.archive_wrapper(members, lab)
    into.joinpath(*wrapper).mkdir(parents=True, exist_ok=True)
    return extract(archive, into, lambda member: layouts.archive_owner(member, wrapper), limits), wrapper


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
        assert chosen is not None  # _choose gives a file or a problem
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
