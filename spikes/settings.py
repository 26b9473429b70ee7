"""Spike detection settings: the schema lives beside the code that owns it (config wiring later)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Every kind a spike can have: a topic's volume, its negative share, an emotion label's share.
SPIKE_KIND = re.compile(r"volume|sentiment:negative|emotion:[a-z][a-z_]*")


class SpikeSettings(BaseModel):
    """What counts as a spike. A spike needs all of: ``q_value <= alpha``, ``count >= min_count``
    and ``lift >= min_lift`` (mix shifts: the share rule in ``spikes.mix``)."""

    model_config = ConfigDict(extra="forbid")

    alpha: float = Field(default=0.01, gt=0, lt=1, description="false-alarm budget, see alpha_span_hours")
    alpha_span_hours: int = Field(
        default=168,
        ge=1,
        description=(
            "hours of buckets that alpha covers: each bucket's Benjamini-Hochberg step runs at "
            "alpha / alpha_span_hours, so quiet data gives a false spike (any topic, any kind) in at most "
            "about alpha of such spans; 1 = alpha per bucket"
        ),
    )
    min_count: int = Field(default=5, ge=1, description="mentions (of the label, for mix shifts) in the bucket")
    min_lift: float = Field(default=2.0, ge=1.0, description="observed / expected")
    timezone: str = Field(default="UTC", description="IANA zone of the hour-of-day and day-of-week effects")
    grace_minutes: int = Field(default=10, ge=0, description="a bucket is scored this long after it ends")
    baseline_days: int = Field(default=28, ge=7, le=366, description="days before a bucket that its baseline fits")
    guard_hours: int = Field(default=2, ge=0, le=48, description="hours right before a bucket left out of its fit")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
        return name

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)
