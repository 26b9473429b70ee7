"""Spike detection (issue 14) on plain arrays: seasonality, flags fed forward, the count-aware
test, mix shifts, complete buckets and a bucket's verdict independent of the range asked."""

from __future__ import annotations

import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydantic import ValidationError

from spikes import Spike, SpikeSettings, TopicSeries, backtest, detect, scorable_end
from spikes.series import hour_of_week_cells
from spikes.significance import benjamini_hochberg, beta_binomial_tail, negative_binomial_tail, severity

DAY, HOUR = timedelta(days=1), timedelta(hours=1)
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
LABELS = ("anger", "joy", "neutral")
LABEL_SHARES = (0.1, 0.3, 0.6)


def at(day: int, hour: int = 0) -> datetime:
    return START + day * DAY + hour * HOUR


def index(day: int, hour: int) -> int:
    return day * 24 + hour


def topic(counts, *, name: str = "economy", start: datetime = START, **extra) -> TopicSeries:
    return TopicSeries(topic=name, start=start, counts=counts, **extra)


def volumes(spikes: list[Spike]) -> list[tuple[str, datetime]]:
    return [(s.topic, s.bucket_start) for s in spikes if s.kind == "volume"]


# -- volume with seasonality ------------------------------------------------------------------


def test_a_quiet_topic_with_a_few_single_mentions_has_no_spike():
    rng = np.random.default_rng(1)
    counts = np.zeros(58 * 24, dtype=int)
    counts[rng.choice(np.arange(28 * 24, 58 * 24), size=5, replace=False)] = 1
    assert detect([topic(counts)], start=at(28), end=at(58), now=at(58, 1)) == []


def test_a_quiet_topic_still_catches_a_burst():
    counts = np.zeros(35 * 24, dtype=int)
    counts[[100, 300, 500]] = 1
    counts[index(33, 9)] = 8
    spikes = detect([topic(counts)], start=at(28), end=at(35), now=at(35, 1))
    assert volumes(spikes) == [("economy", at(33, 9))]


