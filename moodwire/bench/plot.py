"""``python -m moodwire.bench.plot ONLINE.jsonl OUT.png``: throughput and p99 against concurrency."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def read_runs(path: Path) -> list[dict]:
    runs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("{"):
            continue
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not JSON ({exc.msg})") from None
    return [r for r in runs if str(r.get("run", "")).startswith("online-")]


def plot(runs: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), sharex=True)
    for mode in ("single", "batch", "persist"):
        series = sorted((r for r in runs if r["run"] == f"online-{mode}"), key=lambda r: r["concurrency"])
        if not series:
            continue
        levels = [r["concurrency"] for r in series]
        top.plot(levels, [r["texts_per_s"] for r in series], marker="o", label=mode)
        bottom.plot(levels, [r["p99_ms"] for r in series], marker="o", label=mode)
    top.set_ylabel("texts/s")
    top.set_title("moodwire serve: closed-loop load")
    bottom.set_ylabel("p99 latency (ms)")
    bottom.set_xlabel("concurrent clients")
    bottom.set_xscale("log", base=2)
    for axis in (top, bottom):
        axis.grid(True, alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2:
        print("usage: python -m moodwire.bench.plot ONLINE.jsonl OUT.png", file=sys.stderr)
        return 2
    runs = read_runs(Path(args[0]))
    if not runs:
        print(f"{args[0]}: no online runs", file=sys.stderr)
        return 2
    plot(runs, Path(args[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
