"""Where the machine's CPU went during one load run, as fractions of every core's time.

``bench online`` reports it for its headline runs: the online/raw ratio is set by how much of
the cores the models get, so the share of the Gateway replicas (models and HTTP), Ray's other
processes (controller, GCS, raylet, dashboard, HAProxy, the other replicas), everything else
on the machine (the load generator, the kernel's loopback networking) and idle time says
where a missing fraction went.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import psutil

GATEWAY_MARKER = "ServeReplica:moodwire:Gateway"

CpuTimes = dict[int, float]  # pid -> user + system seconds


class Snapshot(NamedTuple):
    busy_s: float  # every core's non-idle seconds since boot
    idle_s: float
    processes: CpuTimes
    groups: dict[int, str]  # pid -> "gateways" | "ray"


def group_of(cmdline: str) -> str:
    """A Ray process's group by its command line (Ray names replica processes after them)."""
    return "gateways" if GATEWAY_MARKER in cmdline else "ray"


def _process_times(pids: Iterable[int]) -> CpuTimes:
    times: CpuTimes = {}
    for pid in pids:
        try:
            cpu = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        times[pid] = cpu.user + cpu.system
    return times


def snapshot(root_pid: int, groups: dict[int, str] | None = None) -> Snapshot:
    """CPU seconds so far of the machine and of ``root_pid`` with its descendants (the
    ``moodwire serve`` process: Ray's processes and HAProxy are its descendants). With
    ``groups`` (an earlier snapshot's), those processes are timed again without listing
    and classifying the tree a second time."""
    if groups is None:
        groups = {root_pid: "ray"}
        for child in psutil.Process(root_pid).children(recursive=True):
            try:
                groups[child.pid] = group_of(" ".join(child.cmdline()))
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    system = psutil.cpu_times()._asdict()
    # Linux counts guest time inside user and nice already.
    total = sum(seconds for name, seconds in system.items() if name not in ("guest", "guest_nice"))
    idle = system["idle"] + system.get("iowait", 0.0)
    return Snapshot(total - idle, idle, _process_times(groups), groups)


def shares(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Fractions of all cores' time between two snapshots: ``gateways``, ``ray``, ``other``,
    ``idle`` (they sum to 1). Processes that started or ended in between are left to ``other``."""
    total = (after.busy_s - before.busy_s) + (after.idle_s - before.idle_s)
    if total <= 0:
        raise ValueError("the two snapshots span no CPU time")
    used = {"gateways": 0.0, "ray": 0.0}
    for pid, group in before.groups.items():
        if pid in after.processes and pid in before.processes:
            used[group] += max(after.processes[pid] - before.processes[pid], 0.0)
    busy = after.busy_s - before.busy_s
    other = max(busy - used["gateways"] - used["ray"], 0.0)
    idle = after.idle_s - before.idle_s
    return {name: round(seconds / total, 3) for name, seconds in {**used, "other": other, "idle": idle}.items()}


def measured(root_pid: int, work: Callable[[], dict]) -> dict:
    """``work()``'s figures plus ``cpu_share`` over the time it ran."""
    before = snapshot(root_pid)
    figures = work()
    return {**figures, "cpu_share": shares(before, snapshot(root_pid, before.groups))}
