"""Spike detection over every topic's hourly rollups: volume spikes and mix shifts.

``detect`` scores every complete bucket of a range a UTC day at a time (one baseline fit per
topic and day, see ``spikes.expected``), oldest first, and feeds each day's flags
forward: a flagged bucket leaves every later baseline of its topic (volume and mix), so a past
spike does not hide an equal one a week later. Exception: flags at one local hour on
``RECURRING_FLAGS`` of the 7 days before a day count again in that day's baseline; they are the
new normal (a level shift, a peak moved by daylight saving time in a UTC setting), and keeping
them out would flag the change every day for weeks. A bucket's verdict is a function of the data and
of the flags in its own baseline window only, so it is the same whichever command or range asks,
provided the caller (1) passes every topic (the BH family is the whole bucket) and (2) passes
the flags it already holds for the ``baseline_days`` before ``start`` as ``flagged_before``
(stored spikes, or a ``detect`` run over the earlier range).

Per bucket, one family: the volume test of every topic observed in that hour plus each of
its mix tests (``emotion:<label>``, ``sentiment:negative``; a muted or too-new topic's tests
stay in with p = 1, so muting one topic changes nobody else's verdict). Benjamini-Hochberg runs
within that family only, never across buckets.

Why ``alpha_span_hours`` (default 168): BH at ``alpha`` per bucket keeps each bucket's chance of
any false spike near ``alpha``, but a week has 168 buckets; on 50 topics of pure Poisson noise
that is a false spike in roughly half of all weeks even with exact p-values (``min_lift`` only
binds for small topics). ``q_value = min(1, span * BH(p))`` and a spike needs ``q_value <= alpha``:
BH at ``alpha / span`` per bucket, so a quiet week passes with probability about ``1 - alpha``.
``alpha_span_hours = 1`` gives the literal per-bucket reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from spikes.expected import cell_sums, fit_volume
from spikes.mix import fit_mix, share_rule
from spikes.series import HOUR, VOLUME_KIND, Grid, TopicSeries, as_utc, build_grid, ceil_hour, floor_hour
from spikes.settings import SpikeSettings
from spikes.significance import benjamini_hochberg, beta_binomial_tail, negative_binomial_tail, severity

MIN_BASELINE_SHARE = 0.25  # a bucket is tested only if its topic was observed for 1/4 of the window
RECURRING_FLAGS = 3  # flags at one local hour on this many of the last 7 days are the new normal


@dataclass(frozen=True)
class Spike:
    """One flagged (topic, kind, bucket). ``p_value`` is the raw tail probability; ``q_value``
    the BH-adjusted one scaled by ``alpha_span_hours`` (spike iff ``q_value <= alpha``): the HTTP
    field ``p_value`` carries ``q_value``. Mix shifts: ``observed`` is the label's count in the
    bucket and ``expected`` the bucket's count times the baseline share."""

    topic: str
    kind: str
    bucket_start: datetime
    bucket_end: datetime
    observed: int
    expected: float
    lift: float
    p_value: float
    q_value: float
    severity: int


def scorable_end(now: datetime, *, grace_minutes: int) -> datetime:
    """Exclusive end of the buckets complete at ``now``: a bucket is scored ``grace_minutes``
    after it ends, so late rollup writes for it have landed."""
    return floor_hour(as_utc(now) - timedelta(minutes=grace_minutes))


def _flag_keys(flagged: Iterable[Spike | tuple[str, datetime]]) -> list[tuple[str, datetime]]:
    return [(f.topic, f.bucket_start) if isinstance(f, Spike) else (f[0], floor_hour(f[1])) for f in flagged]


