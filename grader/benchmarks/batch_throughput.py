"""How fast ./grade batch grades a class, and whether every row is right.

Generates a class of the pipe lab (grader/benchmarks/classes.py: the reference, the
skeleton, every corpus bug, compile errors, missing, misnamed and empty files,
archives, and archives the grader must refuse), grades it once per --jobs
value, each time with a fresh salt so every student's file compiles anew, and
prints students per minute and how many rows are right. With --kill-at N it
then grades the last class again, kills that batch with SIGKILL once N
students are recorded, resumes it, and compares the gradebook and summary
with the uninterrupted run's, byte for byte.

    /usr/bin/python3 -m grader.benchmarks.batch_throughput --copies 5 --jobs 1 2 --kill-at 40
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.classroom import gradebook
from grader.grading.lab import REPO, Lab, load_lab
from grader.benchmarks.classes import Expected, make_class


def batch_command(klass: Path, out: Path, jobs: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "grader", "batch", "pipe", str(klass), "--out", str(out), "--jobs", str(jobs), *extra]


def run_batch(klass: Path, out: Path, jobs: int, *extra: str) -> float:
    started = time.monotonic()
    subprocess.run(
        batch_command(klass, out, jobs, *extra),
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def wrong_rows(lab: Lab, out: Path, expected: dict[str, Expected]) -> list[str]:
    """Students whose gradebook row differs from what their submission must get."""
    with open(out / "gradebook.csv", newline="") as f:
        found = {row["student"]: row for row in csv.DictReader(f)}
    wrong = [f"{s}: no row" for s in expected if s not in found]
    for student, row in found.items():
        want = expected.get(student)
        if want is None:
            wrong.append(f"{student}: a row for no student")
            continue
        columns = sum(float(row[t.name]) for t in lab.tests) + float(row[gradebook.LEAK_COLUMN])
        if (row["status"], float(row["score"])) != (want.status, want.score or 0) or want.reason not in row["reason"]:
            wrong.append(f"{student}: {row['status']} {row['score']} {row['reason']!r}, expected {want}")
        elif columns != float(row["score"]):
            wrong.append(f"{student}: the columns add up to {columns}, the score is {row['score']}")
    return wrong


def kill_and_resume(klass: Path, uninterrupted: Path, out: Path, jobs: int, kill_at: int) -> str:
    process = subprocess.Popen(
        batch_command(klass, out, jobs),
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = gradebook.state_directory(out)
    while process.poll() is None and len(list(records.glob("*.json")) if records.exists() else []) < kill_at:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    recorded = len(list(records.glob("*.json")))
    seconds = run_batch(klass, out, jobs, "--resume")
    same = all((out / f).read_bytes() == (uninterrupted / f).read_bytes() for f in ("gradebook.csv", "summary.json"))
    return (
        f"killed with SIGKILL after {recorded} students were recorded; --resume took {seconds:.0f} s; "
        f"gradebook.csv and summary.json {'are byte-identical to' if same else 'DIFFER from'} the uninterrupted run's"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5, help="copies of each kind of submission (23 kinds for pipe)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--test-jobs", type=int, help="each student's tests run at once (default: ./grade batch's)")
    parser.add_argument("--kill-at", type=int, default=0, help="also check kill and resume, killing after N students")
    args = parser.parse_args(argv)
    lab = load_lab("pipe")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="ipclab-throughput-") as scratch:
        last: tuple[Path, Path] | None = None
        for jobs in args.jobs:
            klass = Path(scratch) / f"class-jobs{jobs}"
            expected = make_class(klass, lab, args.copies, salt=f"throughput-{time.time_ns()}")
            out = Path(scratch) / f"out-jobs{jobs}"
            extra = ("--test-jobs", str(args.test_jobs)) if args.test_jobs else ()
            seconds = run_batch(klass, out, jobs, *extra)
            wrong = wrong_rows(lab, out, expected)
            failures += len(wrong)
            print(
                f"--jobs {jobs}{f' --test-jobs {args.test_jobs}' if args.test_jobs else ''}: "
                f"{len(expected)} students in {seconds:.0f} s = {len(expected) / seconds * 60:.1f} per minute; "
                f"{len(expected) - len(wrong)}/{len(expected)} rows right; load average {os.getloadavg()[0]:.1f}"
            )
            for line in wrong:
                print("  wrong:", line)
            last = (klass, out)
        if args.kill_at and last:
            message = kill_and_resume(last[0], last[1], Path(scratch) / "out-resumed", args.jobs[-1], args.kill_at)
            failures += "DIFFER" in message
            print(message)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
