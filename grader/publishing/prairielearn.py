"""PrairieLearn's external grader, inside the image `./grade export
prairielearn` describes. PrairieLearn mounts the job at /grade:

    /grade/student/          the files the student submitted (pl-file-editor, pl-file-upload)
    /grade/data/data.json    the question's data; a custom element may put the files
                             in submitted_answers._files instead ({name, contents: base64})
    /grade/results/          created here: results.json, which PrairieLearn reads

    /usr/bin/python3 -m grader.publishing.prairielearn LAB

IPCLAB_GRADE_ROOT replaces /grade, to run the grader on a job laid out in a
scratch directory. A results file is always written: when the grader itself
fails, the job is "not gradable" (PrairieLearn then charges no attempt) and
says it was not the student's fault.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
import tempfile
from pathlib import Path, PurePosixPath

from grader import cli
from grader import atomic

DEFAULT_ROOT = Path("/grade")


def grade_root() -> Path:
    return Path(os.environ.get("IPCLAB_GRADE_ROOT") or DEFAULT_ROOT)


def submitted_files(root: Path, scratch: Path) -> Path:
    """The directory holding the student's files: /grade/student when it
    holds any, or else the files data.json carries, written into scratch."""
    student = root / "student"
    if student.is_dir() and any(p.is_file() for p in student.rglob("*")):
        return student
    for entry in _data_files(root / "data" / "data.json"):
        name = PurePosixPath(str(entry.get("name", "")))
        # A file name from the submission: only a plain relative path is written.
        if not name.parts or name.is_absolute() or ".." in name.parts:
            continue
        try:
            contents = base64.b64decode(str(entry.get("contents", "")), validate=True)
        except (binascii.Error, ValueError):
            continue
        target = scratch / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(contents)
    return scratch


def _data_files(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    files = data.get("submitted_answers", {}).get("_files", []) if isinstance(data, dict) else []
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def grader_failed(message: str) -> str:
    return (
        json.dumps(
            {
                "gradable": False,
                "message": (
                    "The grader failed on this submission; it is not your fault and costs no attempt. "
                    "Tell your instructor."
                ),
                "format_errors": [message],
            },
            indent=2,
        )
        + "\n"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m grader.publishing.prairielearn",
        description="Grade a PrairieLearn job in /grade (or $IPCLAB_GRADE_ROOT).",
    )
    parser.add_argument("lab")
    args = parser.parse_args(argv)
    root = grade_root()
    results = root / "results" / "results.json"
    (root / "results").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ipclab-prairielearn-") as scratch:
        submission = submitted_files(root, Path(scratch))
        try:
            status = cli.main(
                ["autograde", args.lab, str(submission), "--format", "prairielearn", "--output", str(results)]
            )
        except Exception as e:  # noqa: BLE001 — PrairieLearn must get a results file whatever happens
            status, message = cli.Exit.ERROR, f"{type(e).__name__}: {e}"
        else:
            message = "the grader stopped with an error: see the job's standard error"
    if status != cli.Exit.OK or not results.exists():
        atomic.write_atomically(results, grader_failed(message))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
