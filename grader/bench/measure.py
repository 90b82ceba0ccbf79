"""./grade bench LAB: a lab's benchmark, reference and submission side by side
with what the machine can do, measured in one run.

    build ─► (submission: stage ─► compile, sandboxed ─► refuse ─► link) ─►
    run every case once per repetition, each in the test sandbox ─► figures ─► unstage

Trust, the same as for the tests: the submission's binary is the lab's
bench driver linked with the student's objects, compiled and refused by the
grader's own rules (pipeline.compile_staged) and run in the test sandbox.
Figures come only as records on the verdict channel (grader/harness/verdict.h),
never from the binary's output, which the student's code can write: faking
one means searching the harness's memory for the run's token, as faking a
test's verdict does. They are still the submission's own figures, shown as
such, and never reach a score. Every baseline and
every figure called the reference's comes from the reference's binary,
which holds no student code. Each ratio is computed here, from the medians
of figures of this run.

Cases are run interleaved (reference, submission, reference, ...) so that
load on a shared machine drifts over both alike.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.grading import build, pipeline, run, stage
from grader.errors import GraderError
from grader.grading.lab import REPO, Lab
from grader.grading.sandbox import Sandbox

# 2: the raw pipe request/reply copy (pipe_fetch) is the FIFO's and MQ's
# throughput baseline, and memcpy copies a file-sized source (see below).
FORMAT_VERSION = 2

MECHANISMS = {"f": "FIFO", "q": "MQ", "s": "SHM"}
BASELINE_NAMES = {
    "pipe_pingpong": "raw pipe ping-pong",
    "mq_pingpong": "raw MQ ping-pong",
    "pipe_bulk": "raw pipe stream",
    "pipe_fetch": "raw pipe request/reply copy",
    "memcpy": "memcpy",
}
UNITS = {"p50_us": "µs", "p99_us": "µs", "rps": "requests/s", "mb_s": "MB/s"}  # MB = 10^6 bytes

# What each mechanism's figures are divided by (a baseline of the same
# metric; throughput at the same chunk size), each measured the way the
# channel works (solutions/channels/bench/baselines.cpp). SHM's round trip
# is compared with the pipe's, the cheapest round trip the kernel gives two
# processes. A file transfer asks for each chunk and waits for it, so FIFO
# and MQ throughput is divided by a raw pipe request/reply copy, not by the
# stream (at 4 KiB a stream moves a chunk in less time than any round trip
# takes: no request/reply protocol can come near it; the stream is still
# shown). memcpy copies the file's bytes a chunk at a time, as the transfer
# moves them, not one chunk over and over (that stays in the cache).
LATENCY_BASELINE = {"f": "pipe_pingpong", "q": "mq_pingpong", "s": "pipe_pingpong"}
THROUGHPUT_BASELINE = {"f": "pipe_fetch", "q": "pipe_fetch", "s": "memcpy"}

# A case's wall-clock limit in the sandbox: a full case takes a few seconds.
CASE_TIMEOUT = {True: 60.0, False: 180.0}
DEFAULT_REPETITIONS = {True: 2, False: 5}


@dataclass(frozen=True)
class LabBench:
    """Where a lab keeps its benchmark."""

    driver: str  # the Bazel library linked with a submission's objects
    reference: str  # the reference's bench binary
    subjects: tuple[str, ...]  # the mechanisms, each a case of its own

    @property
    def reference_binary(self) -> Path:
        package, name = self.reference.removeprefix("//").split(":")
        return REPO / "bazel-bin" / package / name


BENCHES = {"channels": LabBench("//solutions/channels:bench_driver", "//solutions/channels:bench", ("f", "q", "s"))}


def has_bench(lab: Lab) -> bool:
    return lab.name in BENCHES and lab.has_solution


@dataclass(frozen=True)
class Options:
    submission: Path | None = None  # None: the reference alone
    label: str = "submission"
    quick: bool = False  # the short sizes, for tests and the scoreboard
    repetitions: int = 5
    reference: bool = True  # False: baselines and the submission only (the scoreboard)


Key = tuple[str, str, int, int, str]  # implementation, subject, channels, chunk, metric


@dataclass
class Samples:
    """Every figure of every repetition, as the cases printed them."""

    values: dict[Key, list[float]] = field(default_factory=dict)
    skipped: dict[tuple[str, str, int], str] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)


def run_bench(lab: Lab, options: Options, box: Sandbox, progress=None) -> dict[str, Any]:
    """Runs the benchmark and returns its report (see report_of)."""
    spec = BENCHES.get(lab.name)
    if spec is None or not lab.has_solution:
        raise GraderError(
            f"lab {lab.name!r} has no benchmark here",
            tip="./grade bench channels (it needs solutions/, the course repository)",
        )
    _build_ours(lab, spec)
    samples = Samples()
    with _submission_binary(lab, spec, options, box, samples) as submission:
        binaries = {"reference": spec.reference_binary}
        if submission is not None:
            binaries["submission"] = submission
        _measure(lab, spec, binaries, options, box, samples, progress)
    return report_of(lab, options, box, samples)


def _build_ours(lab: Lab, spec: LabBench) -> None:
    for target in (spec.reference, stage.tests_target(lab)):  # the tests' objects: what symbols.py checks against
        built = build.build(target)
        if not built.ok:
            raise GraderError(f"lab {lab.name!r} is broken: {target} does not build:\n{built.diagnostics}")


BENCH_RULE = '\nlab_bench(driver = "{driver}")\n'


@contextlib.contextmanager
def _submission_binary(
    lab: Lab, spec: LabBench, options: Options, box: Sandbox, samples: Samples
) -> Iterator[Path | None]:
    """The submission's bench binary, built by the grading pipeline's own
    stages; None (and a failure recorded) when it cannot be built."""
    if options.submission is None:
        yield None
        return
    staged = stage.stage(lab, options.submission.resolve(), stage.slot_name(f"bench {options.label}"))
    try:
        with (staged.directory / "BUILD").open("a") as rules:
            rules.write('load("//grader/bazel:lab.bzl", "lab_bench")\n' + BENCH_RULE.format(driver=spec.driver))
        why = _link_submission(lab, staged, box)
        if why:
            samples.failures.append({"implementation": "submission", "case": "build", "why": why})
            yield None
        else:
            yield staged.outputs / "bench"
    finally:
        stage.unstage(staged)


def _link_submission(lab: Lab, staged: stage.Staged, box: Sandbox) -> str:
    if staged.missing:
        return f"the submission lacks {', '.join(staged.missing)}"
    refused = pipeline.compile_staged(lab, staged, box)
    if refused:
        return build.trim_diagnostics(refused)
    linked = build.link(f"//_stage/{staged.slot}/{lab.name}:bench")
    return "" if linked.ok else "your files do not link with the bench driver:\n" + linked.diagnostics


def _cases(spec: LabBench, quick: bool) -> list[str]:
    word = "bench quick" if quick else "bench"
    return [f"{word}: {subject}" for subject in ("baselines", *spec.subjects)]


def _measure(
    lab: Lab, spec: LabBench, binaries: dict[str, Path], options: Options, box: Sandbox, samples: Samples, progress
) -> None:
    limited = box.with_limits(lab.limits)
    broken: set[tuple[str, str]] = set()  # a submission's case that failed once is not run again
    for repetition in range(options.repetitions):
        for case in _cases(spec, options.quick):
            for implementation, binary in binaries.items():
                if _skip(case, implementation, options) or (implementation, case) in broken:
                    continue
                if progress:
                    progress(f"repetition {repetition + 1}/{options.repetitions}: {implementation}, {case}")
                test_run = run.run_test(limited, binary, case, CASE_TIMEOUT[options.quick])
                if not _take(samples, implementation, case, test_run):
                    broken.add((implementation, case))


def _skip(case: str, implementation: str, options: Options) -> bool:
    baselines = case.endswith(": baselines")
    if implementation == "submission":
        return baselines  # never a baseline from a binary with student code in it
    return not (baselines or options.reference)


def _take(samples: Samples, implementation: str, case: str, test_run: run.TestRun) -> bool:
    """Adds a case's figures; False (and a failure) when it has none."""
    parsed = parse_figures(test_run.records) if test_run.passed else None
    if parsed is None:
        why = test_run.detail or test_run.status.value
        if implementation == "reference":
            raise GraderError(f"the reference's bench case {case!r} failed: {why}\n{test_run.output[-2000:]}")
        samples.failures.append(
            {"implementation": implementation, "case": case, "why": f"{why}\n{test_run.output[-1500:]}"}
        )
        return False
    figures, skipped = parsed
    for subject, channels, chunk, metric, value in figures:
        samples.values.setdefault((implementation, subject, channels, chunk, metric), []).append(value)
    for subject, chunk, why in skipped:
        samples.skipped[(implementation, subject, chunk)] = why
    return True


