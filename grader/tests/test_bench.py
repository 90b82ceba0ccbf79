"""./grade bench: the report's shape, that its figures are figures and that
every ratio is made from figures of the same run (never how fast anything
is: a shared machine decides that), and the scoreboard on the platforms."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from grader import cli
from grader.bench import measure as bench
from grader.grading import pipeline
from grader.reports import machine
from grader.grading.lab import REPO, load_lab
from grader.grading.run import Status, TestRun
from grader.tests.test_report import demo_grade

# Module-scoped fixtures grade once per worker: keep this module on one (./test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("bench")


CHANNELS = load_lab("channels")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[dict[str, Any], Path]:
    """One short run, the reference graded as a submission too (so both
    columns are there), with the JSON and the plot written."""
    out = tmp_path_factory.mktemp("bench")
    argv = [
        "bench",
        "channels",
        "--submission",
        str(REPO / "solutions" / "channels"),
        "--quick",
        "--repetitions",
        "1",
        "--format",
        "json",
        "--output",
        str(out / "bench.json"),
        "--plot",
        str(out / "bench.svg"),
    ]
    assert cli.main(argv) == cli.Exit.OK
    return json.loads((out / "bench.json").read_text()), out


def test_the_report_has_baselines_and_both_implementations(run) -> None:
    data, _ = run
    assert data["format_version"] == bench.FORMAT_VERSION and data["lab"] == "channels" and data["quick"]
    assert data["failures"] == [], data["failures"]
    assert {b["subject"] for b in data["baselines"]} == set(bench.BASELINE_NAMES)
    for implementation in ("reference", "submission"):
        for mechanism in bench.MECHANISMS:
            for channels in (1, 4):
                assert bench.figure(data, implementation, mechanism, "p50_us", 0, channels), (implementation, mechanism)
            assert bench.figure(data, implementation, mechanism, "mb_s", 4096), (implementation, mechanism)
    # A message queue cannot carry a 1 MiB chunk with the default msgsize_max: said, not hidden.
    assert any(s["mechanism"] == "q" and s["chunk"] == 1 << 20 for s in data["skipped"])
    assert data["targets"] and data["verdict"]


def test_every_figure_is_a_positive_number_with_its_spread(run) -> None:
    data, _ = run
    for entry in [*data["baselines"], *data["figures"]]:
        assert entry["samples"] and all(math.isfinite(v) and v > 0 for v in entry["samples"]), entry
        assert entry["min"] <= entry["median"] <= entry["max"]
        assert entry["metric"] in data["units"]


def test_every_ratio_is_a_median_over_a_baseline_median_of_the_same_run(run) -> None:
    data, _ = run
    baselines = {(b["subject"], b["chunk"], b["metric"]): b for b in data["baselines"]}
    for entry in data["figures"]:
        base = baselines[(entry["baseline"]["subject"], entry["baseline"]["chunk"], entry["baseline"]["metric"])]
        assert entry["ratio"] == pytest.approx(entry["median"] / base["median"])
        assert entry["baseline"]["metric"] == entry["metric"]


def test_the_plot_is_written(run) -> None:
    _, out = run
    svg = (out / "bench.svg").read_text()
    assert "<svg" in svg and "FIFO (reference)" in svg


GOOD = {"event": "bench figure", "subject": "f", "channels": 1, "chunk": 0, "metric": "p50_us", "value": 4.5}


def test_figures_come_from_records_and_a_broken_one_gives_none() -> None:
    noise = {"event": "case", "name": "bench: f"}
    assert bench.parse_figures([noise, GOOD]) == ([("f", 1, 0, "p50_us", 4.5)], [])
    for value in (-1, 0, float("nan"), float("inf"), "fast"):
        assert bench.parse_figures([{**GOOD, "value": value}]) is None, value
    assert bench.parse_figures([{**GOOD, "metric": "score"}]) is None
    assert bench.parse_figures([{**GOOD, "subject": "reference"}]) is None
    assert bench.parse_figures([{k: v for k, v in GOOD.items() if k != "chunk"}]) is None
    assert bench.parse_figures([noise]) is None


def test_a_figure_printed_on_the_output_counts_for_nothing() -> None:
    """The student's code shares the bench binary and can print anything:
    only the verdict channel carries figures."""
    line = 'ipclab-bench {"figures": [{"subject": "f", "channels": 1, "chunk": 0, "metric": "p50_us", "value": 0.001}]}'
    printed = TestRun("bench: f", Status.PASSED, line + "\n", 1.0)
    samples = bench.Samples()
    assert bench._take(samples, "submission", "bench: f", printed) is False
    assert samples.values == {} and samples.failures[0]["implementation"] == "submission"


def test_the_scoreboard_has_the_submissions_figures(run) -> None:
    data, _ = run
    entries = bench.scoreboard(data)
    names = [e.name for e in entries]
    assert (
        "SHM round trip p50 (µs)" in names
        and "SHM 1 MiB chunks (× memcpy)" in names
        and "MQ 4 KiB chunks (MB/s)" in names
    )
    assert all(e.value > 0 for e in entries)
    assert all(e.ascending == e.name.endswith("(µs)") for e in entries)


BOARD = [bench.Entry("SHM round trip p50 (µs)", 3.1, ascending=True), bench.Entry("SHM 1 MiB chunks (MB/s)", 1500.0)]


def test_gradescope_results_carry_leaderboard_entries_and_the_same_score() -> None:
    plain = json.loads(machine.render_machine(demo_grade(), "gradescope"))
    results = json.loads(machine.render_machine(demo_grade(), "gradescope", BOARD))
    assert results["leaderboard"] == [
        {"name": "SHM round trip p50 (µs)", "value": 3.1, "order": "asc"},
        {"name": "SHM 1 MiB chunks (MB/s)", "value": 1500.0},
    ]
    assert "leaderboard" not in plain
    assert {k: v for k, v in results.items() if k != "leaderboard"} == plain


def test_autolab_scoreboard_gets_the_figures_after_the_scores() -> None:
    plain = json.loads(machine.render_machine(demo_grade(), "autolab"))
    result = json.loads(machine.render_machine(demo_grade(), "autolab", BOARD))
    assert result["scoreboard"] == [*plain["scoreboard"], 3.1, 1500.0] and result["scores"] == plain["scores"]


def test_autograde_puts_the_benchmark_into_the_gradescope_results(tmp_path: Path, monkeypatch) -> None:
    """The wiring of ./grade autograde for a lab with a benchmark; the grade
    and the benchmark are stood in for (each has tests of its own)."""
    graded = demo_grade()
    graded.lab = CHANNELS
    monkeypatch.setattr(pipeline, "prepare_reference", lambda lab, box: None)
    monkeypatch.setattr(pipeline, "grade", lambda *args, **kwargs: graded)
    asked = []
    monkeypatch.setattr(bench, "scoreboard_for", lambda lab, submission, box: asked.append(lab.name) or BOARD)
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "channels_lab.cpp").write_text("// a submission\n")
    output = tmp_path / "results.json"
    assert (
        cli.main(["autograde", "channels", str(submission), "--format", "gradescope", "--output", str(output)])
        == cli.Exit.OK
    )
    results = json.loads(output.read_text())
    assert asked == ["channels"]
    assert [e["name"] for e in results["leaderboard"]] == [e.name for e in BOARD]
    assert results["score"] == graded.score
