"""What the class stage passes around: one student's submission, the
class collected from a platform's export, and the limits on what a
student's files may expand to."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