# What a case may report: bounded, so a submission cannot make the report huge.
_MAX_FIGURES = 200
_METRICS = set(UNITS)


def parse_figures(
    records: list[dict[str, object]],
) -> tuple[list[tuple[str, int, int, str, float]], list[tuple[str, int, str]]] | None:
    """The figures a case sent on the verdict channel; None when it sent
    none, or one that is not a figure. A record may come from a submission
    that found the token: every field is checked."""
    figures = [r for r in records if r.get("event") == "bench figure"][:_MAX_FIGURES]
    skipped = [r for r in records if r.get("event") == "bench skipped"][:_MAX_FIGURES]
    if not figures:
        return None
    try:
        return [_figure(item) for item in figures], [_skipped(item) for item in skipped]
    except (ValueError, KeyError, TypeError):
        return None


def _skipped(item: dict[str, Any]) -> tuple[str, int, str]:
    return str(item["subject"])[:20], int(item["chunk"]), str(item["why"])[:300]


def _figure(item: dict[str, Any]) -> tuple[str, int, int, str, float]:
    subject, metric, value = str(item["subject"]), str(item["metric"]), float(item["value"])
    if (
        subject not in (*MECHANISMS, *BASELINE_NAMES)
        or metric not in _METRICS
        or not (math.isfinite(value) and value > 0)
    ):
        raise ValueError(f"not a figure: {item!r}")
    return subject, int(item["channels"]), int(item["chunk"]), metric, value


