"""The read queries, each parameter list written once: the Gateway takes them as query
parameters (FastAPI reads a model's fields), the CLI builds its flags from them
(``moodwire.commands.query_args``), and the Aggregator and the readers receive them.

Light on purpose (pydantic and the standard library only): the Gateway and the CLI import
it without SQLAlchemy. Fields hold what the caller gave; the readers validate the values
(windows, time zones, ranges, filters) and raise storage's domain errors naming the
parameter, once per path, so an HTTP client and a CLI user get the same message.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

WINDOWS = ("hour", "day")
SENTIMENTS = ("positive", "neutral", "negative")
MAX_PAGE = 1000


class _Query(BaseModel):
    """Frozen, so a query is a value; unknown query parameters are ignored, as before."""

    model_config = ConfigDict(frozen=True)


class Window(_Query):
    """Buckets of an hour or a day between ``since`` and ``until``, in a time zone."""

    window: str = Field(default="hour", description="hour or day", json_schema_extra={"enum": list(WINDOWS)})
    since: datetime | None = Field(default=None, description="ISO 8601; default: 7 days (hour) or 30 days before until")
    until: datetime | None = Field(default=None, description="ISO 8601; default: now")
    tz: str = Field(default="UTC", description="IANA time zone of day buckets, e.g. Europe/Berlin")


class RangeQuery(Window):
    """One topic's buckets (``aggregate``, ``timeline``)."""

    topic: str


class TrendsQuery(_Query):
    """Every topic's last complete window against the ``days`` before it."""

    window: str = Field(default="day", description="hour or day", json_schema_extra={"enum": list(WINDOWS)})
    days: int = Field(default=30, description="days of baseline")
    tz: str = Field(default="UTC", description="IANA time zone of day windows")


class MentionFilter(_Query):
    """What a listing or an export of a topic's mentions matches (``GET /v1/mentions``).

    Without ``language`` or ``include_unsupported`` only the mentions the rollups count are
    matched, so a listing agrees with its topic's aggregates."""

    topic: str
    since: datetime | None = Field(default=None, description="ISO 8601, posting time")
    until: datetime | None = Field(default=None, description="ISO 8601, posting time")
    sentiment: str | None = Field(
        default=None, description="positive, neutral or negative", json_schema_extra={"enum": list(SENTIMENTS)}
    )
    emotion: str | None = Field(default=None, description="an emotion label, e.g. anger")
    source: str | None = None
    language: str | None = Field(default=None, description="ISO 639-1 code, or und: only mentions in this language")
    include_unsupported: bool = Field(
        default=False, description="also mentions in languages outside supported_languages (the rollups leave them out)"
    )


class MentionsQuery(MentionFilter):
    """One page of a listing: the filter, newest first, ``limit`` at a time."""

    limit: int = Field(default=50, description=f"1 to {MAX_PAGE}")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")

    def where(self) -> MentionFilter:
        return MentionFilter.model_validate(self.model_dump(exclude={"limit", "cursor"}))


class SpikeQuery(_Query):
    """Spikes in the complete hours of ``[since, until)``, filtered after detection."""

    since: datetime | None = Field(default=None, description="default: 7 days before until")
    until: datetime | None = Field(default=None, description="default: the end of the last complete hour")
    topic: str | None = None
    kind: str | None = Field(default=None, description="volume, sentiment:negative or emotion:<label>")
    min_severity: int | None = Field(default=None, description="1 to 10")


class AlertsQuery(_Query):
    """Recorded alerts, newest bucket first."""

    since: datetime | None = None
    topic: str | None = None
    limit: int = Field(default=100, description=f"1 to {MAX_PAGE}")


__all__ = [
    "MAX_PAGE",
    "SENTIMENTS",
    "WINDOWS",
    "AlertsQuery",
    "MentionFilter",
    "MentionsQuery",
    "RangeQuery",
    "SpikeQuery",
    "TrendsQuery",
    "Window",
]
