"""Benchmark building blocks that need neither Ray nor a database."""

from __future__ import annotations

import argparse
import json

import pytest

from moodwire.bench.plot import read_runs
from moodwire.bench.runner import spread_sample, with_ratio
from moodwire.bench.texts import generate_texts, length_profile
from moodwire.commands.bench import concurrency_list


def test_generated_texts_are_reproducible_with_realistic_lengths():
    texts = generate_texts(5000)
    assert texts == generate_texts(5000)
    assert texts != generate_texts(5000, seed=1)
    profile = length_profile(texts)
    assert profile["p50_chars"] <= 280  # mostly tweet-sized
    assert profile["over_10k"] >= 1  # a few articles over 10,000 characters
    assert 250 < max(len(t) for t in texts if len(t) < 10_000) <= 1_600  # some paragraphs
    assert len(set(texts)) > 0.99 * len(texts)
    assert max(len(t) for t in generate_texts(2000, short_only=True)) <= 280


def test_spread_sample_keeps_the_length_mix():
    texts = [str(i) for i in range(100)]
    assert spread_sample(texts, 10) == [str(i) for i in range(0, 100, 10)]
    assert spread_sample(texts, 500) is texts


def test_ratio_to_raw_is_computed_against_the_same_run():
    raw = {"texts_per_s": 200.0}
    assert with_ratio({"texts_per_s": 150.0}, raw)["ratio_to_raw"] == 0.75
    both = with_ratio({"texts_per_s": 160.0, "wall_texts_per_s": 120.0}, raw)
    assert (both["ratio_to_raw"], both["wall_ratio_to_raw"]) == (0.8, 0.6)
    embeddings = with_ratio({"run": "online-embeddings", "texts_per_s": 140.0}, raw | {"embedding_texts_per_s": 350.0})
    assert embeddings["ratio_to_raw"] == 0.4  # against the embedding model alone


def test_concurrency_list_parses_and_refuses_bad_values():
    assert concurrency_list("1,4,16") == [1, 4, 16]
    for bad in ("", "0", "a,b"):
        with pytest.raises(argparse.ArgumentTypeError):
            concurrency_list(bad)


def test_plot_reads_online_runs_and_names_a_bad_line(tmp_path):
    path = tmp_path / "online.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"run": "raw", "texts_per_s": 1}),
                json.dumps({"run": "online-single", "concurrency": 1, "texts_per_s": 5, "p99_ms": 9}),
            ]
        ),
        encoding="utf-8",
    )
    runs = read_runs(path)
    assert [r["run"] for r in runs] == ["raw", "online-single"]  # raw: the dashed limit line
    assert runs[1]["concurrency"] == 1
    path.write_text('{"run": "online-single"\n', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"online\.jsonl:1"):
        read_runs(path)


def test_cpu_share_splits_the_cores_time_between_gateways_ray_the_rest_and_idle():
    from moodwire.bench.cpu_share import Snapshot, group_of, shares

    assert group_of("ray::ServeReplica:moodwire:Gateway") == "gateways"
    assert group_of("ray::ServeController.listen_for_change") == "ray"
    groups = {10: "gateways", 11: "gateways", 12: "ray", 13: "ray"}
    before = Snapshot(busy_s=100.0, idle_s=50.0, processes={10: 1.0, 11: 2.0, 12: 0.5, 13: 0.5}, groups=groups)
    # 20 s of two cores: 40 core-seconds, 2 of them idle; process 13 ended in between.
    after = Snapshot(busy_s=138.0, idle_s=52.0, processes={10: 17.0, 11: 18.0, 12: 3.5}, groups=groups)
    share = shares(before, after)
    assert share == {"gateways": 0.8, "ray": 0.075, "other": 0.075, "idle": 0.05}
    assert sum(share.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no CPU time"):
        shares(before, before)


def test_cpu_share_snapshots_a_real_process_tree():
    import os
    import subprocess
    import sys

    from moodwire.bench.cpu_share import snapshot

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        taken = snapshot(os.getpid())
        assert taken.groups[os.getpid()] == "ray" and taken.groups[child.pid] == "ray"
        assert taken.processes[os.getpid()] > 0 and taken.busy_s > 0 and taken.idle_s >= 0
    finally:
        child.kill()
        child.wait()


def test_the_online_figure_gets_a_cpu_panel_only_when_the_runs_measured_it(tmp_path):
    import struct

    from moodwire.bench.plot import plot

    share = {"gateways": 0.8, "ray": 0.07, "other": 0.1, "idle": 0.03}
    runs = [
        {"run": "raw", "texts_per_s": 50},
        {"run": "online-single", "concurrency": 1, "texts_per_s": 20, "p99_ms": 280},
        {"run": "online-single", "concurrency": 16, "texts_per_s": 38, "p99_ms": 1000, "cpu_share": share},
    ]

    def png_height(path):
        return struct.unpack(">I", path.read_bytes()[20:24])[0]

    plain = [{k: v for k, v in r.items() if k != "cpu_share"} for r in runs]
    plot([("plain", plain)], tmp_path / "plain.png")
    plot([("cpu", runs)], tmp_path / "cpu.png")
    assert png_height(tmp_path / "cpu.png") > png_height(tmp_path / "plain.png")


def test_bench_online_at_a_url_with_no_app_says_so_in_one_line_before_measuring(capsys):
    from moodwire.cli import main
    from serve_app.ingress import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["bench", "online", "--url", url, "--concurrency", "1", "--duration", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"moodwire bench: cannot reach the app at {url} (") and "\n" not in err