# ---- the report -------------------------------------------------------------


def _spread(values: list[float]) -> dict[str, Any]:
    return {"samples": values, "min": min(values), "median": statistics.median(values), "max": max(values)}


def _baseline_of(subject: str, chunk: int, metric: str) -> tuple[str, int, str]:
    if metric == "mb_s":
        return THROUGHPUT_BASELINE[subject], chunk, metric
    return LATENCY_BASELINE[subject], 0, metric


def report_of(lab: Lab, options: Options, box: Sandbox, samples: Samples) -> dict[str, Any]:
    """The benchmark's report: every figure with min / median / max over the
    repetitions, and each channel figure's ratio to its baseline (median over
    median, both of this run; for µs a ratio above 1 is slower)."""
    baselines = {
        (s, c, m): _spread(v)
        for (impl, s, _, c, m), v in sorted(samples.values.items())
        if impl == "reference" and s in BASELINE_NAMES
    }
    figures = []
    for (impl, subject, channels, chunk, metric), values in sorted(samples.values.items()):
        if subject in BASELINE_NAMES:
            continue
        base_key = _baseline_of(subject, chunk, metric)
        base = baselines.get(base_key)
        entry = {
            "implementation": impl,
            "mechanism": subject,
            "channels": channels,
            "chunk": chunk,
            "metric": metric,
            **_spread(values),
            "baseline": dict(zip(("subject", "chunk", "metric"), base_key)),
        }
        entry["ratio"] = entry["median"] / base["median"] if base else None
        figures.append(entry)
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "lab": lab.name,
        "quick": options.quick,
        "repetitions": options.repetitions,
        "submission": options.label if options.submission else None,
        "machine": {
            "cpus": os.cpu_count(),
            "isolation": "bubblewrap" if box.isolated else f"reduced: {box.reason}",
            "cpu_limit": "one core per case (cgroup)" if box.cgroups else "none",
            "affinity": "each case pinned to the CPU it starts on (bench_main.cpp)",
        },
        "units": UNITS,
        "baselines": [{"subject": s, "chunk": c, "metric": m, **spread} for (s, c, m), spread in baselines.items()],
        "figures": figures,
        "skipped": [
            {"implementation": i, "mechanism": s, "chunk": c, "why": w}
            for (i, s, c), w in sorted(samples.skipped.items())
        ],
        "failures": samples.failures,
    }
    data["targets"] = targets(data, "reference") if options.reference else []
    data["verdict"] = verdict(data)
    return data


