"""Database settings (``configs/storage.yaml``); the URL itself comes from the environment."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from inference.config_files import load_settings
from spikes.settings import SpikeSettings

DATABASE_URL_ENV = "MOODWIRE_DATABASE_URL"
DATA_DIR_ENV = "MOODWIRE_DATA_DIR"


class StorageSettings(BaseModel):
    """Pool settings apply per process: budget replicas x (pool_size + max_overflow)."""

    model_config = ConfigDict(extra="forbid")

    pool_size: int = Field(default=5, ge=1)
    max_overflow: int = Field(default=5, ge=0)
    pool_pre_ping: bool = True
    pool_recycle: int = Field(default=1800, ge=-1, description="seconds; -1 disables")
    pool_timeout: float = Field(default=30.0, gt=0)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)
    cache_ttl_s: float = Field(default=300.0, ge=0, description="aggregate/baseline cache; 0 disables")
    future_tolerance_s: float = Field(default=300.0, ge=0, description="clock skew allowed for created_at")
    max_buckets: int = Field(default=20_000, ge=1, description="largest aggregate answer")
    max_export_rows: int = Field(default=100_000, ge=1, description="rows of one CSV export (X-Truncated past it)")
    spikes: SpikeSettings = Field(default_factory=SpikeSettings, description="what counts as a spike")


def load_storage_settings(path: Path | None = None) -> StorageSettings:
    return load_settings(StorageSettings, path, default_name="storage.yaml")


def default_data_dir() -> Path:
    """Where the embedded SQLite database lives: ``$MOODWIRE_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or "data")


def database_url(explicit: str | None = None) -> str:
    """``explicit`` > ``$MOODWIRE_DATABASE_URL`` > the embedded SQLite file."""
    url = explicit or os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return f"sqlite:///{(default_data_dir() / 'moodwire.db').resolve()}"
