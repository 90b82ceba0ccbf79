"""Do tests in parallel give the verdicts tests one at a time give?

Grades every bug of each lab's corpus (and the reference and the skeleton)
twice: with one test at a time, then with --jobs tests at once, and
compares every test's status and every leak kind. Prints the time of each
pass and their ratio, and each difference; exits 1 when there is one.

    /usr/bin/python3 -m grader.benchmarks.parallel_verdicts [LAB ...] [--jobs 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from grader.checks import corpus
from grader.grading import pipeline, sandbox
from grader.grading.lab import Lab, available_labs, load_lab

Verdicts = dict[str, tuple[str, ...]]  # submission -> each test's status, then the leak kinds


def submissions(lab: Lab, scratch: Path) -> dict[str, Path]:
    found = {"reference": lab.solution_directory, "skeleton": lab.directory}
    for bug in corpus.load_bugs(lab):
        directory = scratch / bug.name
        directory.mkdir()
        found[f"bug {bug.name}"] = corpus.materialize(lab, bug, directory)
    return found


def grade_all(
    lab: Lab, found: dict[str, Path], reference: pipeline.Reference, box: sandbox.Sandbox, jobs: int
) -> tuple[Verdicts, float]:
    started = time.monotonic()
    verdicts: Verdicts = {}
    for label, directory in found.items():
        grade = pipeline.grade(lab, directory, f"verdicts-{label}", reference, box, jobs)
        statuses = tuple(f"{r.spec.name}: {getattr(r.status, 'value', r.status)}" for r in grade.results)
        verdicts[label] = statuses + tuple(f"leak: {kind}" for kind in sorted(set(grade.leak_kinds)))
    return verdicts, time.monotonic() - started


def differences(one: Verdicts, many: Verdicts) -> list[str]:
    found = []
    for label, alone in one.items():
        side_by_side = many[label]
        for a, b in zip(alone, side_by_side):
            if a != b:
                found.append(f"{label}: one at a time {a!r}, in parallel {b!r}")
        if len(alone) != len(side_by_side):
            found.append(f"{label}: {len(alone)} verdicts one at a time, {len(side_by_side)} in parallel")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labs", nargs="*", default=available_labs())
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args(argv)
    box = sandbox.detect()
    all_differences: list[str] = []
    print(f"{'lab':10} {'graded':>6} {'jobs 1 (s)':>10} {f'jobs {args.jobs} (s)':>10} {'ratio':>6} {'differ':>6}")
    for name in args.labs:
        lab = load_lab(name)
        reference = pipeline.prepare_reference(lab, box)
        with tempfile.TemporaryDirectory(prefix=f"ipclab-verdicts-{name}-") as scratch:
            found = submissions(lab, Path(scratch))
            one, one_seconds = grade_all(lab, found, reference, box, 1)
            many, many_seconds = grade_all(lab, found, reference, box, args.jobs)
        lab_differences = differences(one, many)
        all_differences += lab_differences
        print(
            f"{name:10} {len(found):6} {one_seconds:10.1f} {many_seconds:10.1f} {many_seconds / one_seconds:6.2f} "
            f"{len(lab_differences):6}",
            flush=True,
        )
    for line in all_differences:
        print(line)
    return 1 if all_differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
