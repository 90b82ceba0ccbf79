"""The benchmark's report for people: tables in the terminal, and the plot.

matplotlib (Debian's python3-matplotlib) is imported only when a plot is
asked for, so the tables and the scoreboard never need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from grader.bench.measure import BASELINE_NAMES, LATENCY_BASELINE, MECHANISMS, THROUGHPUT_BASELINE, figure
from grader.errors import GraderError


def _size(chunk: int) -> str:
    return f"{chunk >> 20} MiB" if chunk >= 1 << 20 else f"{chunk >> 10} KiB"


def _spread(entry: dict[str, Any] | None, digits: int = 1) -> str:
    if entry is None:
        return "—"
    return f"{entry['median']:,.{digits}f} ({entry['min']:,.{digits}f}–{entry['max']:,.{digits}f})"


def _ratio(entry: dict[str, Any] | None) -> str:
    return f"{entry['ratio']:.2f}×" if entry and entry.get("ratio") else "—"


def _implementations(data: dict[str, Any]) -> list[str]:
    present = {f["implementation"] for f in data["figures"]}
    return [i for i in ("reference", "submission") if i in present]


def print_report(data: dict[str, Any], console: Console) -> None:
    runs = f"{data['repetitions']} repetition(s){', quick sizes' if data['quick'] else ''}"
    console.print(
        f"[bold]{data['lab']} benchmark[/]: {runs}; median (min–max) over repetitions; "
        f"isolation {data['machine']['isolation']}; CPU limit {data['machine']['cpu_limit']}; "
        f"{data['machine']['affinity']}"
    )
    _print_baselines(data, console)
    _print_latency(data, console)
    _print_throughput(data, console)
    _print_targets(data, console)
    for skipped in data["skipped"]:
        if skipped["implementation"] == "reference" or not data["figures"]:
            console.print(f"skipped: {MECHANISMS[skipped['mechanism']]} at {_size(skipped['chunk'])}: {skipped['why']}")
    for failure in data["failures"]:
        console.print(
            f"[red]not measured[/]: {failure['implementation']} {failure['case']}: {failure['why']}",
            markup=True,
            highlight=False,
        )
    if data["verdict"]:
        console.print(f"[bold]verdict:[/] {data['verdict']}")


def _print_baselines(data: dict[str, Any], console: Console) -> None:
    table = Table(title="baselines (this machine, this run)", title_justify="left")
    for column in ("baseline", "size", "figure", "median (min–max)"):
        table.add_column(column)
    for b in data["baselines"]:
        table.add_row(
            BASELINE_NAMES[b["subject"]],
            _size(b["chunk"]) if b["chunk"] else "32 B",
            data["units"][b["metric"]]
            + (" p50" if b["metric"] == "p50_us" else " p99" if b["metric"] == "p99_us" else ""),
            _spread(b, 2 if b["metric"] != "rps" else 0),
        )
    console.print(table)


def _print_latency(data: dict[str, Any], console: Console) -> None:
    table = Table(title="request latency: small DATA requests, after a warm-up", title_justify="left")
    table.add_column("mechanism")
    table.add_column("-c")
    for implementation in _implementations(data):
        table.add_column(f"{implementation} p50 µs")
        table.add_column("p99 µs")
        table.add_column("requests/s")
        table.add_column("p50 × base")
    for mechanism, name in MECHANISMS.items():
        for channels in (1, 4):
            row = [f"{name} (÷ {BASELINE_NAMES[LATENCY_BASELINE[mechanism]]})", str(channels)]
            for implementation in _implementations(data):
                p50 = figure(data, implementation, mechanism, "p50_us", 0, channels)
                row += [
                    _spread(p50),
                    _spread(figure(data, implementation, mechanism, "p99_us", 0, channels)),
                    _spread(figure(data, implementation, mechanism, "rps", 0, channels), 0),
                    _ratio(p50),
                ]
            table.add_row(*row)
    console.print(table)


def _print_throughput(data: dict[str, Any], console: Console) -> None:
    table = Table(title="file throughput, MB/s (10^6 bytes/s)", title_justify="left")
    for column in ("mechanism", "chunk", "-c"):
        table.add_column(column)
    for implementation in _implementations(data):
        table.add_column(f"{implementation} MB/s")
        table.add_column("× base")
    chunks = sorted({f["chunk"] for f in data["figures"] if f["metric"] == "mb_s"})
    for mechanism, name in MECHANISMS.items():
        for chunk in chunks:
            for channels in (1, 4):
                row = [f"{name} (÷ {BASELINE_NAMES[THROUGHPUT_BASELINE[mechanism]]})", _size(chunk), str(channels)]
                for implementation in _implementations(data):
                    entry = figure(data, implementation, mechanism, "mb_s", chunk, channels)
                    row += [_spread(entry, 0), _ratio(entry)]
                if any(cell != "—" for cell in row[3:]):
                    table.add_row(*row)
    console.print(table)


def _print_targets(data: dict[str, Any], console: Console) -> None:
    if not data["targets"]:
        return
    table = Table(title="the reference's targets (printed, never asserted)", title_justify="left")
    for column in ("target", "measured", "met"):
        table.add_column(column)
    for t in data["targets"]:
        table.add_row(t["name"], f"{t['measured']:.2f}×", "[green]yes[/]" if t["met"] else "[red]no[/]")
    console.print(table)


# ---- the plot ----------------------------------------------------------------

COLOURS = {"f": "tab:blue", "q": "tab:orange", "s": "tab:green"}


def plot(data: dict[str, Any], path: Path) -> None:
    """Throughput against chunk size (-c 1): one line per mechanism, the
    submission solid, the reference dashed; the baselines as short
    horizontal marks at each chunk size (the request/reply copy in the
    FIFO's colour: it is the FIFO's baseline). PNG or SVG, by path's suffix."""
    if path.suffix not in (".png", ".svg"):
        raise GraderError(f"--plot {path}: the plot is a .png or a .svg file")
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display: files only
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise GraderError(
            "the plot needs matplotlib", tip="apt-get install python3-matplotlib (grader/bootstrap.sh does)"
        ) from e
    figure_, axes = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    for implementation, style in (("reference", "--"), ("submission", "-")):
        for mechanism, name in MECHANISMS.items():
            points = sorted(
                (f["chunk"], f["median"])
                for f in data["figures"]
                if (f["implementation"], f["mechanism"], f["metric"], f["channels"])
                == (implementation, mechanism, "mb_s", 1)
            )
            if points:
                xs, ys = zip(*points)
                axes.plot(xs, ys, style, marker="o", color=COLOURS[mechanism], label=f"{name} ({implementation})")
    for subject, colour in (("pipe_bulk", "black"), ("pipe_fetch", "tab:blue"), ("memcpy", "grey")):
        marks = sorted((b["chunk"], b["median"]) for b in data["baselines"] if b["subject"] == subject)
        if marks:
            xs, ys = zip(*marks)
            axes.scatter(
                xs, ys, marker="_", s=900, linewidths=2.5, color=colour, label=f"{BASELINE_NAMES[subject]} (baseline)"
            )
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    chunks = sorted({b["chunk"] for b in data["baselines"] if b["chunk"]})
    axes.set_xticks(chunks, [_size(c) for c in chunks])
    axes.set_xlabel("chunk size (bytes per reply)")
    axes.set_ylabel("MB/s (10^6 bytes/s), log scale")
    axes.set_title(f"{data['lab']}: file throughput, -c 1, median of {data['repetitions']} repetition(s)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    figure_.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # The suffix decides the format; svg without a date, so a plot of the
    # same figures is the same file.
    figure_.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(figure_)
