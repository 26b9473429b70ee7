"""Backfill settings (``configs/backfill.yaml``), validated with messages naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inference.config_files import load_settings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActorPool(_Strict):
    min_size: int = Field(default=1, ge=1)
    max_size: int = Field(default=1, ge=1)
    num_cpus: float = Field(default=0.5, gt=0)
    num_gpus: float = Field(default=0, ge=0)
    threads: int | None = Field(
        default=None, ge=1, description="torch CPU threads per actor; default: its CPUs rounded, at least 1"
    )

    def torch_threads(self) -> int:
        """Explicit, because Ray sets OMP_NUM_THREADS=1 for fractional CPUs and a model
        would otherwise take every core and fight the other stage's actors for them."""
        return self.threads or max(1, round(self.num_cpus))

    @model_validator(mode="after")
    def _ordered(self) -> ActorPool:
        if self.max_size < self.min_size:
            raise ValueError("max_size must be at least min_size")
        return self


class Columns(_Strict):
    """Source column names for each field the backfill reads."""

    text: str = "text"
    external_id: str = "external_id"
    created_at: str = "created_at"
    source: str = "source"


class BackfillSettings(_Strict):
    batch_size: int = Field(default=1024, ge=1, description="rows per model call")
    write_batch_size: int = Field(default=500, ge=1, description="rows per database transaction")
    layout: Literal["fused", "staged"] = Field(
        default="fused", description="fused: one actor pool runs both models; staged: one pool per model"
    )
    models: ActorPool = ActorPool(min_size=2, max_size=2, num_cpus=0.7)  # the fused layout's pool
    emotion: ActorPool = ActorPool()  # the staged layout's pools
    analysis: ActorPool = ActorPool()
    writer: ActorPool = ActorPool(num_cpus=0.25)
    block_bytes: int = Field(
        default=64 * 1024, ge=4096, description="Ray Data block size target: about one batch of rows"
    )
    db_range_size: int = Field(default=10_000, ge=1, description="ids per read of db:pending")
    io_num_cpus: float = Field(default=0.25, gt=0, description="CPUs per read/validate task")
    columns: Columns = Columns()
    pipeline_config: Path | None = None
    write_through: Literal["auto", "serve", "own"] = Field(
        default="auto", description="auto: the running Serve app's Aggregator when it writes to the same database"
    )
    serve_app: str = Field(default="moodwire", description="the Serve application to write through")


def load_backfill_settings(path: Path | None = None) -> BackfillSettings:
    return load_settings(BackfillSettings, path, default_name="backfill.yaml")
