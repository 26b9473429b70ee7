"""The soak's figures from its records: per interval and overall throughput, latency and
errors; the app's memory per process; the verdict. Plain data in, plain data out: no Ray,
HTTP or psutil here, so the arithmetic is unit-tested on made-up records.

The target (a 10-minute soak at 80 % of the maximum throughput): no errors, and no process
of the app growing by more than ``GROWTH_LIMIT_MB`` between the middle and the end of the
run. A leak shows as steady growth in both halves; the first half also holds warm-up (caches,
allocator arenas, a database that starts empty), which is why only the second half counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from moodwire.bench.soak_mix import OK, TEXT_KINDS

GROWTH_LIMIT_MB = 50.0
P99_SPREAD = 3.0  # second half: no interval p99 over 3x the median interval p99
INTERVAL_S = 60.0  # per minute ...
SHORT_RUN_S = 180.0  # ... unless the run is shorter than this: then a sixth of it


class Outcome(NamedTuple):
    """One finished request, as the load generator prints it."""

    sent_s: float  # when it was due, seconds after the load started
    latency_s: float
    kind: str
    status: str  # "200", another HTTP status, or connection/timeout/client


class MemorySample(NamedTuple):
    at_s: float
    rss_mb: dict[int, tuple[str, float]]  # pid: (label, resident MB)


def interval_bounds(duration: float) -> list[tuple[float, float]]:
    """Minutes, or sixths of a run shorter than ``SHORT_RUN_S``. A remainder under half an
    interval joins the last one rather than making a short, noisy interval of its own."""
    step = INTERVAL_S if duration >= SHORT_RUN_S else duration / 6
    count = max(1, int(duration // step + 1e-9))
    if duration - count * step >= step / 2:
        count += 1
    return [(i * step, duration if i == count - 1 else (i + 1) * step) for i in range(count)]


def _percentile_ms(latencies: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.array(latencies) * 1000, q)), 1) if latencies else None


def load_figures(outcomes: Sequence[Outcome], *, seconds: float) -> dict:
    """Throughput (answered requests and texts per second), latency of the answered ones, and
    every other outcome counted by its status."""
    ok = [o for o in outcomes if o.status == OK]
    errors = Counter(o.status for o in outcomes if o.status != OK)
    latencies = [o.latency_s for o in ok]
    return {
        "requests": len(outcomes),
        "requests_per_s": round(len(ok) / seconds, 2),
        "texts_per_s": round(sum(o.kind in TEXT_KINDS for o in ok) / seconds, 2),
        "p50_ms": _percentile_ms(latencies, 50),
        "p99_ms": _percentile_ms(latencies, 99),
        "error_count": sum(errors.values()),
        "errors": dict(sorted(errors.items())),
    }


def interval_figures(
    outcomes: Sequence[Outcome], bounds: Sequence[tuple[float, float]], samples: Sequence[MemorySample] = ()
) -> list[dict]:
    """One dict per interval; a request belongs to the interval it was due in. With memory
    samples, each interval also carries every process's RSS at its end."""
    names = process_names(samples)
    rows = []
    for start, end in bounds:
        inside = [o for o in outcomes if start <= o.sent_s < end]
        row = {"run": "soak-interval", "interval": f"{round(start, 1):g}-{round(end, 1):g} s"}
        row |= {"start_s": round(start, 2), "end_s": round(end, 2), **load_figures(inside, seconds=end - start)}
        if samples:
            sample = min(samples, key=lambda s: abs(s.at_s - end))
            row["rss_mb"] = {names[pid]: mb for pid, (_, mb) in sample.rss_mb.items()}
        rows.append(row)
    return rows


