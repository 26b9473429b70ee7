"""``moodwire bench soak``'s parts that need no Ray, app or network: the mix and its schedule,
the figures per interval, the memory growth and the verdict, the plot and the CLI's checks."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter

import numpy as np
import pytest

from moodwire.bench.soak_figures import (
    MemorySample,
    Outcome,
    interval_bounds,
    interval_figures,
    load_figures,
    memory_table,
    process_label,
    soak_summary,
    verdict,
)
from moodwire.bench.soak_mix import MIX, TEXT_KINDS, open_loop_schedule, pick_kinds, request_for
from moodwire.cli import main


def test_the_mix_is_weighted_toward_classify_and_sums_to_one():
    weights = {kind: weight for kind, (weight, _, _) in MIX.items()}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert (weights["classify"], weights["persist"], weights["embeddings"]) == (0.40, 0.20, 0.20)
    queries = sum(w for kind, w in weights.items() if kind not in TEXT_KINDS)
    assert queries == pytest.approx(0.20)


def test_kinds_are_drawn_with_their_weights_and_the_same_seed_draws_the_same():
    kinds = pick_kinds(np.random.default_rng(1), 20_000)
    assert kinds == pick_kinds(np.random.default_rng(1), 20_000)
    counts = Counter(kinds)
    assert set(counts) == set(MIX)  # every kind comes up
    for kind, (weight, _, _) in MIX.items():
        assert counts[kind] / len(kinds) == pytest.approx(weight, abs=0.01)


def test_open_loop_schedule_is_a_poisson_stream_at_the_rate_within_the_run():
    schedule = open_loop_schedule(rate=20.0, duration=300.0, seed=3)
    due = [at for at, _ in schedule]
    assert schedule == open_loop_schedule(rate=20.0, duration=300.0, seed=3)
    assert due == sorted(due) and due[0] > 0 and due[-1] < 300.0
    assert len(schedule) == pytest.approx(20.0 * 300, rel=0.05)
    gaps = np.diff(due)
    assert gaps.mean() == pytest.approx(1 / 20.0, rel=0.05)
    assert gaps.std() == pytest.approx(gaps.mean(), rel=0.1)  # exponential gaps: std equals mean
    assert Counter(kind for _, kind in schedule)["classify"] / len(schedule) == pytest.approx(0.4, abs=0.02)


def test_each_kind_makes_its_request():
    make = {"text": "Gas prices are a disgrace.", "topic": "economy", "external_id": "soak-x-7"}
    assert request_for("classify", **make) == ("POST", "/v1/classify", {"texts": ["Gas prices are a disgrace."]})
    _, _, persisted = request_for("persist", **make)
    assert persisted == {"items": [{"text": "Gas prices are a disgrace.", "external_id": "soak-x-7"}], "persist": True}
    assert request_for("embeddings", **make)[2] == {"input": "Gas prices are a disgrace.", "model": "default"}
    assert request_for("aggregate", **make) == ("GET", "/v1/topics/economy/aggregate?window=hour", None)
    assert request_for("timeline", **make)[1] == "/v1/topics/economy/timeline"
    assert request_for("mentions", **make)[1] == "/v1/mentions?topic=economy&limit=50"
    assert request_for("spikes", **make)[1] == "/v1/spikes"
    assert request_for("page_config", **make)[1] == "/page-config.json"


def test_intervals_are_minutes_or_sixths_of_a_short_run():
    assert interval_bounds(600) == [(i * 60.0, (i + 1) * 60.0) for i in range(10)]
    short = interval_bounds(60)
    assert len(short) == 6 and short[-1][1] == 60
    assert [end - start for start, end in short] == pytest.approx([10.0] * 6)
    assert interval_bounds(630)[-1] == (600.0, 630)  # half an interval or more: its own
    assert interval_bounds(620)[-1] == (540.0, 620)  # less: joins the last one
    assert len(interval_bounds(620)) == 10


def test_figures_count_throughput_latency_and_errors_by_status():
    outcomes = [Outcome(i * 0.1, 0.010 + 0.001 * (i % 10), "classify", "200") for i in range(90)]
    outcomes += [Outcome(1.0, 0.5, "overview", "200")]  # answered, no text
    outcomes += [Outcome(2.0, 0.002, "persist", "503"), Outcome(3.0, 60.0, "embeddings", "timeout")]
    outcomes += [Outcome(4.0, 0.001, "classify", "connection"), Outcome(5.0, 0.001, "classify", "503")]
    figures = load_figures(outcomes, seconds=10.0)
    assert figures["requests"] == 95
    assert figures["requests_per_s"] == 9.1  # the 91 answered
    assert figures["texts_per_s"] == 9.0  # the overview carries no text
    assert figures["errors"] == {"503": 2, "connection": 1, "timeout": 1}
    assert figures["error_count"] == 4
    assert figures["p50_ms"] == 15.0  # of the answered: errors' latencies left out
    assert 19.0 <= figures["p99_ms"] <= 500.0
    assert load_figures([], seconds=5.0) | {"errors": {}} == {
        "requests": 0,
        "requests_per_s": 0.0,
        "texts_per_s": 0.0,
        "p50_ms": None,
        "p99_ms": None,
        "error_count": 0,
        "errors": {},
    }


def test_a_request_belongs_to_the_interval_it_was_due_in():
    outcomes = [Outcome(t, 0.02, "classify", "200") for t in (1.0, 9.9, 10.0, 25.0)]
    outcomes += [Outcome(19.99, 30.0, "classify", "timeout")]  # counted when due, not when it gave up
    rows = interval_figures(outcomes, [(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)])
    assert [r["interval"] for r in rows] == ["0-10 s", "10-20 s", "20-30 s"]
    assert [r["requests"] for r in rows] == [2, 2, 1]
    assert rows[1]["errors"] == {"timeout": 1}
    assert rows[0]["requests_per_s"] == 0.2
    assert all(r["run"] == "soak-interval" and "rss_mb" not in r for r in rows)
    assert interval_figures([], interval_bounds(100))[1]["interval"] == "16.7-33.3 s"  # labelled by its seconds


def test_process_labels_come_from_ray_titles_scripts_and_programs():
    assert process_label(["ray::ServeReplica:moodwire:Gateway"]) == "ray::ServeReplica:moodwire:Gateway"
    assert process_label(["ray::IDLE", "", ""]) == "ray::IDLE"
    assert process_label(["ray::ServeController.listen_for_change"]) == "ray::ServeController"  # its method: no
    assert process_label(["ray::ServeController  some padding"]) == "ray::ServeController"
    assert process_label(["ray-dashboard-StateHead-0 (/x/python -B -c from ...)"]) == "ray-dashboard-StateHead-0"
    assert process_label(["/x/python", "-B", "-c", "from multiprocessing.forkserver import main"]) == "python -c"
    assert process_label(["/x/ray/core/src/ray/raylet/raylet", "--raylet_socket_name=/tmp/s"]) == "raylet"
    assert process_label(["/x/.venv/bin/python", "-u", "/x/ray/dashboard/dashboard.py", "--a=1"]) == "dashboard.py"
    assert process_label(["/usr/bin/python3.11", "-m", "moodwire", "serve"]) == "moodwire"
    assert process_label([], "haproxy") == "haproxy"


def samples_of(*rows: tuple[float, dict[int, tuple[str, float]]]) -> list[MemorySample]:
    return [MemorySample(at, rss) for at, rss in rows]


def test_memory_growth_is_end_minus_half_way_per_process():
    samples = samples_of(
        (0.0, {1: ("moodwire serve", 300.0), 10: ("ray::IDLE", 80.0), 11: ("ray::Gateway", 900.0)}),
        (150.0, {1: ("moodwire serve", 310.0), 10: ("ray::Aggregator", 200.0), 11: ("ray::Gateway", 950.0)}),
        (300.0, {1: ("moodwire serve", 312.0), 10: ("ray::Aggregator", 230.5), 11: ("ray::Gateway", 1040.0)}),
        (600.0, {1: ("moodwire serve", 315.0), 10: ("ray::Aggregator", 260.0), 12: ("ray::Gateway", 700.0)}),
    )
    table = memory_table(samples, half_s=300.0)
    assert table["moodwire serve"] == {
        "pid": 1,
        "start_mb": 300.0,
        "half_mb": 312.0,
        "end_mb": 315.0,
        "growth_second_half_mb": 3.0,
    }
    assert table["ray::Aggregator"]["growth_second_half_mb"] == 29.5  # labelled as last seen
    assert table["ray::Gateway [11]"]["end_mb"] is None  # gone before the end: no growth
    assert table["ray::Gateway [11]"]["growth_second_half_mb"] is None
    assert table["ray::Gateway [12]"]["start_mb"] is None
    result = verdict(0, table)
    assert (result["max_growth_second_half_mb"], result["max_growth_process"]) == (29.5, "ray::Aggregator")
    assert result["met"] is True


def test_the_target_needs_no_errors_and_at_most_50_mb_growth_per_process():
    def table(growth: float) -> dict:
        return {"ray::Gateway": {"growth_second_half_mb": growth}, "raylet": {"growth_second_half_mb": 1.0}}

    assert verdict(0, table(50.0))["met"] is True
    assert verdict(0, table(50.1))["met"] is False
    assert verdict(1, table(2.0))["met"] is False
    assert verdict(0, table(-20.0))["max_growth_second_half_mb"] == 1.0
    assert verdict(0, {})["met"] is False  # no memory measured: nothing proven


def test_the_target_needs_a_stable_p99_in_the_second_half():
    table = {"ray::Gateway": {"growth_second_half_mb": 5.0}}
    steady = verdict(0, table, [400.0, 550.0, 700.0, 1100.0, 480.0])
    assert steady["p99_stable"] is True and steady["met"] is True
    creeping = verdict(0, table, [400.0, 500.0, 600.0, 900.0, 2500.0])  # last over 3x the median 600
    assert creeping["p99_stable"] is False and creeping["met"] is False


def synthetic_run(duration: float = 60.0) -> tuple[list[Outcome], list[MemorySample], list[dict]]:
    rng = np.random.default_rng(0)
    outcomes = [Outcome(at, float(rng.uniform(0.01, 0.05)), kind, "200") for at, kind in
                open_loop_schedule(rate=10.0, duration=duration, seed=1)]  # fmt: skip
    bounds = interval_bounds(duration)
    moments = sorted({0.0, duration / 2, *(end for _, end in bounds)})
    # the driver grows 0.1 MB/s, the Gateway 1 MB/s
    samples = [MemorySample(t, {1: ("moodwire serve", 300 + t / 10), 7: ("ray::Gateway", 900 + t)}) for t in moments]
    return outcomes, samples, interval_figures(outcomes, bounds, samples)


def test_the_summary_is_the_headline_with_p99_per_interval_and_memory():
    outcomes, samples, intervals = synthetic_run()
    assert intervals[0]["rss_mb"] == {"moodwire serve": 301.0, "ray::Gateway": 910.0}  # at the interval's end
    summary = soak_summary(outcomes, duration=60.0, samples=samples, intervals=intervals)
    assert summary["run"] == "soak"
    assert summary["requests"] == len(outcomes) and summary["error_count"] == 0
    assert summary["p99_ms_by_interval"] == [row["p99_ms"] for row in intervals]
    assert set(summary["p99_ms_by_kind"]) == set(MIX)
    assert summary["memory"]["ray::Gateway"]["growth_second_half_mb"] == 30.0
    assert (summary["max_growth_process"], summary["met"]) == ("ray::Gateway", True)
    json.dumps(summary)  # one JSON line


def test_the_plot_draws_latency_and_memory(tmp_path):
    from moodwire.bench.soak_plot import main as plot_main

    outcomes, samples, intervals = synthetic_run()
    summary = soak_summary(outcomes, duration=60.0, samples=samples, intervals=intervals)
    summary |= {"offered_requests_per_s": 10.0}
    lines = tmp_path / "soak.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in [{"run": "soak-max"}, *intervals, summary]), encoding="utf-8")
    assert plot_main([str(lines), str(tmp_path / "soak.png")]) == 0
    assert (tmp_path / "soak.png").stat().st_size > 10_000


def test_cli_refuses_a_soak_shorter_than_10_seconds(capsys):
    assert main(["bench", "soak", "--duration", "9.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "moodwire bench: soak --duration must be at least 10 seconds, got 9.5"


def test_cli_says_in_one_line_that_the_plot_needs_matplotlib(monkeypatch, capsys, tmp_path):
    real_find_spec = importlib.util.find_spec
    hidden = {"matplotlib": None}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: hidden.get(name, real_find_spec(name, *a)))
    assert main(["bench", "soak", "--duration", "60", "--plot", str(tmp_path / "soak.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "matplotlib" in err and "moodwire[bench]" in err


def test_soak_skips_the_raw_baseline(monkeypatch):
    import argparse

    from moodwire.bench import runner, soak

    monkeypatch.setattr(runner, "measure_raw", lambda *a: pytest.fail("soak measured raw"))
    monkeypatch.setattr(soak, "bench_soak", lambda args, texts: [{"run": "soak", "texts": len(texts)}])
    args = argparse.Namespace(bench_command="soak", texts=50, short=True, raw_texts=10)
    assert runner.run_kind(args) == [{"run": "soak", "texts": 50}]