def _ratio(found: dict[str, Any] | None) -> float | None:
    return found["ratio"] if found else None


def figure(
    data: dict[str, Any], implementation: str, mechanism: str, metric: str, chunk: int = 0, channels: int = 1
) -> dict[str, Any] | None:
    return next(
        (
            f
            for f in data["figures"]
            if (f["implementation"], f["mechanism"], f["metric"], f["chunk"], f["channels"])
            == (implementation, mechanism, metric, chunk, channels)
        ),
        None,
    )


def targets(data: dict[str, Any], implementation: str) -> list[dict[str, Any]]:
    """The issue's targets for the reference: printed, never asserted."""
    found: list[dict[str, Any]] = []

    def target(name: str, measured: float | None, limit: float, at_least: bool) -> None:
        if measured is not None:
            found.append(
                {
                    "name": name,
                    "measured": measured,
                    "limit": limit,
                    "met": measured >= limit if at_least else measured <= limit,
                }
            )

    for chunk in sorted({f["chunk"] for f in data["figures"] if f["metric"] == "mb_s"}):
        fifo = figure(data, implementation, "f", "mb_s", chunk)
        target(f"FIFO throughput at {_size(chunk)} ≥ 0.8× raw pipe request/reply copy", _ratio(fifo), 0.8, True)
    shm = figure(data, implementation, "s", "mb_s", 1 << 20)
    target("SHM throughput at 1 MiB ≥ 0.4× memcpy", _ratio(shm), 0.4, True)
    shm_rt, fifo_rt = figure(data, implementation, "s", "p50_us"), figure(data, implementation, "f", "p50_us")
    if shm_rt and fifo_rt:
        target("SHM round trip (p50) ≤ FIFO round trip (×FIFO)", shm_rt["median"] / fifo_rt["median"], 1.0, False)
    mq = figure(data, implementation, "q", "p50_us")
    target("MQ round trip (p50) ≤ 2× raw MQ ping-pong", _ratio(mq), 2.0, False)
    return found


def _size(chunk: int) -> str:
    return f"{chunk >> 20} MiB" if chunk >= 1 << 20 else f"{chunk >> 10} KiB"


def verdict(data: dict[str, Any]) -> str:
    """One sentence a student can act on: the submission's figure furthest
    behind the reference's, in ratios; else how the reference met its targets."""
    failed = [f for f in data["failures"] if f["implementation"] == "submission"]
    if failed:
        return f"your submission could not be measured ({failed[0]['case']}): {failed[0]['why'].splitlines()[0]}"
    if data["submission"] is None or not any(f["implementation"] == "reference" for f in data["figures"]):
        met = [t for t in data["targets"] if t["met"]]
        return f"the reference meets {len(met)} of its {len(data['targets'])} targets" if data["targets"] else ""
    worst: tuple[float, str] | None = None
    for mechanism, name in MECHANISMS.items():
        for sentence, behind in _comparisons(data, mechanism, name):
            if worst is None or behind > worst[0]:
                worst = (behind, sentence)
    if worst is None:
        return "no figure of the submission to compare"
    return (
        worst[1]
        if worst[0] > 1.1
        else "your channels keep up with the reference (within 10 % on every figure): " + worst[1]
    )


