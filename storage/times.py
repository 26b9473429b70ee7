"""Checking and resolving the times and zones a read query names, once per path.

Every message names the parameter, so an HTTP client and a CLI user read the same words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storage.errors import InvalidTimeError, QueryError

MAX_BASELINE_DAYS = 3650
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def check_days(days: int) -> None:
    """A baseline of 1 to ``MAX_BASELINE_DAYS`` days (longer ones overflow dates, and mean nothing)."""
    if not 1 <= days <= MAX_BASELINE_DAYS:
        raise QueryError(f"days must be between 1 and {MAX_BASELINE_DAYS}, got {days}")


def parse_tz(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def aware(moment: datetime | None, default: datetime, name: str) -> datetime:
    """``moment`` with UTC for a naive one, or ``default``; ``InvalidTimeError`` naming
    ``name`` outside [EARLIEST, LATEST): a default range of days before year 1, or a zone
    offset past year 9999, would overflow."""
    if moment is None:
        return default
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        in_range = EARLIEST <= moment < LATEST
    except OverflowError:
        in_range = False
    if not in_range:
        raise InvalidTimeError(f"{name} must be between 1970-01-01 and 2200-01-01", param=name)
    return moment


def utc_naive(moment: datetime) -> datetime:
    """Aware -> naive UTC, the storage convention (``storage.models``)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def iso_utc(moment: datetime) -> str:
    """A naive UTC time from the database as the answers' ISO string."""
    return moment.replace(tzinfo=UTC).isoformat()
