"""What a course platform runs for one submission (`./grade autograde`): the
submission as the platform delivers it is found, graded and turned into
that platform's results file, always, even when the submission is unusable;
on Gradescope, the lab's late penalty and submission limit are applied from
the platform's metadata."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from grader.bench import measure as bench
from grader.classroom import unpack
from grader.errors import GraderError
from grader.grading import pipeline
from grader.grading.lab import Lab
from grader.grading.sandbox import Sandbox
from grader.grading.score import Grade
from grader.publishing import policy
from grader.reports import autolab, machine


def results(lab: Lab, submission: Path, fmt: str, box: Sandbox, metadata_path: Path | None = None) -> str:
    """The results file's text in `fmt` for the submission at `submission`."""
    if metadata_path is not None and fmt != "gradescope":
        raise GraderError(
            f"--metadata is Gradescope's submission metadata, and the format is {fmt}",
            tip="use --metadata with --format gradescope",
        )
    metadata, decision, unread = _submission_decision(lab, metadata_path)
    if metadata is not None and decision is not None and decision.over_limit:
        # Not graded at all: Gradescope keeps the previous results, with why.
        return json.dumps(policy.carried_over(metadata, decision), indent=2) + "\n"
    grade, board = _graded(lab, submission, fmt, box)
    text = machine.render_machine(grade, fmt, board)
    if decision is not None:
        text = json.dumps(policy.apply(json.loads(text), decision), indent=2) + "\n"
    elif unread:
        text = json.dumps(policy.not_applied(json.loads(text), unread), indent=2) + "\n"
    if fmt == "autolab":
        # Autolab shows the output and reads its last line: feedback first.
        text = autolab.autolab_feedback(grade) + text
    return text


def _graded(lab: Lab, submission: Path, fmt: str, box: Sandbox) -> tuple[Grade, list[bench.Entry]]:
    with tempfile.TemporaryDirectory(prefix="ipclab-autograde-") as scratch:
        found = unpack.prepare_one(lab, submission, Path(scratch))
        if found.directory is None:
            return Grade.not_gradable(lab, "submission", box.isolation, found.problem), []
        reference = pipeline.prepare_reference(lab, box)
        grade = pipeline.grade(lab, found.directory, "submission", reference, box, os.cpu_count() or 1)
        return grade, _scoreboard(lab, grade, found.directory, box, fmt)


def _submission_decision(lab: Lab, path: Path | None) -> tuple[policy.Metadata | None, policy.Decision | None, str]:
    """(metadata, decision, why it could not be read): nothing to decide
    without metadata or without a policy in lab.toml."""
    if path is None or not lab.submissions.any:
        return None, None, ""
    try:
        metadata = policy.read_metadata(path)
    except GraderError as e:
        return None, None, e.message
    return metadata, policy.decide(lab, metadata), ""


def _scoreboard(lab: Lab, grade: Grade, submission: Path, box: Sandbox, fmt: str) -> list[bench.Entry]:
    """The benchmark's figures for the platforms with a scoreboard: only for
    a submission that graded, and never part of its score."""
    if fmt not in ("gradescope", "autolab") or not grade.gradable or not bench.has_bench(lab):
        return []
    return bench.scoreboard_for(lab, submission, box)
