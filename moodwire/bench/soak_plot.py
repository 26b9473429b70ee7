"""``python -m moodwire.bench.soak_plot SOAK.jsonl OUT.png``: a soak's p99 latency per
interval above the resident memory of every process of the app over the run, from the lines
``moodwire bench soak --json`` printed (``--plot`` draws the same during the run).

The growth window (half-way to the end, where the target allows 50 MB per process) is shaded;
the memory axis is linear, so 50 MB is the same height for every process. Of the app's two
dozen processes the largest are drawn, and any other that grew past the limit.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHOWN = 10  # processes drawn: the largest, and any that grew past the limit
MISSING_MATPLOTLIB = "the soak plot needs matplotlib: pip install 'moodwire[bench]'"


def read_soak(path: Path) -> list[dict]:
    from moodwire.bench.plot import read_json_lines

    return [r for r in read_json_lines(path) if r.get("run") in ("soak-interval", "soak")]


def plot_soak(runs: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    intervals = [r for r in runs if r.get("run") == "soak-interval"]
    summary = next(r for r in runs if r.get("run") == "soak")
    duration = summary["duration_s"]
    scale, unit = (60.0, "min") if duration >= 180 else (1.0, "s")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    ends = [r["end_s"] / scale for r in intervals]
    top.plot(ends, [r["p99_ms"] for r in intervals], marker="o", label="p99")
    top.plot(ends, [r["p50_ms"] for r in intervals], marker="o", linestyle=":", label="p50")
    for end, row in zip(ends, intervals, strict=True):
        if row["error_count"]:
            top.annotate(f"{row['error_count']} errors", (end, row["p99_ms"] or 0), color="red", fontsize="small")
    top.set_ylabel("latency per interval (ms)")
    verdict = "met" if summary["met"] else "NOT met"
    top.set_title(
        f"moodwire soak: {summary['offered_requests_per_s']} requests/s offered (80 % of the maximum), "
        f"target {verdict}",
        fontsize="medium",
    )
    memory = summary["memory"]
    peak = {label: max(row[k] or 0 for k in ("start_mb", "half_mb", "end_mb")) for label, row in memory.items()}
    largest = sorted(memory, key=lambda label: -peak[label])
    limit = summary.get("growth_limit_mb", 50.0)
    grown = [label for label in largest[SHOWN:] if (memory[label]["growth_second_half_mb"] or 0) > limit]
    for label in largest[:SHOWN] + grown:
        row = memory[label]
        series = [(0.0, row["start_mb"])] + [(r["end_s"] / scale, r.get("rss_mb", {}).get(label)) for r in intervals]
        series = [(x, y) for x, y in series if y is not None]
        if series:
            bottom.plot(*zip(*series, strict=True), marker=".", label=label)
    bottom.axvspan(duration / 2 / scale, duration / scale, color="grey", alpha=0.12, label="growth window")
    bottom.set_ylabel(f"RSS (MB), the {SHOWN} largest processes")
    bottom.set_xlabel(f"time into the run ({unit})")
    top.legend(fontsize="small")
    bottom.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for axis in (top, bottom):
        axis.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110, bbox_inches="tight")


def draw(args: list[str]) -> int:
    if len(args) != 2:
        raise ValueError("usage: python -m moodwire.bench.soak_plot SOAK.jsonl OUT.png")
    runs = read_soak(Path(args[0]))
    if not any(r["run"] == "soak" for r in runs):
        raise ValueError(f"{args[0]}: no soak summary line")
    try:
        plot_soak(runs, Path(args[1]))
    except ImportError:
        raise ValueError(MISSING_MATPLOTLIB) from None
    return 0


def main(argv: list[str] | None = None) -> int:
    """Errors exit by the one table (``entrypoints.exit_codes``): one line, exit 2."""
    from entrypoints.exit_codes import run_command

    return run_command("moodwire.bench.soak_plot", lambda: draw(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
