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


def with_threads(spec, threads: int | None):
    """The model spec with the stage's torch thread count (None: keep the spec's own)."""
    return spec if threads is None else spec.model_copy(update={"threads": threads})


class EmotionUDF:
    def __init__(self, pipeline_config: str | None, threads: int | None = None) -> None:
        from inference.emotion import EmotionClassifier
        from inference.settings import load_pipeline_settings

        settings = load_pipeline_settings(Path(pipeline_config) if pipeline_config else None)
        self.model = EmotionClassifier.from_spec(with_threads(settings.emotion, threads))

    def __call__(self, batch: dict) -> dict:
        ok = _valid(batch)
        probs = np.zeros((len(ok), len(self.model.labels)), dtype=np.float32)
        if ok.any():
            probs[ok] = self.model.predict_proba([t for t, good in zip(batch["text"], ok, strict=True) if good])
        batch["emotion_probs"] = probs
        return batch


class AnalysisUDF:
    """Embeddings, then sentiment and topics from both models' outputs."""

    def __init__(self, pipeline_config: str | None, threads: int | None = None) -> None:
        from inference.embedding import build_embedder
        from inference.loading import classifier_labels_and_version
        from inference.postprocess import PostProcessor
        from inference.sentiment import SentimentRule
        from inference.settings import load_pipeline_settings
        from inference.topics import TopicScorer, load_topic_file

        settings = load_pipeline_settings(Path(pipeline_config) if pipeline_config else None)
        labels, emotion_version = classifier_labels_and_version(settings.emotion.source)
        embedding = settings.embedding
        if threads is not None and embedding.backend == "local":
            embedding = embedding.model_copy(update={"local": with_threads(embedding.local, threads)})
        self.embedder = build_embedder(embedding)
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


class ModelsUDF:
    """Both models and the post-processing in one actor (the ``fused`` layout).

    On CPUs this keeps every actor busy: two stages in separate actors run at the pace of
    the slower one while the faster one's core idles, and each block waits for a whole
    stage before moving on. On GPUs the staged layout gives each model its own share.
    """

    def __init__(self, pipeline_config: str | None, threads: int | None = None) -> None:
        self.emotion = EmotionUDF(pipeline_config, threads)
        self.analysis = AnalysisUDF(pipeline_config, threads)

    def __call__(self, batch: dict) -> dict:
        return self.analysis(self.emotion(batch))


class WriteUDF:
    """The aggregator stage: one transaction per batch, through its own pooled engine, or
    through the running Serve app's Aggregator (``serve_app``) so the job adds no
    connections of its own to the database."""

    def __init__(self, database_url: str, pipeline_config: str | None, serve_app: str | None = None) -> None:
        from serve_app.metrics import BackfillMetrics

        self.metrics = BackfillMetrics()
        if serve_app:
            from ray import serve

            self.aggregator = serve.get_deployment_handle("Aggregator", app_name=serve_app)
            self.service = None
        else:
            from storage.factory import open_service

            self.aggregator = None
            self.service = open_service(
                database_url, pipeline_config=Path(pipeline_config) if pipeline_config else None
            )

    def __call__(self, batch: dict) -> dict:
        records, failed, failed_stored = batch_records(batch)
        if self.aggregator is not None:
            counts = self.aggregator.store_job_batch.remote(records, failed, failed_stored).result()
        else:
            counts = self.service.store_job_batch(records, failed, failed_stored)
        self.metrics.observe(counts["stored"], counts["duplicates"], counts["failed"])
        return {key: np.array([value]) for key, value in counts.items()}


def batch_records(batch: dict) -> tuple[list, list, list]:
    """Split a model-stage batch into classified records, failed new rows, failed stored ids."""
    from inference.schemas import MentionResult
    from storage.records import MentionRecord

    records, failed, failed_stored = [], [], []
    stored_ids = batch.get("mention_id")
    for i, text in enumerate(batch["text"]):
        if batch["error"][i] and stored_ids is not None:  # a stored mention: mark it, add nothing
            failed_stored.append((int(stored_ids[i]), str(batch["error"][i])))
            continue
        fields = {
            "external_id": _optional(batch, "external_id", i),
            "created_at": _optional(batch, "created_at", i),
            "source": _optional(batch, "source", i),
            "key_by_content": stored_ids is None,  # re-running a file stores each row once
        }
        if batch["error"][i]:
            failed.append(
                (MentionRecord(text=text if isinstance(text, str) else None, **fields), str(batch["error"][i]))
            )
            continue
        records.append(
            MentionRecord(
                text=text,
                **fields,
                result=MentionResult.from_dict(json.loads(batch["result"][i])),
                embedding=np.asarray(batch["embedding"][i], dtype=np.float32),
                model_version=str(batch["model_version"][i]),
                mention_id=int(stored_ids[i]) if stored_ids is not None else None,
            )
        )
    return records, failed, failed_stored


def _optional(batch: dict, column: str, index: int) -> str | None:
    if column not in batch:
        return None
    value = batch[column][index]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    return str(value)
