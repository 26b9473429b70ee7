"""``configs/alerts.yaml``: where alerts go, which spikes each target wants, and how often.

Secrets stay out of the file: a target names the environment variable that holds its URL
(``url_env``; Slack and most webhook URLs carry a token). ``url`` is for URLs without one,
such as a receiver on the same host.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from inference.config_files import ConfigError, load_settings
from spikes.settings import SPIKE_KIND
from storage.alert_store import TargetRule

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TargetSettings(BaseModel):
    """One place alerts are pushed to, with the spikes it wants and its volume limits."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="shown in /v1/alerts")
    kind: Literal["webhook", "slack"] = Field(description="webhook: JSON POST of the spike; slack: incoming webhook")
    url_env: str | None = Field(default=None, description="environment variable holding the URL (secrets)")
    url: str | None = Field(default=None, description="the URL itself, for URLs without a secret")
    topics: list[str] | None = Field(default=None, description="only these topics (default: all)")
    kinds: list[str] | None = Field(default=None, description="only these kinds, e.g. [volume, emotion:anger]")
    min_severity: int = Field(default=1, ge=1, le=10)
    cooldown_minutes: int = Field(
        default=180, ge=0, description="no second alert for one topic and kind whose buckets lie closer than this"
    )
    daily_cap: int = Field(default=20, ge=1, description="alerts sent to this target per 24 hours at most")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="per delivery attempt")

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str] | None) -> list[str] | None:
        for kind in kinds or []:
            if not SPIKE_KIND.fullmatch(kind):
                raise ValueError(f"{kind!r} is not a spike kind (volume, sentiment:negative or emotion:<label>)")
        return kinds

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, name: str | None) -> str | None:
        if name is not None and not ENV_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        return name

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {url!r}")
        return url

    @model_validator(mode="after")
    def _one_url(self) -> TargetSettings:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url_env (an environment variable holding the URL) or url")
        return self

    def rule(self) -> TargetRule:
        """What storage applies when it records an alert for this target: its filters,
        cooldown and daily cap (``storage.alert_store.TargetRule``)."""
        return TargetRule(
            name=self.name,
            topics=tuple(self.topics) if self.topics is not None else None,
            kinds=tuple(self.kinds) if self.kinds is not None else None,
            min_severity=self.min_severity,
            cooldown_minutes=self.cooldown_minutes,
            daily_cap=self.daily_cap,
        )


class DeliverySettings(BaseModel):
    """Retries of one delivery: timeouts, connection errors, 429 and 5xx are retried with
    exponential backoff; other 4xx answers fail at once (the request itself is wrong)."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=6, ge=1, le=20)
    backoff_initial_s: float = Field(default=2.0, ge=0, le=600)
    backoff_max_s: float = Field(default=120.0, ge=0, le=3600)


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_url: str = Field(default="http://127.0.0.1:8000", description="where analysts reach the page (links)")
    recent_horizon_hours: float = Field(
        default=6, gt=0, le=168, description="only buckets that ended this recently alert (backfills never do)"
    )
    poll_seconds: float = Field(default=60, gt=0, le=3600, description="how often the watcher looks")
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    targets: list[TargetSettings] = Field(default_factory=list)

    @field_validator("public_url")
    @classmethod
    def _public_http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, got {url!r}")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSettings:
        names = [t.name for t in self.targets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"targets: names must be unique, {twice} appear more than once")
        return self


def load_alert_settings(path: Path | None = None) -> AlertSettings:
    """``path`` or ``configs/alerts.yaml``; no file at the default place means no targets."""
    return load_settings(AlertSettings, path, default_name="alerts.yaml")


def target_urls(settings: AlertSettings, source: Path | str = "alerts config") -> dict[str, str]:
    """Each target's URL, read from the environment where the file names a variable; a
    ``ConfigError`` naming the file, target and variable when one is unset or not a URL."""
    urls = {}
    for index, target in enumerate(settings.targets):
        if target.url is not None:
            urls[target.name] = target.url
            continue
        value = os.environ.get(target.url_env or "", "").strip()
        where = f"{source}: 'targets.{index}.url_env'"
        if not value:
            raise ConfigError(
                f"{where}: environment variable {target.url_env} (URL of target {target.name!r}) is unset"
            )
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: {target.url_env} does not hold an http(s) URL")
        urls[target.name] = value
    return urls
