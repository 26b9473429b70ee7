"""The ``alerts`` and ``alert_deliveries`` tables: data functions that take a connection and
leave the transaction to the caller (``storage.alert_recorder`` inside the Aggregator), and
the plain types that cross to the AlertWatcher.

An alert is recorded before anything is sent, under its unique (topic, kind, bucket), with a
delivery row per target whose filters want it. Cooldown and the daily cap are decided here,
when the alert is recorded, and stored (``suppressed`` with the reason), so a restarted
watcher never decides twice. A target's rules (``TargetRule``) are storage's to apply; where
its deliveries go is the watcher's (``alerting.settings``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, insert, select, update

from spikes import Spike
from storage.answers import AlertAnswer, DeliveryAnswer, SpikeAnswer
from storage.models import Alert, AlertDelivery
from storage.times import iso_utc

PENDING, DELIVERED, FAILED, SUPPRESSED = "pending", "delivered", "failed", "suppressed"
STATES = (PENDING, DELIVERED, FAILED, SUPPRESSED)
SENT_OR_SENDING = (PENDING, DELIVERED, FAILED)  # what cooldowns and caps count


@dataclass(frozen=True)
class TargetRule:
    """Which spikes a target wants and how many: what recording an alert decides."""

    name: str
    topics: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    min_severity: int = 1
    cooldown_minutes: int = 180
    daily_cap: int = 20

    def wants(self, *, topic: str, kind: str, severity: int) -> bool:
        """Whether this target's filters let a spike through."""
        return (
            severity >= self.min_severity
            and (self.topics is None or topic in self.topics)
            and (self.kinds is None or kind in self.kinds)
        )


@dataclass(frozen=True)
class AlertRound:
    """One call of the watcher: record the spikes of the buckets that ended within
    ``recent_horizon_hours`` that some target wants (older buckets, a backfill's, never alert)."""

    targets: tuple[TargetRule, ...]
    recent_horizon_hours: float


def naive_utc(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment is not None else None


def alert_key(topic: str, kind: str, bucket_start: datetime | str) -> str:
    """The idempotency key of an alert: the same for every attempt, restart and target."""
    return f"moodwire:{topic}:{kind}:{naive_utc(bucket_start).replace(tzinfo=UTC).isoformat()}"


def _suppression(
    connection: Connection, target: TargetRule, *, topic: str, kind: str, bucket: datetime, now: datetime
) -> str | None:
    """Why ``target`` must not get this alert now (cooldown, daily cap), or None."""
    if target.cooldown_minutes:
        window = timedelta(minutes=target.cooldown_minutes)
        recent = connection.execute(
            select(Alert.bucket_start)
            .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
            .where(
                AlertDelivery.target == target.name,
                AlertDelivery.state.in_(SENT_OR_SENDING),
                Alert.topic_key == topic,
                Alert.kind == kind,
                Alert.bucket_start > bucket - window,
                Alert.bucket_start < bucket + window,
            )
            .limit(1)
        ).scalar()
        if recent is not None:
            return f"cooldown: {target.cooldown_minutes} min after the alert for {aware(recent)}"
    sent_today = connection.execute(
        select(func.count())
        .select_from(AlertDelivery)
        .join(Alert, AlertDelivery.alert_id == Alert.id)
        .where(
            AlertDelivery.target == target.name,
            AlertDelivery.state.in_(SENT_OR_SENDING),
            Alert.created_at > now - timedelta(hours=24),
        )
    ).scalar_one()
    if sent_today >= target.daily_cap:
        return f"daily cap: {target.daily_cap} alerts in the last 24 hours"
    return None


def _recorded(connection: Connection, *, topic: str, kind: str, bucket: datetime) -> bool:
    found = connection.execute(
        select(Alert.id).where(Alert.topic_key == topic, Alert.kind == kind, Alert.bucket_start == bucket)
    ).scalar()
    return found is not None


def unrecorded_wanted(connection: Connection, *, spikes: Sequence[Spike], targets: Sequence[TargetRule]) -> list[Spike]:
    """The spikes some target wants that have no alert yet: the only ones worth explaining."""
    return [
        s
        for s in spikes
        if any(t.wants(topic=s.topic, kind=s.kind, severity=s.severity) for t in targets)
        and not _recorded(connection, topic=s.topic, kind=s.kind, bucket=naive_utc(s.bucket_start))
    ]


def record_alerts(
    connection: Connection, *, spikes: Sequence[SpikeAnswer], targets: Sequence[TargetRule], now: datetime
) -> list[int]:
    """Record the spikes (with their explanations) that some target wants and that have no
    alert yet; returns the new alerts' ids. Oldest bucket first and, within one bucket, the
    most severe first, so a daily cap keeps the strongest. The alert row keeps the spike as
    ``GET /v1/spikes`` answers it, so a delivery retried after a restart sends what was found."""
    now = naive_utc(now)
    ordered = sorted(spikes, key=lambda s: (naive_utc(s.bucket_start), -s.severity, s.topic, s.kind))
    created = []
    for spike in ordered:
        topic, kind, bucket = spike.topic, spike.kind, naive_utc(spike.bucket_start)
        wanting = [t for t in targets if t.wants(topic=topic, kind=kind, severity=spike.severity)]
        if not wanting or _recorded(connection, topic=topic, kind=kind, bucket=bucket):
            continue
        alert_id = connection.execute(
            insert(Alert)
            .values(
                topic_key=topic,
                kind=kind,
                bucket_start=bucket,
                bucket_end=naive_utc(spike.bucket_end),
                severity=spike.severity,
                spike=spike.model_dump(mode="json"),
                created_at=now,
            )
            .returning(Alert.id)
        ).scalar_one()
        for target in wanting:
            reason = _suppression(connection, target, topic=topic, kind=kind, bucket=bucket, now=now)
            connection.execute(
                insert(AlertDelivery).values(
                    alert_id=alert_id,
                    target=target.name,
                    state=SUPPRESSED if reason else PENDING,
                    attempts=0,
                    last_error=reason,
                    updated_at=now,
                )
            )
        created.append(alert_id)
    return created


@dataclass(frozen=True)
class PendingDelivery:
    """A delivery to send: the alert's recorded spike (the JSON of ``GET /v1/spikes``)."""

    alert_id: int
    target: str
    spike: dict

    @property
    def key(self) -> str:
        return alert_key(self.spike["topic"], self.spike["kind"], self.spike["bucket_start"])


def pending_deliveries(connection: Connection, *, limit: int = 100) -> list[PendingDelivery]:
    """Deliveries not yet sent (new, or cut short by a restart), oldest alert first."""
    rows = connection.execute(
        select(AlertDelivery.alert_id, AlertDelivery.target, Alert.spike)
        .join(Alert, AlertDelivery.alert_id == Alert.id)
        .where(AlertDelivery.state == PENDING)
        .order_by(AlertDelivery.alert_id, AlertDelivery.target)
        .limit(limit)
    )
    return [PendingDelivery(alert_id=a, target=t, spike=s) for a, t, s in rows]


@dataclass(frozen=True)
class DeliveryReport:
    """How one delivery went, as the watcher reports it."""

    alert_id: int
    target: str
    delivered: bool
    attempts: int
    error: str | None


def finish_delivery(connection: Connection, *, report: DeliveryReport, now: datetime) -> bool:
    """Mark a pending delivery delivered or failed; False when it was not pending (already
    finished by another watcher), so nothing recorded is overwritten."""
    now = naive_utc(now)
    result = connection.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.alert_id == report.alert_id,
            AlertDelivery.target == report.target,
            AlertDelivery.state == PENDING,
        )
        .values(
            state=DELIVERED if report.delivered else FAILED,
            attempts=AlertDelivery.attempts + report.attempts,
            last_error=None if report.delivered else (report.error or "unknown error")[:2000],
            updated_at=now,
            delivered_at=now if report.delivered else None,
        )
    )
    return result.rowcount == 1


