"""How much the sandbox costs per test: every test case of a lab's reference,
run alone, bare (the binary run directly, nothing else), with bubblewrap, and
in reduced isolation (which still has the limits, the inspector and the
process sweep). The modes take turns test by test, so a machine that gets
busier in the middle of the run slows all of them alike.

A sandboxed time is the wall time of run.run_test: everything the grader
spends on the test, its view, cgroup, launch, report and clean-up included.
A test's sandbox cost is its sandboxed time minus its bare time in the same
round; the median of those costs is the number to watch.

    /usr/bin/python3 -m grader.benchmarks.sandbox_overhead [LAB] [--rounds N]

(from the repository's root; as root, for cgroups and uid drops, as graders run)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from grader.grading import lab as labs, pipeline, run, sandbox


def bare(binary: Path, name: str) -> float:
    started = time.monotonic()
    subprocess.run([str(binary), f"--test-case={name}", *run.DOCTEST_FLAGS], capture_output=True, check=False)
    return time.monotonic() - started


def sandboxed(box: sandbox.Sandbox) -> Callable[[Path, str], float]:
    def timed(binary: Path, name: str) -> float:
        started = time.monotonic()
        run.run_test(box, binary, name, 60)
        return time.monotonic() - started

    return timed


def spread(label: str, seconds: list[float]) -> str:
    ms = [1000 * s for s in seconds]
    return f"{label:28} {statistics.median(ms):9.1f} {min(ms):9.1f} {max(ms):9.1f}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab", nargs="?", default="pipe")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    lab = labs.load_lab(args.lab)
    box = sandbox.detect()
    if not box.isolated:
        print(f"bubblewrap unavailable: {box.reason}", file=sys.stderr)
        return 1
    reference = pipeline.prepare_reference(lab, box)
    reduced = sandbox.Sandbox("reduced", "benchmark", box.drop_to_uid, cgroups=box.cgroups).with_limits(lab.limits)
    modes = {
        "bare": bare,
        "bubblewrap": sandboxed(box.with_limits(lab.limits)),
        "reduced isolation": sandboxed(reduced),
    }
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    assert reference.binary is not None  # the course repository: a reference to measure
    for _ in range(args.rounds):
        for test in lab.tests:
            for mode, measure in modes.items():
                times[mode].append(measure(reference.binary, test.name))

    print(f"{lab.name}: {len(lab.tests)} test cases x {args.rounds} rounds, milliseconds per test case")
    print(f"{'':28} {'median':>9} {'min':>9} {'max':>9}")
    for mode, seconds in times.items():
        print(spread(mode, seconds))
    for mode in ("bubblewrap", "reduced isolation"):
        costs = [boxed - plain for boxed, plain in zip(times[mode], times["bare"])]
        print(spread(f"sandbox cost, {mode}", costs))
    ratio = statistics.median(times["bubblewrap"]) / statistics.median(times["bare"])
    print(f"bubblewrap / bare (medians): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
