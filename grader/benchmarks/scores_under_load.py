"""Does a submission get one score when both cores are busy?

Grades one submission (a corpus bug, or a directory) several times while a
CPU-bound loop runs on every core, and prints each score and which tests
failed or were skipped. The bar (issue 19): the same file graded 5 times
under load gets one score. Exits 1 when the scores differ.

    /usr/bin/python3 -m grader.benchmarks.scores_under_load fifo \
        --bug reader_does_not_wait_for_writer --times 5
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grader.checks import corpus
from grader.grading import pipeline, sandbox
from grader.grading.lab import Lab, load_lab


def _spin() -> None:
    while True:
        pass


@contextmanager
def cores_busy(count: int) -> Iterator[None]:
    """`count` processes spinning on the CPU for the duration."""
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for spinner in spinners:
        spinner.start()
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.join()


def submission_of(lab: Lab, bug_name: str | None, directory: Path | None, scratch: Path) -> Path:
    if directory is not None:
        return directory
    bug = next((b for b in corpus.load_bugs(lab) if b.name == bug_name), None)
    if bug is None:
        raise SystemExit(f"{lab.name} has no corpus bug {bug_name!r}: see solutions/{lab.name}/bugs/")
    return corpus.materialize(lab, bug, scratch)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--bug", help="a corpus bug of the lab, by name")
    which.add_argument("--submission", type=Path, help="a directory holding the student file(s)")
    parser.add_argument("--times", type=int, default=5, help="grades to make (default 5)")
    parser.add_argument(
        "--spinners",
        type=int,
        default=os.cpu_count() or 2,
        help="CPU-bound loops run meanwhile (default: one per core)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="tests run at once (default 2)")
    args = parser.parse_args(argv)
    lab = load_lab(args.lab)
    box = sandbox.detect()
    reference = pipeline.prepare_reference(lab, box)  # built before the load starts
    scores: list[float] = []
    with tempfile.TemporaryDirectory(prefix=f"ipclab-load-{lab.name}-") as scratch:
        submission = submission_of(lab, args.bug, args.submission, Path(scratch))
        with cores_busy(args.spinners):
            for attempt in range(1, args.times + 1):
                grade = pipeline.grade(lab, submission, f"under-load-{attempt}", reference, box, args.jobs)
                scores.append(grade.score)
                lost = [
                    f"{r.spec.name} ({getattr(r.status, 'value', r.status)})"
                    for r in grade.results
                    if r.score < r.spec.points
                ]
                print(
                    f"grade {attempt}: {grade.score:g} / {grade.max_score:g}; lost: {'; '.join(lost) or 'nothing'}",
                    flush=True,
                )
    print(f"scores with {args.spinners} cores busy: {' '.join(f'{s:g}' for s in scores)}")
    return 0 if len(set(scores)) == 1 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