class _Run:
    """The state of one ``detect`` call: the grid and the flags known so far."""

    def __init__(self, grid: Grid, flagged: np.ndarray, settings: SpikeSettings) -> None:
        self.grid, self.flagged, self.settings = grid, flagged, settings
        self.length = 24 * settings.baseline_days
        # What each scored bucket was tested against (NaN where not scored or too new a topic).
        self.expected = np.full(grid.counts.shape, np.nan)
        self.dispersion = np.zeros(grid.counts.shape)

    def baseline_weight(self, anchor: int) -> np.ndarray:
        """1 for the hours of the window before ``anchor`` a baseline may use, else 0: observed,
        and not flagged, unless the topic was flagged at that local hour on ``RECURRING_FLAGS``
        of the 7 days before: then the flags are the new normal (a level shift, a peak that moved)
        and count again, or a lasting change would be flagged, and kept out, forever."""
        grid, (lo, hi) = self.grid, (anchor - self.length, anchor - self.settings.guard_hours)
        hour_of_day = grid.cells % 24
        week = slice(anchor - 7 * 24, anchor)
        recent = self.flagged[:, week].astype(float) @ np.eye(24)[hour_of_day[week]]  # (K, 24)
        kept_out = self.flagged[:, lo:hi] & (recent < RECURRING_FLAGS)[:, hour_of_day[lo:hi]]
        return (grid.observed[:, lo:hi] & ~kept_out).astype(float)

    def day(self, anchor: int, positions: np.ndarray) -> list[Spike]:
        """Spikes of the scored buckets ``positions`` of the UTC day starting at grid hour
        ``anchor``; their flags then apply to the baselines of later days."""
        grid, settings = self.grid, self.settings
        lo, hi = anchor - self.length, anchor - settings.guard_hours
        weight, counts = self.baseline_weight(anchor), grid.counts
        seen = counts[:, lo:hi] * weight
        sums = cell_sums(np.concatenate([weight, seen, seen * counts[:, lo:hi]]), grid.cells[lo:hi])
        topics = len(grid.topics)
        volume = fit_volume(sums[:topics], sums[topics : 2 * topics], sums[2 * topics :], grid.cells[positions])
        enough = (volume.hours >= MIN_BASELINE_SHARE * self.length)[:, None]  # (K, 1)
        self.expected[:, positions] = np.where(enough, volume.expected, np.nan)
        self.dispersion[:, positions] = volume.dispersion
        observed = counts[:, positions]
        p_volume = np.where(enough, negative_binomial_tail(observed, volume.expected, volume.dispersion), 1.0)

        mix = fit_mix(grid.mix[:, :, lo:hi], counts[:, lo:hi], weight)
        share = np.broadcast_to(mix.share[:, :, None], (*mix.share.shape, len(positions)))
        testable = enough[:, None, :] & ~grid.muted[:, None, None]
        labelled = grid.mix[:, :, positions]
        p_mix = beta_binomial_tail(
            np.where(testable, labelled, 0.0),
            observed[:, None, :],
            share,
            mix.rho[:, :, None],
            exact_below=4 * settings.alpha / settings.alpha_span_hours,
        )

        present = grid.observed[:, positions]
        present_mix = present[:, None, :] & grid.mix_present[:, :, None]
        family = np.concatenate(
            [np.where(present, p_volume, np.inf), np.where(present_mix, p_mix, np.inf).reshape(-1, len(positions))]
        )
        q = np.minimum(benjamini_hochberg(family.T).T * settings.alpha_span_hours, 1.0)
        q_volume, q_mix = q[:topics], q[topics:].reshape(p_mix.shape)
        volume_hit = (
            (q_volume <= settings.alpha)
            & (observed >= settings.min_count)
            & (observed >= settings.min_lift * volume.expected)
        )
        mix_hit = (
            (q_mix <= settings.alpha)
            & ~grid.muted[:, None, None]
            & (labelled >= settings.min_count)
            & share_rule(labelled, observed[:, None, :], share, settings.min_lift)
        )
        spikes = []
        for k, b in zip(*np.nonzero(volume_hit), strict=True):
            make = _SpikeMaker(grid.start + int(positions[b]) * HOUR)
            spikes.append(
                make(grid.topics[k], VOLUME_KIND, observed[k, b], volume.expected[k, b], p_volume[k, b], q_volume[k, b])
            )
            self.flagged[k, positions[b]] = True
        for k, j, b in zip(*np.nonzero(mix_hit), strict=True):
            make = _SpikeMaker(grid.start + int(positions[b]) * HOUR)
            expect = observed[k, b] * share[k, j, b]
            spikes.append(
                make(grid.topics[k], grid.kinds[j], labelled[k, j, b], expect, p_mix[k, j, b], q_mix[k, j, b])
            )
            self.flagged[k, positions[b]] = True
        return spikes