def overall_state(states: Sequence[str]) -> str:
    """One word for an alert: pending while any target is, then failed if any failed, then
    delivered if any was, else suppressed."""
    for state in (PENDING, FAILED, DELIVERED):
        if state in states:
            return state
    return SUPPRESSED


def list_alerts(
    connection: Connection,
    *,
    since: datetime | None = None,
    topic: str | None = None,
    limit: int = 100,
) -> list[AlertAnswer]:
    """Alerts newest bucket first, each with its deliveries."""
    query = (
        select(*Alert.__table__.columns)
        .order_by(Alert.bucket_start.desc(), Alert.severity.desc(), Alert.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(Alert.bucket_start >= naive_utc(since))
    if topic is not None:
        query = query.where(Alert.topic_key == topic)
    alerts = connection.execute(query).all()
    if not alerts:
        return []
    deliveries: dict[int, list[DeliveryAnswer]] = {}
    for row in connection.execute(
        select(*AlertDelivery.__table__.columns)
        .where(AlertDelivery.alert_id.in_([a.id for a in alerts]))
        .order_by(AlertDelivery.alert_id, AlertDelivery.target)
    ):
        deliveries.setdefault(row.alert_id, []).append(
            DeliveryAnswer(
                target=row.target,
                state=row.state,
                attempts=row.attempts,
                last_error=row.last_error,
                delivered_at=aware(row.delivered_at),
            )
        )
    return [
        AlertAnswer(
            id=a.id,
            idempotency_key=alert_key(a.topic_key, a.kind, a.bucket_start),
            topic=a.topic_key,
            kind=a.kind,
            bucket_start=aware(a.bucket_start),
            bucket_end=aware(a.bucket_end),
            severity=a.severity,
            observed=a.spike.get("observed"),
            expected=a.spike.get("expected"),
            lift=a.spike.get("lift"),
            p_value=a.spike.get("p_value"),
            created_at=aware(a.created_at),
            state=overall_state([d.state for d in deliveries.get(a.id, [])]),
            deliveries=deliveries.get(a.id, []),
        )
        for a in alerts
    ]