def _comparisons(data: dict[str, Any], mechanism: str, name: str) -> Iterator[tuple[str, float]]:
    """(sentence, how far behind the reference: > 1 is behind) per figure pair."""
    chunks = sorted({f["chunk"] for f in data["figures"] if f["mechanism"] == mechanism and f["metric"] == "mb_s"})
    if chunks:
        chunk = chunks[-1]
        mine, ref = figure(data, "submission", mechanism, "mb_s", chunk), figure(
            data, "reference", mechanism, "mb_s", chunk
        )
        if mine and ref and mine["ratio"] and ref["ratio"]:
            base = BASELINE_NAMES[THROUGHPUT_BASELINE[mechanism]]
            yield (
                f"your {name} channel moves {_size(chunk)} chunks at {mine['ratio']:.2f}× {base}; "
                f"the reference at {ref['ratio']:.2f}×",
                ref["ratio"] / mine["ratio"],
            )
    mine, ref = figure(data, "submission", mechanism, "p50_us"), figure(data, "reference", mechanism, "p50_us")
    if mine and ref and mine["ratio"] and ref["ratio"]:
        base = BASELINE_NAMES[LATENCY_BASELINE[mechanism]]
        yield (
            f"your {name} channel's round trip takes {mine['ratio']:.2f}× a {base}; the reference's "
            f"{ref['ratio']:.2f}×",
            mine["ratio"] / ref["ratio"],
        )


# ---- the scoreboard --------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One scoreboard column: Gradescope's leaderboard entry {name, value, order}."""

    name: str
    value: float
    ascending: bool = False  # True: smaller is better (Gradescope "order": "asc")


def scoreboard(data: dict[str, Any]) -> list[Entry]:
    """The submission's figures for a course's scoreboard (never its score):
    per mechanism, the round trip in µs and the largest chunk's throughput,
    in MB/s and as a ratio to its baseline (fairer across machines)."""
    entries = []
    for mechanism, name in MECHANISMS.items():
        latency = figure(data, "submission", mechanism, "p50_us")
        if latency:
            entries.append(Entry(f"{name} round trip p50 (µs)", round(latency["median"], 2), ascending=True))
        chunks = sorted(
            {
                f["chunk"]
                for f in data["figures"]
                if f["implementation"] == "submission" and f["mechanism"] == mechanism and f["metric"] == "mb_s"
            }
        )
        if chunks:
            moved = figure(data, "submission", mechanism, "mb_s", chunks[-1])
            if moved:
                entries.append(Entry(f"{name} {_size(chunks[-1])} chunks (MB/s)", round(moved["median"], 1)))
                if moved["ratio"]:
                    base = BASELINE_NAMES[THROUGHPUT_BASELINE[mechanism]]
                    entries.append(Entry(f"{name} {_size(chunks[-1])} chunks (× {base})", round(moved["ratio"], 3)))
    return entries


def scoreboard_for(lab: Lab, submission: Path, box: Sandbox) -> list[Entry]:
    """A short benchmark of one submission for ./grade autograde; [] when the
    lab has none or the submission cannot be measured (never an error: the
    scoreboard is extra, the grade is what counts)."""
    if not has_bench(lab):
        return []
    options = Options(submission=submission, label="submission", quick=True, repetitions=1, reference=False)
    try:
        return scoreboard(run_bench(lab, options, box))
    except GraderError:
        return []