@dataclass(frozen=True)
class _SpikeMaker:
    start: datetime

    def __call__(self, topic: str, kind: str, observed, expected, p_value, q_value) -> Spike:
        lift = float(observed) / float(expected)
        return Spike(
            topic=topic,
            kind=kind,
            bucket_start=self.start,
            bucket_end=self.start + HOUR,
            observed=int(observed),
            expected=float(expected),
            lift=lift,
            p_value=float(p_value),
            q_value=float(q_value),
            severity=severity(float(p_value), lift),
        )


@dataclass(frozen=True, eq=False)
class Scoring:
    """A ``score`` run: its spikes (newest first) and, per topic and scored hour from
    ``start``, the expected count and its negative-binomial dispersion (NaN expected: not
    scored, or the topic's baseline was too short)."""

    spikes: list[Spike]
    topics: tuple[str, ...]
    start: datetime
    expected: np.ndarray  # (topics, hours)
    dispersion: np.ndarray

    def hours(self) -> int:
        return self.expected.shape[1]


def detect(
    series: Sequence[TopicSeries],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    settings: SpikeSettings | None = None,
    flagged_before: Iterable[Spike | tuple[str, datetime]] = (),
) -> list[Spike]:
    """Spikes in the complete buckets that start in ``[start, end)``, newest first.

    ``series`` must hold every topic (see the module docstring) and reach ``baseline_days``
    before ``start`` for full baselines; hours a series does not cover are left out of fits, and
    a bucket whose topic was observed for under a quarter of its window gets p = 1.
    ``flagged_before``: spikes (or ``(topic, bucket_start)`` pairs) found earlier; their buckets
    are left out of every later baseline of their topic, like the spikes this call finds.
    Naive datetimes are UTC."""
    return score(series, start=start, end=end, now=now, settings=settings, flagged_before=flagged_before).spikes


def score(
    series: Sequence[TopicSeries],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    settings: SpikeSettings | None = None,
    flagged_before: Iterable[Spike | tuple[str, datetime]] = (),
) -> Scoring:
    """``detect``, also keeping the expected count of every scored bucket (the page's band)."""
    settings = settings or SpikeSettings()
    first = ceil_hour(start)
    stop = min(ceil_hour(end), scorable_end(now, grace_minutes=settings.grace_minutes))
    if stop <= first or not series:
        empty = np.zeros((len(series), 0))
        return Scoring([], tuple(s.topic for s in series), first, empty, empty)
    length = 24 * settings.baseline_days
    origin = first.replace(hour=0) - length * HOUR  # baselines are anchored at UTC midnights
    grid = build_grid(series, start=origin, hours=int((stop - origin) / HOUR), zone=settings.zone())
    flagged: np.ndarray = np.zeros(grid.counts.shape, dtype=bool)
    row = {topic: k for k, topic in enumerate(grid.topics)}
    for topic, moment in _flag_keys(flagged_before):
        position = grid.index(moment)
        if topic in row and 0 <= position < flagged.shape[1]:
            flagged[row[topic], position] = True
    run = _Run(grid, flagged, settings)
    spikes: list[Spike] = []
    scored_from, scored_to = grid.index(first), grid.index(stop)
    for anchor in range(length, scored_to, 24):
        positions = np.arange(max(anchor, scored_from), min(anchor + 24, scored_to))
        spikes += run.day(anchor, positions)
    spikes.sort(key=lambda s: (-s.bucket_start.timestamp(), -s.severity, s.topic, s.kind))
    window = slice(scored_from, scored_to)
    return Scoring(spikes, tuple(grid.topics), first, run.expected[:, window], run.dispersion[:, window])
