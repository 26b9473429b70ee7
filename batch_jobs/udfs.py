"""Ray Data UDFs: load once per actor in ``__init__``, map a column batch in ``__call__``.

validate (storage's ``record_problem``, the one check of this path) -> ``EmotionUDF`` ->
``AnalysisUDF`` (embeddings, then the shared ``PostProcessor``) -> ``WriteUDF``. Results
travel between stages as plain columns (``RESULT_COLUMNS``), not as serialised text, and the
writer stores the rows the validate stage passed without checking them again. Model actors
never open database pools; only ``WriteUDF`` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np

from batch_jobs.metrics import BackfillMetrics
from inference.postprocess import Analysis
from inference.schemas import MentionResult
from storage.records import MentionRecord, RecordRules, record_problem
from storage.result_columns import BATCH_COLUMNS, ResultColumns

# What the model stages add to a batch: the result columns of storage's one codec
# (``storage.result_columns``), the embedding and the model version; one row per input row
# (empty where ``error`` is set). ``emotion_probs`` passes from EmotionUDF to AnalysisUDF.
RESULT_COLUMNS = (*BATCH_COLUMNS, "embedding", "model_version")


def _optional(batch: dict, column: str, index: int) -> str | None:
    if column not in batch:
        return None
    value = batch[column][index]
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return None
    return str(value)


def _posting_time(batch: dict, index: int) -> str | datetime | None:
    """``created_at`` as it came: a time (stored mentions, Parquet timestamps, read as
    datetimes or numpy datetimes in UTC) or the text of a JSON or CSV file."""
    value = batch["created_at"][index] if "created_at" in batch else None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else value.astype("datetime64[us]").item().replace(tzinfo=UTC)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return _optional(batch, "created_at", index)


def _record(batch: dict, index: int, **fields) -> MentionRecord:
    text = batch["text"][index]
    return MentionRecord(
        text=text if isinstance(text, str) else None,
        external_id=_optional(batch, "external_id", index),
        created_at=_posting_time(batch, index),
        source=_optional(batch, "source", index),
        **fields,
    )


def validate_batch(batch: dict, *, rules: RecordRules) -> dict:
    """Add an ``error`` column ('' for a good row) with storage's own rules, so bad rows are
    recorded as failed instead of stopping the job, and the writer need not check again."""
    now = datetime.now(UTC)
    errors = []
    for index, text in enumerate(batch["text"]):
        record = dataclasses.replace(_record(batch, index), text=text)  # the text as read, whatever its type
        problem = record_problem(record, rules=rules, now=now)
        errors.append(" ".join(problem) if problem else "")
    batch["error"] = np.array(errors, dtype=object)
    return batch


def _valid(batch: dict) -> np.ndarray:
    return np.array([not e for e in batch["error"]], dtype=bool)


def with_threads(spec, threads: int | None):
    """The model spec with the stage's torch thread count (None: keep the spec's own)."""
    return spec if threads is None else spec.model_copy(update={"threads": threads})


def load_settings(pipeline_config: str | None):
    from inference.settings import load_pipeline_settings

    return load_pipeline_settings(Path(pipeline_config) if pipeline_config else None)


class EmotionUDF:
    def __init__(self, pipeline_config: str | None, threads: int | None = None) -> None:
        from inference.emotion import EmotionClassifier

        self.model = EmotionClassifier.from_spec(with_threads(load_settings(pipeline_config).emotion, threads))

    def __call__(self, batch: dict) -> dict:
        ok = _valid(batch)
        probs = np.zeros((len(ok), len(self.model.labels)), dtype=np.float32)
        if ok.any():
            probs[ok] = self.model.predict_proba([t for t, good in zip(batch["text"], ok, strict=True) if good])
        batch["emotion_probs"] = probs
        return batch


def analysis_columns(analyses: list[Analysis], ok: np.ndarray, dim: int, codec: ResultColumns) -> dict[str, np.ndarray]:
    """The analyses of the valid rows as result columns and an embedding column."""
    results: list[MentionResult | None] = [None] * len(ok)
    embedding = np.zeros((len(ok), dim), dtype=np.float32)
    for i, analysis in zip(np.flatnonzero(ok), analyses, strict=True):
        results[i] = analysis.result
        embedding[i] = analysis.embedding
    return codec.encode(results) | {"embedding": embedding}


class AnalysisUDF:
    """Embeddings, then sentiment, topics and language from the texts and both models' outputs."""

    def __init__(self, pipeline_config: str | None, threads: int | None = None, *, embedder=None) -> None:
        from inference.embedding import build_embedder
        from inference.loading import classifier_labels_and_version
        from inference.postprocess import PostProcessor
        from inference.versions import emotion_version, model_version

        settings = load_settings(pipeline_config)
        labels, _ = classifier_labels_and_version(settings.emotion.source)
        self.embedder = embedder if embedder is not None else build_embedder(_embedding_settings(settings, threads))
        self.postprocess = PostProcessor.from_settings(settings, labels=labels, embedder=self.embedder)
        self.codec = ResultColumns.for_outputs(labels)
        self.model_version = model_version(
            emotion_version(settings.emotion), self.embedder.version, self.postprocess.language_version
        )

    def __call__(self, batch: dict) -> dict:
        ok = _valid(batch)
        texts = [t for t, good in zip(batch["text"], ok, strict=True) if good]
        vectors = self.embedder.embed(texts) if texts else None
        return self.finish(batch, ok, texts, np.asarray(batch["emotion_probs"])[ok], vectors)

    def finish(self, batch: dict, ok: np.ndarray, texts: list[str], probs: np.ndarray, vectors) -> dict:
        """The result columns of the valid rows ``texts`` from their model outputs."""
        analyses: list[Analysis] = []
        dim = self.embedder.dim or 1
        if texts:
            dim = vectors.shape[1]
            analyses = self.postprocess.analyses(texts, probs=probs, vectors=vectors)
        batch.update(analysis_columns(analyses, ok, dim, self.codec))
        batch["model_version"] = np.array([self.model_version] * len(ok), dtype=object)
        return batch


