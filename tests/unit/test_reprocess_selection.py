"""Which stored mentions a database source selects, and the keys that make re-runs safe."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from batch_jobs.db_source import Selection, selection_for
from storage.engine import database_identity
from storage.records import MentionRecord, RecordRules, prepare


def test_files_select_nothing_from_the_database():
    assert selection_for(["a.jsonl"], model_changed=False, current_version="v") is None


def test_db_sources_and_their_flags():
    assert selection_for(["db:pending"], model_changed=False, current_version="v") == Selection("pending")
    assert selection_for(["db:all"], model_changed=True, current_version="v2") == Selection("model_changed", "v2")


@pytest.mark.parametrize(
    ("sources", "flag", "message"),
    [
        (["db:all"], False, "db:all needs --model-changed"),
        (["db:pending"], True, "--model-changed applies to db:all"),
        (["a.jsonl"], True, "--model-changed applies to the db:all source only"),
        (["db:pending", "a.jsonl"], False, "cannot be combined"),
    ],
)
def test_bad_source_combinations_are_refused(sources, flag, message):
    with pytest.raises(ValueError, match=message):
        selection_for(sources, model_changed=flag, current_version="v")


def test_model_changed_condition_names_the_current_version():
    condition = Selection("model_changed", "emo@1+emb").condition()
    compiled = condition.compile(compile_kwargs={"literal_binds": True})
    assert "'emo@1+emb'" in str(compiled) and "model_version IS NULL" in str(compiled)


def _key(record: MentionRecord) -> str | None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    rules = RecordRules(max_text_chars=100, future_tolerance=timedelta(0))
    return prepare([record], rules=rules, now=now, require_result=False)[0].idempotency_key


def test_rows_without_id_or_time_are_keyed_by_content_only_in_bulk_jobs():
    assert _key(MentionRecord(text="same words")) is None  # online: a new mention each time
    bulk = _key(MentionRecord(text="same words", source="forum", key_by_content=True))
    assert bulk == _key(MentionRecord(text="same words", source="forum", key_by_content=True))
    assert bulk != _key(MentionRecord(text="same words", source="tw", key_by_content=True))
    assert _key(MentionRecord(text="x", external_id="e1", key_by_content=True)) == "ext:e1"


def test_database_identity_hides_passwords_and_resolves_sqlite_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert database_identity("sqlite:///data/m.db") == f"sqlite:///{tmp_path}/data/m.db"
    assert database_identity("postgresql://u:secret@h:5432/db") == "postgresql+psycopg2://u:***@h:5432/db"


@pytest.mark.slow
def test_configured_version_is_what_the_loaded_models_report():
    """db:all --model-changed compares stored versions with this string: it must not drift."""
    from inference.embedding import build_embedder
    from inference.emotion import EmotionClassifier
    from inference.language import LanguageDetector
    from inference.settings import load_pipeline_settings
    from inference.versions import pipeline_model_version

    settings = load_pipeline_settings(None)
    loaded = f"{EmotionClassifier.from_spec(settings.emotion).version}+{build_embedder(settings.embedding).version}"
    assert pipeline_model_version(settings) == f"{loaded}+{LanguageDetector().version}"  # and the detector's