def process_label(cmdline: Sequence[str], name: str = "") -> str:
    """What a process of the app is: Ray's process title (``ray::ServeReplica:moodwire:Gateway``,
    ``ray::ServeController``, ``ray::IDLE``, ``ray-dashboard-StateHead-0``), a Python script's
    or module's name, or the program's (``raylet``, ``gcs_server``, ``haproxy``)."""
    if not cmdline:
        return name or "?"
    first = cmdline[0].split(" ")[0]
    if first.startswith("ray::"):  # without the method it runs now: ray::ServeController.listen_for_change
        return first.split(".")[0]
    if first.startswith("ray-"):  # the dashboard's modules: ray-dashboard-StateHead-0
        return first
    program = first.rsplit("/", 1)[-1]
    if program.startswith("python"):
        args = iter(cmdline[1:])
        for arg in args:
            if arg == "-m":
                return next(args, program)
            if arg == "-c":
                return f"{program} -c"
            if not arg.startswith("-"):
                return arg.rsplit("/", 1)[-1]
    return program


def process_names(samples: Sequence[MemorySample]) -> dict[int, str]:
    """Each pid's label as last seen (an idle Ray worker may become an actor), made unique
    with the pid where several processes share one (two Gateway replicas)."""
    last: dict[int, str] = {}
    for sample in samples:
        last |= {pid: label for pid, (label, _) in sample.rss_mb.items()}
    counts = Counter(last.values())
    return {pid: label if counts[label] == 1 else f"{label} [{pid}]" for pid, label in last.items()}


def memory_table(samples: Sequence[MemorySample], *, half_s: float) -> dict[str, dict]:
    """Per process: RSS at the start, half-way and the end, and ``growth_second_half_mb`` (end
    minus half-way; None for a process not there at both)."""
    if not samples:
        return {}
    names = process_names(samples)
    start, end = samples[0], samples[-1]
    half = min(samples, key=lambda s: abs(s.at_s - half_s))
    table = {}
    for pid, label in names.items():
        at = {key: s.rss_mb[pid][1] if pid in s.rss_mb else None for key, s in ((0, start), (1, half), (2, end))}
        growth = round(at[2] - at[1], 1) if at[1] is not None and at[2] is not None else None
        table[label] = {
            "pid": pid,
            "start_mb": at[0],
            "half_mb": at[1],
            "end_mb": at[2],
            "growth_second_half_mb": growth,
        }
    return table


def verdict(
    error_count: int,
    table: dict[str, dict],
    second_half_p99s: Sequence[float | None] = (),
    *,
    limit_mb: float = GROWTH_LIMIT_MB,
    p99_spread: float = P99_SPREAD,
) -> dict:
    """Met: no errors, every process grew at most ``limit_mb`` in the second half, and the
    p99 was stable there (no interval's p99 over ``p99_spread`` times the median interval's).
    Not met either when no process could be measured: a soak that saw no memory proves nothing."""
    growths = {label: row["growth_second_half_mb"] for label, row in table.items()}
    growths = {label: g for label, g in growths.items() if g is not None}
    worst = max(growths, key=growths.__getitem__) if growths else None
    most = growths[worst] if worst is not None else None
    p99s = sorted(p for p in second_half_p99s if p is not None)
    median = p99s[len(p99s) // 2] if p99s else None
    stable = median is None or p99s[-1] <= p99_spread * median
    return {
        "max_growth_second_half_mb": most,
        "max_growth_process": worst,
        "growth_limit_mb": limit_mb,
        "p99_stable": stable,
        "met": error_count == 0 and most is not None and most <= limit_mb and stable,
    }


def soak_summary(
    outcomes: Sequence[Outcome], *, duration: float, samples: Sequence[MemorySample], intervals: Sequence[dict]
) -> dict:
    """The headline: everything overall, the p99 of every interval, memory and the verdict."""
    overall = load_figures(outcomes, seconds=duration)
    by_kind = {}
    for kind in sorted({o.kind for o in outcomes}):
        latencies = [o.latency_s for o in outcomes if o.kind == kind and o.status == OK]
        by_kind[kind] = _percentile_ms(latencies, 99)
    table = memory_table(samples, half_s=duration / 2)
    return {
        "run": "soak",
        "duration_s": duration,
        **overall,
        "p99_ms_by_interval": [row["p99_ms"] for row in intervals],
        "p99_ms_by_kind": by_kind,
        "memory": table,
        **verdict(
            overall["error_count"],
            table,
            [row["p99_ms"] for row in intervals if row["start_s"] >= duration / 2],
        ),
    }
