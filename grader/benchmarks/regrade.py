"""What a student waits for after an edit, against what the tests take.

The baseline is the bare sequential run: every test case of the lab's
reference, one after another, each in its own process, without the grader
(no sandbox, no inspector, no build). Against it, in the same run, it times
`./grade LAB --submission DIR` on a copy of the reference after an edit
(the file changes, so it is compiled and linked anew), with --jobs 1 and
with the machine's cores, and the same again with nothing changed; with
--against, the same in another checkout (an older commit, for a before and
after), taking turns. Prints min / median / max of each and the ratio of
each median to the baseline's.

    /usr/bin/python3 -m grader.benchmarks.regrade [LAB] [--rounds N] [--against CHECKOUT]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from grader.grading import lab as labs, pipeline, run, sandbox
from grader.grading.lab import REPO


def timed(action: Callable[[], None]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def bare_sequential(binary: Path, names: list[str]) -> None:
    for name in names:
        subprocess.run([str(binary), f"--test-case={name}", *run.DOCTEST_FLAGS], capture_output=True, check=False)


def grade(lab: str, submission: Path, jobs: int, tree: Path = REPO) -> None:
    """./grade in `tree`; another checkout (--against) is graded as it is,
    with its own options (an older one may have no --jobs)."""
    command = [sys.executable, "-m", "grader", lab, "--submission", str(submission)]
    command += ["--jobs", str(jobs)] if tree == REPO else []
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(command, cwd=tree, env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def edit(submission: Path, lab: labs.Lab, round_number: int) -> None:
    """A change that compiles to the same code: a new comment."""
    path = submission / lab.student_files[0]
    path.write_text(path.read_text() + f"\n// edit {round_number}\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab", nargs="?", default="pipe")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--against",
        type=Path,
        metavar="CHECKOUT",
        help="also time ./grade in another checkout (an older commit), taking turns with this one",
    )
    args = parser.parse_args(argv)
    lab = labs.load_lab(args.lab)
    reference = pipeline.prepare_reference(lab, sandbox.detect())
    assert reference.binary is not None
    names = [t.name for t in lab.tests]
    cores = os.cpu_count() or 1
    figures: dict[str, list[float]] = {"bare sequential run": []}
    with tempfile.TemporaryDirectory(prefix="ipclab-regrade-") as scratch:
        submission = Path(scratch)
        for name in lab.student_files:
            shutil.copyfile(lab.solution_directory / name, submission / name)
        grade(lab.name, submission, cores)  # warm: Bazel's server, the tests' build
        if args.against:
            grade(lab.name, submission, cores, args.against.resolve())
        assert reference.binary is not None  # the course repository: a reference to measure
        binary = reference.binary
        for round_number in range(args.rounds):
            figures["bare sequential run"].append(timed(lambda: bare_sequential(binary, names)))
            runs = [(f"--jobs {jobs}", jobs, REPO) for jobs in sorted({1, cores})]
            runs += [(f"{args.against}", cores, args.against.resolve())] if args.against else []
            for index, (label, jobs, tree) in enumerate(runs):
                edit(submission, lab, round_number * 10 + index)
                figures.setdefault(f"after an edit, {label}", []).append(
                    timed(lambda: grade(lab.name, submission, jobs, tree))
                )
                figures.setdefault(f"unchanged, {label}", []).append(
                    timed(lambda: grade(lab.name, submission, jobs, tree))
                )
    base = statistics.median(figures["bare sequential run"])
    print(f"{lab.name}: {len(names)} test cases, {args.rounds} rounds, seconds (wall)")
    width = max(len(what) for what in figures)
    print(f"{'what':{width}} {'min':>7} {'median':>7} {'max':>7} {'× bare':>7}")
    for what, times in figures.items():
        median = statistics.median(times)
        print(f"{what:{width}} {min(times):7.2f} {median:7.2f} {max(times):7.2f} {median / base:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
