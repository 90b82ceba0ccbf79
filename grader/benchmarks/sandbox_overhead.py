"""How much the sandbox costs per test: every test case of a lab's reference,
run alone, with bubblewrap and without (reduced isolation, which still has
the limits, the inspector and the process sweep), and bare (the binary run
directly, nothing else). Prints the median and spread per mode.

    /usr/bin/python3 -m grader.benchmarks.sandbox_overhead [LAB] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from grader import lab as labs, pipeline, run, sandbox


def bare(binary, name: str) -> float:
    started = time.monotonic()
    subprocess.run([str(binary), f"--test-case={name}", *run.DOCTEST_FLAGS], capture_output=True, check=False)
    return time.monotonic() - started


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
    reduced = sandbox.Sandbox("reduced", "benchmark", box.drop_to_uid).with_limits(lab.limits)
    isolated = box.with_limits(lab.limits)
    modes = {"bare": [], "reduced isolation": [], "bubblewrap": []}
    for _ in range(args.rounds):
        for test in lab.tests:
            modes["bare"].append(bare(reference.binary, test.name))
            modes["reduced isolation"].append(run.run_test(reduced, reference.binary, test.name, 60).seconds)
            modes["bubblewrap"].append(run.run_test(isolated, reference.binary, test.name, 60).seconds)
    print(f"{lab.name}: {len(lab.tests)} test cases x {args.rounds} rounds, seconds per test case")
    print(f"{'mode':20} {'median':>8} {'p10':>8} {'p90':>8} {'total':>8}")
    for mode, times in modes.items():
        deciles = statistics.quantiles(times, n=10)
        print(f"{mode:20} {statistics.median(times):8.3f} {deciles[0]:8.3f} {deciles[-1]:8.3f} {sum(times):8.2f}")
    base = statistics.median(modes["bare"])
    for mode in ("reduced isolation", "bubblewrap"):
        print(f"overhead of {mode}: {1000 * (statistics.median(modes[mode]) - base):.0f} ms per test (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
