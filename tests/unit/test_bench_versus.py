"""``moodwire bench versus``: alternating rounds against another server, median ratios."""

from __future__ import annotations

import argparse

import pytest

from moodwire.bench import versus
from serve_app.ingress import free_port


def test_rounds_alternate_and_the_summary_takes_median_ratios(monkeypatch):
    rates = {
        ("other", "embeddings"): [30.0, 40.0],
        ("app", "single"): [45.0, 50.0],
        ("app", "embeddings"): [90.0, 80.0],
    }
    calls = []

    def fake_load(url, texts, *, concurrency, mode, duration):
        server = "other" if url == "http://other" else "app"
        calls.append((server, mode, concurrency))
        rate = rates[(server, mode)].pop(0)
        return {"run": f"online-{mode}", "concurrency": concurrency, "texts_per_s": rate}

    monkeypatch.setattr(versus, "load", fake_load)
    args = argparse.Namespace(versus_url="http://other/", url="http://app", concurrency=None, duration=1.0)
    runs = versus.bench_versus(args, ["a text"])
    assert [c[:2] for c in calls] == [("other", "embeddings"), ("app", "single"), ("app", "embeddings")] * 2
    assert {c[2] for c in calls} == {16}
    summary = runs[-1]
    assert summary["classify_vs_other"] == pytest.approx((45 / 30 + 50 / 40) / 2, abs=1e-3)
    assert summary["embeddings_vs_other"] == pytest.approx((90 / 30 + 80 / 40) / 2, abs=1e-3)
    assert summary["other_embeddings_texts_per_s"] == 35.0


def test_an_other_server_that_does_not_answer_is_named_in_one_line(capsys):
    from moodwire.cli import main

    url = f"http://127.0.0.1:{free_port()}"
    assert main(["bench", "versus", "--versus-url", url, "--texts", "5"]) == 1
    err = capsys.readouterr().err
    assert f"--versus-url {url}: no answer from {url}/v1/embeddings" in err and "Traceback" not in err
