"""The backfill's Ray Data UDFs called directly (no Ray): same results as the core pipeline."""

import json

import numpy as np
import pytest

from batch_jobs.config import BackfillSettings
from batch_jobs.sources import SourceError, resolve_sources
from batch_jobs.udfs import AnalysisUDF, EmotionUDF, validate_batch
from inference.pipeline import MentionPipeline
from inference.settings import load_pipeline_settings

TEXTS = ["I am furious about the tax hike", "", "Polls open at 7am, go vote", "x" * 10]


def test_udfs_give_the_same_results_as_the_core_pipeline():
    batch = {"text": np.array(TEXTS, dtype=object)}
    batch = validate_batch(batch, max_text_chars=100_000)
    assert list(batch["error"]) == ["", "text is empty", "", ""]
    batch = AnalysisUDF(None)(EmotionUDF(None)(batch))
    core = MentionPipeline.from_settings(load_pipeline_settings())
    expected = core.analyse([t for t in TEXTS if t])
    got = [json.loads(r) for r in batch["result"] if r]
    assert got == [a.result.to_dict() for a in expected]
    np.testing.assert_allclose(np.asarray(batch["embedding"])[[0, 2, 3]], [a.embedding for a in expected], atol=1e-6)
    assert batch["result"][1] == "" and set(batch["model_version"]) == {core.model_version}


def test_sources_are_checked_before_any_work(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n', encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"text": "y"}\n', encoding="utf-8")
    (tmp_path / "c.csv").write_text("text\nz\n", encoding="utf-8")
    kind, paths = resolve_sources([str(tmp_path / "*.jsonl")])
    assert kind == "json" and [p.split("/")[-1] for p in paths] == ["a.jsonl", "b.jsonl"]
    with pytest.raises(SourceError, match="no such file"):
        resolve_sources([str(tmp_path / "missing.jsonl")])
    with pytest.raises(SourceError, match="same format"):
        resolve_sources([str(tmp_path / "a.jsonl"), str(tmp_path / "c.csv")])
    (tmp_path / "d.txt").write_text("x\n", encoding="utf-8")
    with pytest.raises(SourceError, match="unsupported extension"):
        resolve_sources([str(tmp_path / "d.txt")])


def test_backfill_settings_validate_pool_sizes():
    with pytest.raises(ValueError, match="max_size must be at least min_size"):
        BackfillSettings.model_validate({"emotion": {"min_size": 2, "max_size": 1}})
    with pytest.raises(ValueError, match="extra"):
        BackfillSettings.model_validate({"emotoin": {}})


def test_a_submitted_job_refuses_a_relative_or_default_sqlite_file(monkeypatch):
    from batch_jobs.backfill import JOB_ENV, check_job_database

    monkeypatch.delenv("MOODWIRE_DATABASE_URL", raising=False)
    check_job_database(None)  # not under a job: the embedded default is fine
    monkeypatch.setenv(JOB_ENV, "{}")
    with pytest.raises(ValueError, match="give --database-url"):
        check_job_database(None)
    with pytest.raises(ValueError, match="must be absolute"):
        check_job_database("sqlite:///data/moodwire.db")
    check_job_database("sqlite:////srv/moodwire/moodwire.db")
    check_job_database("postgresql+psycopg2://user@db/moodwire")
