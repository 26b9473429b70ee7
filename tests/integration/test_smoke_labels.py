"""The labelled smoke set (``tests/smoke/labels.tsv``) through the default models, and its
Spanish and German tweets through storage: their language, ``language_supported: false`` and
no rollup contribution. Loads the real default models (marked slow)."""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from inference.pipeline import MentionPipeline
from inference.schemas import TopicScore
from inference.settings import load_pipeline_settings
from storage.engine import create_database_engine
from storage.migrate import upgrade
from storage.models import Mention, TopicRollup
from storage.records import MentionRecord
from storage.service import AggregationService
from storage.settings import StorageSettings

pytestmark = pytest.mark.slow

SMOKE = Path(__file__).resolve().parents[1] / "smoke" / "labels.tsv"
GIVEN = {
    "Three hours on the tarmac and still no update": "negative",
    "Thanks for the quick refund, great service": "positive",
    "The debate starts at 9pm on channel 4": "neutral",
}


def smoke_rows() -> list[tuple[str, str, str]]:
    with SMOKE.open(encoding="utf-8", newline="") as handle:
        return [tuple(row) for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE) if row]


@pytest.fixture(scope="module")
def pipeline() -> MentionPipeline:
    settings = load_pipeline_settings()
    settings = settings.model_copy(update={"emotion": settings.emotion.model_copy(update={"threads": 2})})
    return MentionPipeline.from_settings(settings)


@pytest.fixture(scope="module")
def analysed(pipeline):
    rows = smoke_rows()
    return rows, pipeline.analyse([text for _, _, text in rows])


def predicted(output: str, result) -> str:
    return {"sentiment": result.sentiment.label, "emotion": result.emotion.label, "language": result.language}[output]


def test_smoke_set_is_big_enough_and_holds_the_given_examples():
    rows = smoke_rows()
    counts = Counter(out for out, _, _ in rows)
    assert min(counts["sentiment"], counts["emotion"], counts["language"]) >= 12
    assert all(("sentiment", label, text) in rows for text, label in GIVEN.items())


@pytest.mark.parametrize("output", ["sentiment", "emotion", "language"])
def test_default_models_get_the_smoke_set_right(analysed, output):
    rows, analyses = analysed
    misses = [
        (expected, predicted(out, a.result), text)
        for (out, expected, text), a in zip(rows, analyses, strict=True)
        if out == output and predicted(out, a.result) != expected
    ]
    total = sum(1 for out, _, _ in rows if out == output)
    assert len(misses) <= 1, f"{len(misses)} of {total} wrong: {misses}"
    for (_out, expected, text), a in zip(rows, analyses, strict=True):
        if text in GIVEN:
            assert a.result.sentiment.label == expected, text


def test_sentiment_comes_from_the_head(analysed):
    _, analyses = analysed
    for a in analyses:
        scores = a.result.sentiment.scores
        assert scores is not None and set(scores) == {"negative", "neutral", "positive"}
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert a.result.sentiment.score == pytest.approx(scores["positive"] - scores["negative"], abs=1e-5)


def test_spanish_and_german_tweets_are_stored_but_not_rolled_up(analysed, pipeline, tmp_path):
    rows, analyses = analysed
    foreign = [(text, a) for (out, expected, text), a in zip(rows, analyses, strict=True) if expected in ("es", "de")]
    english = [(text, a) for (out, expected, text), a in zip(rows, analyses, strict=True) if expected == "en"]
    assert len(foreign) >= 4 and english
    for _, a in foreign:
        assert a.result.language in ("es", "de") and a.result.language_supported is False
    engine = create_database_engine(f"sqlite:///{tmp_path}/smoke.db")
    upgrade(engine)
    service = AggregationService(engine, settings=StorageSettings(cache_ttl_s=0))
    # Every text tagged with one topic, so a counted mention would show up in the rollups.
    records = [
        MentionRecord(
            text=text,
            external_id=f"smoke-{i}",
            created_at="2026-11-20T09:00:00Z",
            result=dataclasses.replace(a.result, topics=[TopicScore(key="economy", score=0.5)]),
            embedding=np.asarray(a.embedding),
            model_version=pipeline.model_version,
        )
        for i, (text, a) in enumerate(foreign + english)
    ]
    service.ingest(records)
    with engine.connect() as c:
        stored = dict(c.execute(select(Mention.external_id, Mention.language)).all())
        counted = c.execute(select(func.coalesce(func.sum(TopicRollup.count), 0))).scalar()
    assert [stored[f"smoke-{i}"] for i in range(len(foreign))] == [a.result.language for _, a in foreign]
    assert counted == len(english)  # one hour bucket: the Spanish and German tweets add nothing
