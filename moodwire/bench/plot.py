"""``python -m moodwire.bench.plot ONLINE.jsonl [MORE.jsonl ...] OUT.png``: throughput and p99
latency against concurrency, with each file's raw limit as a dashed line, and where the CPU
went in the first file's headline runs (``cpu_share``).

The first file gives every mode (single texts, small batches, persist); further files (for
example the int8 speed option) add their single-text series, labelled by file name.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def read_json_lines(path: Path) -> list[dict]:
    """The JSON lines of a ``bench --json`` output (other lines, such as progress, skipped);
    a broken line exits naming the file and line."""
    runs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("{"):
            continue
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not JSON ({exc.msg})") from None
    return runs


def read_runs(path: Path) -> list[dict]:
    runs = read_json_lines(path)
    return [r for r in runs if str(r.get("run", "")).startswith("online-") or r.get("run") == "raw"]


CPU_GROUPS = (
    ("gateways", "Gateway replicas (models + HTTP)"),
    ("ray", "Ray's other processes"),
    ("other", "load generator, kernel, rest"),
    ("idle", "idle"),
)


def _cpu_share_bars(axis, runs: list[dict]) -> None:
    """One stacked bar per run that measured ``cpu_share``: where every core's time went."""
    measured = [r for r in runs if "cpu_share" in r]
    names = [f"{r['run'].removeprefix('online-')}, {r['concurrency']} clients" for r in measured]
    left = [0.0] * len(measured)
    for key, label in CPU_GROUPS:
        widths = [r["cpu_share"][key] for r in measured]
        axis.barh(names, widths, left=left, label=label)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of all cores' time")
    axis.set_title("where the CPU went")
    axis.legend(fontsize="small", ncol=2, loc="lower center", bbox_to_anchor=(0.5, -0.9))


def plot(files: list[tuple[str, list[dict]]], out: Path) -> None:
    """Throughput and p99 per concurrency; with the first file's ``cpu_share`` runs, a third
    panel of stacked bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_cpu = any("cpu_share" in r for r in files[0][1])
    if with_cpu:
        fig = plt.figure(figsize=(7, 10))
        grid = fig.add_gridspec(3, 1, height_ratios=[3, 3, 1.6])
        top = fig.add_subplot(grid[0])
        bottom = fig.add_subplot(grid[1], sharex=top)
        _cpu_share_bars(fig.add_subplot(grid[2]), files[0][1])
    else:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    for position, (name, runs) in enumerate(files):
        modes = ("single", "batch", "persist") if position == 0 else ("single",)
        suffix = "" if position == 0 else f", {name}"
        for mode in modes:
            series = sorted((r for r in runs if r["run"] == f"online-{mode}"), key=lambda r: r["concurrency"])
            if not series:
                continue
            levels = [r["concurrency"] for r in series]
            (line,) = top.plot(levels, [r["texts_per_s"] for r in series], marker="o", label=f"{mode}{suffix}")
            bottom.plot(levels, [r["p99_ms"] for r in series], marker="o", label=f"{mode}{suffix}")
            raw = next((r for r in runs if r["run"] == "raw"), None)
            if mode == "single" and raw is not None:
                top.axhline(raw["texts_per_s"], linestyle="--", color=line.get_color(), alpha=0.6, label=f"raw{suffix}")
    top.set_ylabel("texts/s")
    top.set_title("moodwire serve: closed-loop load")
    bottom.set_ylabel("p99 latency (ms)")
    bottom.set_xlabel("concurrent clients")
    bottom.set_xscale("log", base=2)
    for axis in (top, bottom):
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def draw(args: list[str]) -> int:
    if len(args) < 2:
        raise ValueError("usage: python -m moodwire.bench.plot ONLINE.jsonl [MORE.jsonl ...] OUT.png")
    files = [(Path(name).stem, read_runs(Path(name))) for name in args[:-1]]
    empty = [name for name, runs in zip(args[:-1], files, strict=True) if not any(r["run"] != "raw" for r in runs[1])]
    if empty:
        raise ValueError(f"{empty[0]}: no online runs")
    plot(files, Path(args[-1]))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Errors exit by the one table (``entrypoints.exit_codes``): one line, exit 2."""
    from entrypoints.exit_codes import run_command

    return run_command("moodwire.bench.plot", lambda: draw(argv if argv is not None else sys.argv[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