def _embedding_settings(settings, threads: int | None):
    embedding = settings.embedding
    if threads is not None and embedding.backend == "local":
        embedding = embedding.model_copy(update={"local": with_threads(embedding.local, threads)})
    return embedding


class ModelsUDF:
    """Both models and the post-processing in one actor (the ``fused`` layout), from one
    encoder pass where the models share one (``inference.shared_encoder``).

    On CPUs this keeps every actor busy: two stages in separate actors run at the pace of
    the slower one while the faster one's core idles, and each block waits for a whole
    stage before moving on. On GPUs the staged layout gives each model its own share (and
    each stage runs its model alone: the shared pass needs both in one process).
    """

    def __init__(self, pipeline_config: str | None, threads: int | None = None) -> None:
        from inference.shared_encoder import load_models

        settings = load_settings(pipeline_config)
        settings = settings.model_copy(
            update={
                "emotion": with_threads(settings.emotion, threads),
                "embedding": _embedding_settings(settings, threads),
            }
        )
        self.models = load_models(settings)
        self.analysis = AnalysisUDF(pipeline_config, threads, embedder=self.models.embedder)

    def __call__(self, batch: dict) -> dict:
        ok = _valid(batch)
        texts = [t for t, good in zip(batch["text"], ok, strict=True) if good]
        probs, vectors = self.models.outputs(texts) if texts else (None, None)
        full = np.zeros((len(ok), len(self.models.emotion.labels)), dtype=np.float32)
        if probs is not None:
            full[ok] = probs
        batch["emotion_probs"] = full
        return self.analysis.finish(batch, ok, texts, full[ok], vectors)


class WriteUDF:
    """The aggregator stage: one transaction per batch, through its own pooled engine, or
    through the running Serve app's Aggregator (``serve_app``) so the job adds no
    connections of its own to the database."""

    def __init__(
        self, database_url: str, pipeline_config: str | None, labels: list[str], serve_app: str | None = None
    ) -> None:
        self.metrics = BackfillMetrics()
        self.codec = ResultColumns.for_outputs(labels)
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
        records, failed, failed_stored = batch_records(batch, self.codec)
        if self.aggregator is not None:
            aggregator = self.aggregator
            counts = retrying(
                lambda: aggregator.store_job_batch.remote(records, failed, failed_stored).result(
                    timeout_s=WRITE_TIMEOUT_S
                )
            )
        else:
            service = self.service
            counts = retrying(lambda: service.store_job_batch(records, failed, failed_stored))
        self.metrics.observe(counts["stored"], counts["duplicates"], counts["failed"])
        return {key: np.array([value]) for key, value in counts.items()}


WRITE_RETRY_S = 180.0
# A write through the app's Aggregator that has not answered by then is given up and sent
# again (idempotent): a call in flight on a killed replica can otherwise wait for good.
WRITE_TIMEOUT_S = 60.0
T = TypeVar("T")


def retrying(write: Callable[[], T], *, within_s: float = WRITE_RETRY_S, first_wait_s: float = 0.5) -> T:
    """``write()``, sent again while what failed is temporary: the app's Aggregator killed,
    restarting or not answering in time, or the database unreachable. A batch's write is one transaction keyed by
    idempotency keys, so sending it again never stores a row twice; after ``within_s`` the
    error stands and the job reports it."""
    import logging
    import time

    from ray.exceptions import RayActorError
    from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError, ReplicaUnavailableError

    from storage.errors import DatabaseUnavailableError

    temporary = (
        TimeoutError,  # Ray's GetTimeoutError is one
        RayActorError,
        BackPressureError,
        DeploymentUnavailableError,
        ReplicaUnavailableError,
        DatabaseUnavailableError,
    )
    deadline = time.monotonic() + within_s
    wait_s = first_wait_s
    while True:
        try:
            return write()
        except temporary as exc:
            if time.monotonic() + wait_s > deadline:
                raise
            logging.getLogger("moodwire.backfill").warning(
                "writing a batch failed (%s); sending it again in %.1f s", type(exc).__name__, wait_s
            )
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, 5.0)


def batch_records(batch: dict, codec: ResultColumns) -> tuple[list, list, list]:
    """Split a model-stage batch into classified records, failed new rows, failed stored ids."""
    records, failed, failed_stored = [], [], []
    stored_ids = batch.get("mention_id")
    for i in range(len(batch["text"])):
        error = str(batch["error"][i])
        if error and stored_ids is not None:  # a stored mention: mark it, add nothing
            failed_stored.append((int(stored_ids[i]), error))
            continue
        key_by_content = stored_ids is None  # re-running a file stores each row once
        if error:
            failed.append((_record(batch, i, key_by_content=key_by_content), error))
            continue
        records.append(
            _record(
                batch,
                i,
                key_by_content=key_by_content,
                result=codec.decode(batch, i),
                embedding=np.asarray(batch["embedding"][i], dtype=np.float32),
                model_version=str(batch["model_version"][i]),
                mention_id=int(stored_ids[i]) if stored_ids is not None else None,
            )
        )
    return records, failed, failed_stored