def evening_peak(seed: int, days: int = 35) -> np.ndarray:
    """3 mentions an hour, 30 in the 18:00 UTC bucket."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(3, days * 24)
    counts[18::24] = rng.poisson(30, days)
    return counts


def test_the_usual_evening_peak_is_not_a_spike_but_four_times_it_is():
    counts = evening_peak(seed=2)
    assert detect([topic(counts)], start=at(28), end=at(35), now=at(35, 1)) == []

    counts[index(33, 18)] = 120
    [spike] = detect([topic(counts)], start=at(28), end=at(35), now=at(35, 1))
    assert (spike.kind, spike.bucket_start, spike.bucket_end) == ("volume", at(33, 18), at(33, 19))
    assert 24 < spike.expected < 36  # the seasonal expectation, not the daily mean of ~4
    assert 3 < spike.lift < 5 and spike.severity >= 6
    assert spike.p_value <= spike.q_value <= 0.01


def test_a_past_spike_does_not_hide_an_equal_one_a_week_later():
    rng = np.random.default_rng(3)
    counts = rng.poisson(5, 40 * 24)
    counts[index(29, 14)] = counts[index(36, 14)] = 150
    series = [topic(counts)]
    first, second = sorted(detect(series, start=at(28), end=at(40), now=at(40, 1)), key=lambda s: s.bucket_start)
    assert (first.bucket_start, second.bucket_start) == (at(29, 14), at(36, 14))
    assert second.expected < 1.5 * first.expected and second.p_value < 1e-90

    # A later run over the second week alone, fed the stored flags, reaches the same verdict.
    assert detect(series, start=at(35), end=at(40), now=at(40, 1), flagged_before=[first]) == [second]
    assert detect(series, start=at(35), end=at(40), now=at(40, 1), flagged_before=[("economy", at(29, 14))]) == [second]


def noise_topics(seed: int, *, topics: int = 50, days: int = 35, labels: bool = False) -> list[TopicSeries]:
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.5, 20, topics)
    counts = rng.poisson(rates[:, None], (topics, days * 24))
    if not labels:
        return [topic(counts[k], name=f"t{k}") for k in range(topics)]
    mix = rng.multinomial(counts, LABEL_SHARES)
    negative = rng.binomial(counts, 0.25)
    return [
        topic(
            counts[k],
            name=f"t{k}",
            label_counts={label: mix[k, :, j] for j, label in enumerate(LABELS)},
            negative_counts=negative[k],
        )
        for k in range(topics)
    ]


def false_alarm_share(seeds: range, *, labels: bool = False) -> float:
    noisy = sum(bool(detect(noise_topics(s, labels=labels), start=at(28), end=at(35), now=at(35, 1))) for s in seeds)
    return noisy / len(seeds)


def test_pure_poisson_noise_rarely_gives_any_spike_in_a_week_of_fifty_topics():
    # 100 runs x 50 topics x 168 buckets; a run is one week; ~3 s. Measured: 1 run of 100.
    assert false_alarm_share(range(100)) <= SpikeSettings().alpha + 0.05


def test_pure_noise_in_the_label_mix_rarely_gives_any_spike():
    assert false_alarm_share(range(10), labels=True) <= SpikeSettings().alpha + 0.05


# -- complete buckets and the time zone ---------------------------------------------------------


def test_a_bucket_is_scored_only_after_its_grace_period():
    def moment(hour: int, minute: int) -> datetime:
        return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)

    assert scorable_end(moment(10, 9), grace_minutes=10) == moment(9, 0)  # 09:00-10:00 still in grace
    assert scorable_end(moment(10, 10), grace_minutes=10) == moment(10, 0)

    counts = evening_peak(seed=2)
    counts[index(34, 18)] = 120  # the last bucket of the series: 18:00-19:00
    series = [topic(counts)]
    assert detect(series, start=at(34), end=at(35), now=at(34, 19) + timedelta(minutes=9)) == []
    [spike] = detect(series, start=at(34), end=at(35), now=at(34, 19) + timedelta(minutes=10))
    assert spike.bucket_start == at(34, 18)


def new_york_evening_peak(seed: int) -> TopicSeries:
    """3 an hour, 30 at 18:00 New York time, for ten weeks from 2 Feb 2026 (DST starts 8 Mar)."""
    rng = np.random.default_rng(seed)
    start, hours = datetime(2026, 2, 2, tzinfo=UTC), 70 * 24
    zone = ZoneInfo("America/New_York")
    local_hour = np.array([(start + i * HOUR).astimezone(zone).hour for i in range(hours)])
    counts = np.where(local_hour == 18, rng.poisson(30, hours), rng.poisson(3, hours))
    return topic(counts, start=start)


def test_the_time_zone_decides_which_utc_hour_is_the_evening_slot():
    assert hour_of_week_cells(datetime(2026, 3, 9, 22, tzinfo=UTC), 1, ZoneInfo("America/New_York"))[0] == 18
    series = [new_york_evening_peak(seed=4)]
    after_dst = {"start": datetime(2026, 3, 9, tzinfo=UTC), "end": datetime(2026, 4, 13, tzinfo=UTC)}
    now = datetime(2026, 4, 13, 1, tzinfo=UTC)

    assert detect(series, **after_dst, now=now, settings=SpikeSettings(timezone="America/New_York")) == []
    # In UTC the peak moved from 23:00 to 22:00 with daylight saving time: "spikes" at 22:00 UTC,
    # until flags on 3 of 7 days at that hour make it the new normal (flagged buckets would
    # otherwise stay out of the baseline and the moved peak would be flagged for weeks).
    in_utc = detect(series, **after_dst, now=now, settings=SpikeSettings(timezone="UTC"))
    assert in_utc[-1].bucket_start == datetime(2026, 3, 9, 22, tzinfo=UTC)
    assert len(in_utc) >= 3 and {s.bucket_start.hour for s in in_utc} == {22}
    assert all(s.bucket_start < datetime(2026, 3, 16, tzinfo=UTC) for s in in_utc)


# -- mix shifts ---------------------------------------------------------------------------------


def mixed_topic(seed: int, *, days: int = 35) -> dict:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(20, days * 24)
    mix = rng.multinomial(counts, LABEL_SHARES)
    return {
        "counts": counts,
        "label_counts": {label: mix[:, j] for j, label in enumerate(LABELS)},
        "negative_counts": rng.binomial(counts, 0.2),
    }


def test_an_angry_bucket_of_normal_size_is_an_anger_shift_unless_muted():
    data = mixed_topic(seed=5)
    hour = index(33, 15)
    data["counts"][hour] = 20
    for label, value in zip(LABELS, (16, 2, 2), strict=True):
        data["label_counts"][label][hour] = value
    data["negative_counts"][hour] = 4

    [spike] = detect([topic(**data)], start=at(28), end=at(35), now=at(35, 1))
    assert (spike.kind, spike.bucket_start, spike.observed) == ("emotion:anger", at(33, 15), 16)
    assert spike.expected == pytest.approx(2.0, rel=0.1) and spike.lift > 7

    assert detect([topic(**data, mute_mix=True)], start=at(28), end=at(35), now=at(35, 1)) == []


def test_a_negative_share_shift_is_a_sentiment_spike():
    data = mixed_topic(seed=6)
    data["counts"][index(31, 8)] = 20
    data["negative_counts"][index(31, 8)] = 18
    data["label_counts"]["anger"][index(31, 8)] = 2
    spikes = detect([topic(**data)], start=at(28), end=at(35), now=at(35, 1))
    assert [(s.kind, s.bucket_start) for s in spikes] == [("sentiment:negative", at(31, 8))]


# -- Benjamini-Hochberg per bucket ----------------------------------------------------------------


def topics_with_spikes() -> list[TopicSeries]:
    """20 topics over 49 days; spikes of several sizes from day 31 on, some sharing a bucket."""
    rng = np.random.default_rng(7)
    rates = rng.uniform(1, 15, 20)
    counts = rng.poisson(rates[:, None], (20, 49 * 24))
    for k, day, hour, lift in [
        (0, 33, 10, 6), (1, 36, 20, 3), (2, 39, 4, 4), (3, 39, 4, 3.2), (4, 39, 4, 3.0),
        (5, 40, 12, 8), (0, 43, 10, 6), (6, 44, 2, 2.5), (7, 47, 16, 3),
    ]:  # fmt: skip
        counts[k, index(day, hour)] = int(rates[k] * lift) + 5
    return [topic(counts[k], name=f"t{k}") for k in range(20)]


def test_a_buckets_verdict_does_not_change_when_the_range_is_extended():
    series, now = topics_with_spikes(), at(49, 1)
    week = detect(series, start=at(38), end=at(45), now=now)
    longer = detect(series, start=at(38), end=at(49), now=now)
    assert [s for s in longer if s.bucket_start < at(45)] == week

    # Extending backwards finds earlier spikes; fed to the short run, they give the same verdicts.
    wide = detect(series, start=at(31), end=at(49), now=now)
    earlier = [s for s in wide if s.bucket_start < at(38)]
    assert earlier and len(week) >= 3
    assert sum(s.bucket_start == at(39, 4) for s in week) == 3  # one of them passes only by BH's step-up
    assert detect(series, start=at(38), end=at(45), now=now, flagged_before=earlier) == [
        s for s in wide if at(38) <= s.bucket_start < at(45)
    ]


def test_benjamini_hochberg_within_each_row_and_ignoring_missing_slots():
    p = np.array([[0.01, 0.04, 0.03, 0.005, np.inf], [0.5, np.inf, np.inf, np.inf, 0.5]])
    expected = np.array([[0.02, 0.04, 0.04, 0.02, np.inf], [0.5, np.inf, np.inf, np.inf, 0.5]])
    np.testing.assert_allclose(benjamini_hochberg(p), expected)


# -- the pieces -----------------------------------------------------------------------------------


def upper_sum(log_term, start: int, stop: int) -> float:
    return sum(math.exp(log_term(j)) for j in range(start, stop))


def test_tails_match_their_textbook_forms():
    def poisson(j, m=20.0):
        return -m + j * math.log(m) - math.lgamma(j + 1)

    def negative_binomial(j, m=20.0, r=1 / 0.3):
        return (
            math.lgamma(j + r)
            - math.lgamma(r)
            - math.lgamma(j + 1)
            + r * math.log(r / (r + m))
            + j * math.log(m / (r + m))
        )

    x = np.array([0, 1, 5, 40])
    reference = [upper_sum(poisson, k, 400) for k in x]
    np.testing.assert_allclose(negative_binomial_tail(x, 20.0, 0.0), reference, rtol=1e-9)
    reference = [upper_sum(negative_binomial, k, 3000) for k in x]
    np.testing.assert_allclose(negative_binomial_tail(x, 20.0, 0.3), reference, rtol=1e-9)

    x, n = np.array([4, 9, 14, 35]), np.array([20, 20, 20, 50])
    share, rho = np.array([0.1, 0.1, 0.1, 0.05]), np.array([0.05, 0.05, 0.05, 0.1])
    a, b = share * (1 - rho) / rho, (1 - share) * (1 - rho) / rho

    def beta_binomial(i):
        def log_term(j):
            log_choose = math.lgamma(n[i] + 1) - math.lgamma(j + 1) - math.lgamma(n[i] - j + 1)
            return log_choose + log_beta(j + a[i], n[i] - j + b[i]) - log_beta(a[i], b[i])

        return log_term

    reference = np.array([upper_sum(beta_binomial(i), x[i], n[i] + 1) for i in range(len(x))])
    np.testing.assert_allclose(beta_binomial_tail(x, n, share, rho, exact_below=1.0), reference, rtol=1e-9)
    # By default only the far tail is summed exactly; the bulk's quasi-binomial is close enough.
    mixed = beta_binomial_tail(x, n, share, rho, exact_below=1e-3)
    far = reference < 1e-3
    np.testing.assert_allclose(mixed[far], reference[far], rtol=1e-9)
    np.testing.assert_allclose(mixed[~far], reference[~far], rtol=0.5)


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def test_severity_rises_with_evidence_and_with_lift():
    grid = [[severity(p, lift) for lift in (2, 3, 4, 8, 16, 64)] for p in (1e-3, 1e-8, 1e-15, 1e-30, 1e-80)]
    assert all(1 <= s <= 10 for row in grid for s in row)
    assert all(row == sorted(row) for row in grid)
    assert all(list(col) == sorted(col) for col in zip(*grid, strict=True))
    assert grid[0][0] <= 3 and grid[-1][-1] == 10


def test_settings_name_the_bad_key():
    with pytest.raises(ValidationError, match="timezone: unknown time zone 'Mars/Olympus'"):
        SpikeSettings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="extra"):
        SpikeSettings(alpah=0.05)


def test_series_validation_says_what_is_wrong():
    with pytest.raises(ValueError, match=r"label_counts\['anger'\] has 3 hours, counts has 4"):
        topic([1, 2, 3, 4], label_counts={"anger": [0, 0, 0]})
    with pytest.raises(ValueError, match="negative_counts exceeds counts at hour 1"):
        topic([1, 2, 3], negative_counts=[1, 3, 0])
    with pytest.raises(ValueError, match="not on the hour"):
        topic([1], start=START + timedelta(minutes=30))


def test_backtest_counts_spikes_per_topic_and_iso_week():
    counts = evening_peak(seed=2, days=42)
    counts[index(30, 18)] = counts[index(38, 18)] = counts[index(39, 18)] = 120
    report = backtest([topic(counts), topic(evening_peak(seed=9, days=42), name="sport")], days=14, now=at(42, 1))
    assert report["weeks"] == ["2026-W06", "2026-W07"]
    assert report["per_topic"] == {
        "economy": {"2026-W06": 1, "2026-W07": 2},
        "sport": {"2026-W06": 0, "2026-W07": 0},
    }
    assert report["total"] == 3 and report["spikes"][0].bucket_start == at(39, 18)


def test_the_settings_schema_imports_without_scipy():
    check = "import sys, spikes; spikes.SpikeSettings(); print('scipy' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    output = subprocess.run([sys.executable, "-c", check], cwd=root, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"


# -- wiring: settings file and top terms --------------------------------------------------------


def test_spike_settings_live_in_storage_yaml_and_a_wrong_key_names_file_and_key(tmp_path):
    from inference.config_files import ConfigError
    from storage.settings import load_storage_settings

    good = tmp_path / "storage.yaml"
    good.write_text("spikes:\n  alpha: 0.05\n  min_count: 8\n  timezone: Europe/Berlin\n", encoding="utf-8")
    spikes = load_storage_settings(good).spikes
    assert (spikes.alpha, spikes.min_count, spikes.timezone, spikes.min_lift) == (0.05, 8, "Europe/Berlin", 2.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("spikes:\n  min_lfit: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown key 'spikes\.min_lfit'"):
        load_storage_settings(bad)


def test_top_terms_are_the_words_of_the_spike_not_of_every_day():
    from spikes.terms import top_terms

    spike = [f"the new tariffs hit the port today {i}" for i in range(20)] + ["markets are calm"]
    baseline = [f"markets are calm and the port is busy {i}" for i in range(200)]
    terms = [t["term"] for t in top_terms(spike, baseline)]
    assert terms[:4] == ["hit", "new", "tariffs", "today"]  # equal scores: by term, so the answer is stable
    assert "the" not in terms and "markets" not in terms
