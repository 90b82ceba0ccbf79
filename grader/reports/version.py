"""Which grader made a report: the release, and a digest of the grader's own
sources, so a results file says exactly which code graded it even where no
git checkout is at hand (a course platform's image holds a bundle)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

RELEASE = "1.0"
GRADER = Path(__file__).resolve().parents[1]


@functools.cache
def grader_version() -> str:
    """ "1.0+" and the first 12 hex digits of a SHA-256 over the grader's
    Python sources (path and bytes, in sorted order; its tests left out)."""
    digest = hashlib.sha256()
    for path in sorted(GRADER.rglob("*.py")):
        relative = path.relative_to(GRADER)
        if relative.parts[0] == "tests":
            continue
        digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{RELEASE}+{digest.hexdigest()[:12]}"


# The version of the grader's own JSON report (./grade LAB --format json).
FORMAT_VERSION = 1
