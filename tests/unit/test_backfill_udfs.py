"""The backfill's Ray Data UDFs called directly (no Ray): same results as the core pipeline."""

from datetime import timedelta

import numpy as np
import pytest

from batch_jobs.config import BackfillSettings
from batch_jobs.sources import SourceError, resolve_sources
from batch_jobs.udfs import AnalysisUDF, EmotionUDF, batch_records, validate_batch
from inference.pipeline import MentionPipeline
from inference.settings import load_pipeline_settings
from storage.records import RecordRules
from storage.result_columns import ResultColumns

TEXTS = ["I am furious about the tax hike", "", "Polls open at 7am, go vote", "x" * 10]


@pytest.mark.slow
def test_staged_udfs_with_the_default_models_give_the_core_pipelines_results():
    batch = {"text": np.array(TEXTS, dtype=object)}
    batch = validate_batch(batch, rules=RecordRules.default())
    assert list(batch["error"]) == ["", "text is empty", "", ""]
    batch = AnalysisUDF(None)(EmotionUDF(None)(batch))
    core = MentionPipeline.from_settings(load_pipeline_settings())
    expected = core.analyse([t for t in TEXTS if t])
    records, failed, _ = batch_records(batch, ResultColumns.for_outputs(core.emotion.labels))
    assert [r.result.to_dict() for r in records] == [a.result.to_dict() for a in expected]
    np.testing.assert_allclose([r.embedding for r in records], [a.embedding for a in expected], atol=1e-6)
    assert [reason for _, reason in failed] == ["text is empty"]
    assert {r.model_version for r in records} == {core.model_version}


def test_the_validate_stage_applies_storages_rules_once():
    rules = RecordRules(max_text_chars=10, future_tolerance=timedelta(0))
    batch = {
        "text": np.array(["ok", "x" * 11, "ok", None, "ok"], dtype=object),
        "created_at": np.array([None, None, "2999-01-01", None, float("nan")], dtype=object),
        "external_id": np.array(["a", "b", "c", "d", "e" * 300], dtype=object),
    }
    errors = list(validate_batch(batch, rules=rules)["error"])
    assert errors[0] == "" and errors[1].startswith("text is 11 characters long")
    assert "is in the future" in errors[2] and errors[3] == "text must be a string, got NoneType"
    assert errors[4] == "external_id must be 1 to 256 characters"


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
    from batch_jobs.cli import JOB_ENV, check_job_database

    monkeypatch.delenv("MOODWIRE_DATABASE_URL", raising=False)
    check_job_database(None)  # not under a job: the embedded default is fine
    monkeypatch.setenv(JOB_ENV, "{}")
    with pytest.raises(ValueError, match="give --database-url"):
        check_job_database(None)
    with pytest.raises(ValueError, match="must be absolute"):
        check_job_database("sqlite:///data/moodwire.db")
    check_job_database("sqlite:////srv/moodwire/moodwire.db")
    check_job_database("postgresql+psycopg2://user@db/moodwire")


def test_a_batch_write_is_sent_again_while_the_failure_is_temporary_and_only_then():
    from ray.exceptions import ActorDiedError

    from batch_jobs.udfs import retrying
    from storage.errors import DatabaseUnavailableError, StorageError

    failures = [ActorDiedError(), DatabaseUnavailableError("cannot reach the database")]
    calls = []

    def flaky():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return {"stored": 3}

    assert retrying(flaky, first_wait_s=0.01) == {"stored": 3} and len(calls) == 3

    def broken():  # not temporary: raised at once, never sent again
        calls.append(1)
        raise StorageError("ingest failed in the database and was rolled back")

    calls.clear()
    with pytest.raises(StorageError):
        retrying(broken, first_wait_s=0.01)
    assert len(calls) == 1

    def dead():
        raise ActorDiedError()

    with pytest.raises(ActorDiedError):  # and a temporary failure that lasts is reported
        retrying(dead, within_s=0.05, first_wait_s=0.01)
