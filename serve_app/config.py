"""Typed ``args`` of the Serve application (``configs/serve.yaml``) and per-model batch knobs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

TEXTS_PER_CALL = 16  # texts reach a model batcher in chunks of this size
# The batching defaults, written once: 64 texts per forward batch is fastest on CPUs, and a
# 5 ms wait lets concurrent single-text requests share a batch (docs/PERFORMANCE.md).
DEFAULT_MAX_BATCH_SIZE = 64
DEFAULT_BATCH_WAIT_S = 0.005
# Past about 4,000 characters a text needs four or more 256-token windows of the embedder; an
# article of 14,000 characters needs about 15 per model, which every text batched with it waited for.
DEFAULT_LONG_TEXT_CHARS = 4000


class BatchConfig(BaseModel):
    """``user_config`` of EmotionModel and EmbeddingModel: changeable without a restart."""

    model_config = ConfigDict(extra="forbid")

    max_batch_size: int = Field(default=DEFAULT_MAX_BATCH_SIZE, ge=TEXTS_PER_CALL, description="texts per batch")
    batch_wait_timeout_s: float = Field(default=DEFAULT_BATCH_WAIT_S, ge=0, le=5)
    long_text_chars: int = Field(
        default=DEFAULT_LONG_TEXT_CHARS,
        ge=0,
        description="texts longer than this run in the long lane, one at a time, beside the batches (0: off)",
    )


class ColocatedBatchConfig(BatchConfig):
    """``user_config`` of Gateway with ``model_layout: colocated``: its models' batching, and
    how many texts may wait for them before new requests get 503 with ``Retry-After``."""

    max_queued_texts: int = Field(default=4096, ge=1, description="texts waiting for the models, per replica")


class ServeAppArgs(BaseModel):
    """What ``build_app`` takes; secrets (API key, database URL) come from the environment."""

    model_config = ConfigDict(extra="forbid")

    pipeline_config: Path | None = Field(default=None, description="default: configs/moodwire.yaml")
    storage_config: Path | None = Field(default=None, description="default: configs/storage.yaml")
    alerts_config: Path | None = Field(default=None, description="default: configs/alerts.yaml (no file: no alerts)")
    database_url: str | None = Field(default=None, description="default: $MOODWIRE_DATABASE_URL or SQLite")
    embedding_model_name: str = "all-MiniLM-L6-v2"
    max_texts_per_request: int = Field(default=2048, ge=1)
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    result_cache: str = Field(default="memory", pattern="^(memory|redis|none)$")
    redis_url: str = "redis://127.0.0.1:6379/0"
    cache_size: int = Field(default=10_000, ge=0)
    cache_ttl_s: int = Field(default=7 * 86400, ge=1, description="Redis entry lifetime")
    retry_after_s: int = Field(default=1, ge=1)
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins whose pages may call the API from a browser (CORS); empty: none (the default)",
    )
    shutdown_grace_s: float = Field(
        default=20.0,
        ge=0,
        le=600,
        description="on SIGTERM, how long requests in flight may take to finish before the app stops",
    )
    model_layout: Literal["deployments", "colocated"] = Field(
        default="colocated",
        description=(
            "colocated (the default, as configs/serve.yaml ships it): both models run inside each Gateway "
            "replica (small CPU machines); deployments: EmotionModel and EmbeddingModel scale apart (GPUs, clusters)"
        ),
    )
