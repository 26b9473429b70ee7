"""The detector's input: dense hourly series per topic, and their alignment onto one grid.

A ``TopicSeries`` is what the rollup tables hold for one topic (``TopicRollup.count`` and
``negative_count``, ``TopicEmotionRollup`` per label), densified: one entry per UTC hour from
``start``, zeros where no mentions. Hours outside a series are *unknown*, not zero: they are
left out of every baseline, so a topic first seen last week is not compared with three weeks of
zeros it never had.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

HOUR = timedelta(hours=1)
CELLS = 7 * 24  # hour-of-week cells: weekday * 24 + hour, local to the settings' time zone
NEGATIVE_KIND = "sentiment:negative"
VOLUME_KIND = "volume"


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; naive datetimes are UTC (the storage convention, see ``storage.models``)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_hour(moment: datetime) -> datetime:
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    floored = floor_hour(moment)
    return floored if floored == as_utc(moment) else floored + HOUR


def _counts(name: str, values, hours: int | None) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if hours is not None and array.shape[0] != hours:
        raise ValueError(f"{name} has {array.shape[0]} hours, counts has {hours}")
    whole = np.issubdtype(array.dtype, np.integer) or (
        np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array)) and np.all(array == np.round(array))
    )
    if not whole or (array.size and array.min() < 0):
        raise ValueError(f"{name} must hold non-negative whole counts")
    owned = array.astype(np.int64)  # a copy: the caller may reuse its buffer
    owned.flags.writeable = False
    return owned


@dataclass(frozen=True, eq=False)
class TopicSeries:
    """One topic's hourly rollups from ``start`` (a UTC hour): ``counts[i]`` mentions in the hour
    ``start + i h``; ``label_counts[label][i]`` of them had that emotion label and
    ``negative_counts[i]`` negative sentiment. ``mute_mix``: mentions of an older
    ``model_version`` lie in the baseline window, so label shares are not comparable and mix
    shifts of this topic are not reported (its volume still is)."""

    topic: str
    start: datetime
    counts: np.ndarray
    label_counts: Mapping[str, np.ndarray] = field(default_factory=dict)
    negative_counts: np.ndarray | None = None
    mute_mix: bool = False

    def __post_init__(self) -> None:
        where = f"TopicSeries {self.topic!r}"
        if not self.topic:
            raise ValueError("TopicSeries: topic is empty")
        start = as_utc(self.start)
        if start != floor_hour(start):
            raise ValueError(f"{where}: start {self.start.isoformat()} is not on the hour")
        counts = _counts(f"{where}: counts", self.counts, None)
        labels = {
            str(label): _counts(f"{where}: label_counts[{label!r}]", values, counts.shape[0])
            for label, values in sorted(self.label_counts.items())
        }
        negative = None
        if self.negative_counts is not None:
            negative = _counts(f"{where}: negative_counts", self.negative_counts, counts.shape[0])
        for name, values in [*((f"label_counts[{k!r}]", v) for k, v in labels.items()), ("negative_counts", negative)]:
            if values is not None and np.any(values > counts):
                hour = int(np.argmax(values > counts))
                raise ValueError(f"{where}: {name} exceeds counts at hour {hour} ({start + hour * HOUR:%Y-%m-%dT%H}Z)")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "counts", counts)
        object.__setattr__(self, "label_counts", labels)
        object.__setattr__(self, "negative_counts", negative)

    @property
    def end(self) -> datetime:
        """The exclusive end: the hour after the last one the series covers."""
        return self.start + len(self.counts) * HOUR

    def kinds(self) -> list[str]:
        """The mix kinds this topic is tested for (``volume`` is always tested)."""
        kinds = [f"emotion:{label}" for label in self.label_counts]
        return [*kinds, NEGATIVE_KIND] if self.negative_counts is not None else kinds


@functools.lru_cache(maxsize=64)
def hour_of_week_cells(start: datetime, hours: int, zone: ZoneInfo) -> np.ndarray:
    """Local ``weekday * 24 + hour`` of each UTC hour from ``start``. Across a DST change a local
    hour repeats or is skipped: those cells simply get one observation more or less."""
    cells = np.empty(hours, dtype=np.int64)
    for i in range(hours):
        local = (start + i * HOUR).astimezone(zone)
        cells[i] = local.weekday() * 24 + local.hour
    cells.flags.writeable = False
    return cells


@dataclass(frozen=True, eq=False)
class Grid:
    """Every topic on one hourly grid from ``start``: row ``k`` is ``series[k]``."""

    start: datetime
    topics: list[str]
    counts: np.ndarray  # (K, T) float
    observed: np.ndarray  # (K, T) bool: the hour lies inside the topic's series
    kinds: list[str]  # J mix kinds: every emotion label of any topic, then sentiment:negative
    mix: np.ndarray  # (K, J, T) float: mentions of that label / with negative sentiment
    mix_present: np.ndarray  # (K, J) bool: the topic's series has that kind
    muted: np.ndarray  # (K,) bool
    cells: np.ndarray  # (T,) local hour-of-week cell

    def index(self, moment: datetime) -> int:
        return int((as_utc(moment) - self.start) / HOUR)


def build_grid(series: Sequence[TopicSeries], *, start: datetime, hours: int, zone: ZoneInfo) -> Grid:
    topics = [s.topic for s in series]
    if len(set(topics)) != len(topics):
        duplicate = next(t for t in topics if topics.count(t) > 1)
        raise ValueError(f"topic {duplicate!r} appears twice in the series")
    kinds = sorted({kind for s in series for kind in s.kinds()} - {NEGATIVE_KIND})
    if any(s.negative_counts is not None for s in series):
        kinds.append(NEGATIVE_KIND)
    slot = {kind: j for j, kind in enumerate(kinds)}
    counts = np.zeros((len(series), hours))
    observed = np.zeros((len(series), hours), dtype=bool)
    mix = np.zeros((len(series), len(kinds), hours))
    present = np.zeros((len(series), len(kinds)), dtype=bool)
    for k, s in enumerate(series):
        offset = int((s.start - start) / HOUR)
        lo, hi = max(0, offset), min(hours, offset + len(s.counts))
        present[k, [slot[kind] for kind in s.kinds()]] = True
        if lo >= hi:
            continue
        part = slice(lo - offset, hi - offset)
        counts[k, lo:hi] = s.counts[part]
        observed[k, lo:hi] = True
        for label, values in s.label_counts.items():
            mix[k, slot[f"emotion:{label}"], lo:hi] = values[part]
        if s.negative_counts is not None:
            mix[k, slot[NEGATIVE_KIND], lo:hi] = s.negative_counts[part]
    return Grid(
        start=start,
        topics=topics,
        counts=counts,
        observed=observed,
        kinds=kinds,
        mix=mix,
        mix_present=present,
        muted=np.array([s.mute_mix for s in series], dtype=bool),
        cells=hour_of_week_cells(start, hours, zone),
    )
