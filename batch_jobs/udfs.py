"""Ray Data UDFs: load once per actor in ``__init__``, map a column batch in ``__call__``.

They call the same core code as the online path (``EmotionClassifier.predict_proba``,
``TextEmbedder.embed``, ``PostProcessor.analyses``), so the same texts give the same
results. Model actors never open database pools; only ``WriteUDF`` does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from inference.pipeline import text_problem
from storage.records import parse_timestamp


def row_problem(text: object, created_at: object, *, max_text_chars: int, now: datetime) -> str:
    """Why a row cannot be stored ('' when it can): the checks ingest would refuse it for."""
    problem = text_problem(text, max_text_chars)
    if problem:
        return f"text {problem}"
    if created_at is not None and not (isinstance(created_at, float) and np.isnan(created_at)) and created_at != "":
        try:
            parse_timestamp(str(created_at), now=now, future_tolerance=timedelta(minutes=5))
        except ValueError as exc:
            return str(exc)
    return ""


def validate_batch(batch: dict, *, max_text_chars: int) -> dict:
    """Add an ``error`` column, so bad rows are recorded as failed instead of stopping the job."""
    now = datetime.now(UTC)
    created = batch.get("created_at", [None] * len(batch["text"]))
    batch["error"] = np.array(
        [
            row_problem(t, c, max_text_chars=max_text_chars, now=now)
            for t, c in zip(batch["text"], created, strict=True)
        ],
        dtype=object,
    )
    return batch


def _valid(batch: dict) -> np.ndarray:
    return np.array([not e for e in batch["error"]], dtype=bool)


class EmotionUDF:
    def __init__(self, pipeline_config: str | None) -> None:
        from inference.emotion import EmotionClassifier
        from inference.settings import load_pipeline_settings

        settings = load_pipeline_settings(Path(pipeline_config) if pipeline_config else None)
        self.model = EmotionClassifier.from_spec(settings.emotion)

    def __call__(self, batch: dict) -> dict:
        ok = _valid(batch)
        probs = np.zeros((len(ok), len(self.model.labels)), dtype=np.float32)
        if ok.any():
            probs[ok] = self.model.predict_proba([t for t, good in zip(batch["text"], ok, strict=True) if good])
        batch["emotion_probs"] = probs
        return batch


class AnalysisUDF:
    """Embeddings, then sentiment and topics from both models' outputs."""

    def __init__(self, pipeline_config: str | None) -> None:
        from inference.embedding import build_embedder
        from inference.loading import classifier_labels_and_version
        from inference.postprocess import PostProcessor
        from inference.sentiment import SentimentRule
        from inference.settings import load_pipeline_settings
        from inference.topics import TopicScorer, load_topic_file

        settings = load_pipeline_settings(Path(pipeline_config) if pipeline_config else None)
        labels, emotion_version = classifier_labels_and_version(settings.emotion.source)
        self.embedder = build_embedder(settings.embedding)
        self.model_version = f"{emotion_version}+{self.embedder.version}"  # as MentionPipeline
        topics = TopicScorer(load_topic_file(settings.resolved_topics_file()), self.embedder)
        self.postprocess = PostProcessor(
            labels=labels, sentiment=SentimentRule(settings.sentiment, labels), topics=topics
        )

    def __call__(self, batch: dict) -> dict:
        ok = _valid(batch)
        results = np.array([""] * len(ok), dtype=object)
        vectors = np.zeros((len(ok), self.embedder.dim or 1), dtype=np.float32)
        if ok.any():
            texts = [t for t, good in zip(batch["text"], ok, strict=True) if good]
            embedded = self.embedder.embed(texts)
            analyses = self.postprocess.analyses(np.asarray(batch["emotion_probs"])[ok], embedded)
            results[ok] = [json.dumps(a.result.to_dict()) for a in analyses]
            vectors = np.zeros((len(ok), embedded.shape[1]), dtype=np.float32)
            vectors[ok] = embedded
        batch["result"] = results
        batch["embedding"] = vectors
        batch["model_version"] = np.array([self.model_version] * len(ok), dtype=object)
        del batch["emotion_probs"]
        return batch


class WriteUDF:
    """The aggregator stage: its own pooled engine, one transaction per batch."""

    def __init__(self, database_url: str, pipeline_config: str | None) -> None:
        from storage.factory import open_service

        self.service = open_service(database_url, pipeline_config=Path(pipeline_config) if pipeline_config else None)

    def __call__(self, batch: dict) -> dict:
        from inference.schemas import MentionResult
        from storage.records import MentionRecord

        records, failed, failed_stored = [], [], []
        stored_ids = batch.get("mention_id")
        for i, text in enumerate(batch["text"]):
            if batch["error"][i] and stored_ids is not None:  # a stored mention: mark it, add nothing
                failed_stored.append((int(stored_ids[i]), str(batch["error"][i])))
                continue
            if batch["error"][i]:
                row = MentionRecord(
                    text=text if isinstance(text, str) else None,
                    external_id=_optional(batch, "external_id", i),
                    created_at=_optional(batch, "created_at", i),
                    source=_optional(batch, "source", i),
                )
                failed.append((row, str(batch["error"][i])))
                continue
            records.append(
                MentionRecord(
                    text=text,
                    external_id=_optional(batch, "external_id", i),
                    created_at=_optional(batch, "created_at", i),
                    source=_optional(batch, "source", i),
                    result=MentionResult.from_dict(json.loads(batch["result"][i])),
                    embedding=np.asarray(batch["embedding"][i], dtype=np.float32),
                    model_version=str(batch["model_version"][i]),
                    mention_id=int(stored_ids[i]) if stored_ids is not None else None,
                )
            )
        report = self.service.ingest(records) if records else None
        if failed:
            self.service.record_failed(failed)
        self.service.mark_failed(failed_stored)
        return {
            "read": np.array([len(batch["text"])]),
            "stored": np.array([report.inserted + report.updated if report else 0]),
            "duplicates": np.array([report.duplicates if report else 0]),
            "failed": np.array([len(failed) + len(failed_stored)]),
        }


def _optional(batch: dict, column: str, index: int) -> str | None:
    if column not in batch:
        return None
    value = batch[column][index]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    return str(value)


def read_pending_range(batch: dict, *, database_url: str) -> dict:
    """Read one id range of pending mentions (a short-lived connection per task)."""
    from sqlalchemy import select

    from storage.engine import create_database_engine
    from storage.models import Mention

    engine = create_database_engine(database_url)
    columns = {"mention_id": [], "text": [], "external_id": [], "created_at": [], "source": []}
    try:
        with engine.connect() as connection:
            for lo, hi in zip(batch["lo"], batch["hi"], strict=True):
                rows = connection.execute(
                    select(Mention.id, Mention.text, Mention.external_id, Mention.created_at, Mention.source)
                    .where(Mention.processing_status == "pending", Mention.id >= int(lo), Mention.id < int(hi))
                    .order_by(Mention.id)
                )
                for mention_id, text, external_id, created_at, source in rows:
                    columns["mention_id"].append(mention_id)
                    columns["text"].append(text)
                    columns["external_id"].append(external_id)
                    columns["created_at"].append(created_at.isoformat() + "+00:00")
                    columns["source"].append(source)
    finally:
        engine.dispose()
    return {k: np.array(v, dtype=object if k != "mention_id" else np.int64) for k, v in columns.items()}
