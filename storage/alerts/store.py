"""The ``alerts`` and ``alert_deliveries`` tables: data functions that take a connection and
leave the transaction to the caller (the service writes them inside its Aggregator).

An alert is recorded before anything is sent, under its unique (topic, kind, bucket), with a
delivery row per target whose filters want it. Cooldown and the daily cap are decided here,
when the alert is recorded, and stored (``suppressed`` with the reason), so a restarted
watcher never decides twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, insert, select, update

from storage.alerts.settings import TargetSettings
from storage.models import Alert, AlertDelivery

PENDING, DELIVERED, FAILED, SUPPRESSED = "pending", "delivered", "failed", "suppressed"
STATES = (PENDING, DELIVERED, FAILED, SUPPRESSED)
SENT_OR_SENDING = (PENDING, DELIVERED, FAILED)  # what cooldowns and caps count


def naive_utc(moment: datetime | str) -> datetime:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def aware(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=UTC).isoformat() if moment is not None else None


def alert_key(topic: str, kind: str, bucket_start: datetime | str) -> str:
    """The idempotency key of an alert: the same for every attempt, restart and target."""
    return f"moodwire:{topic}:{kind}:{naive_utc(bucket_start).replace(tzinfo=UTC).isoformat()}"


def _suppression(
    connection: Connection, target: TargetSettings, *, topic: str, kind: str, bucket: datetime, now: datetime
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


def record_alerts(
    connection: Connection, *, spikes: Sequence[dict], targets: Sequence[TargetSettings], now: datetime
) -> list[int]:
    """Record the spikes (answer dicts of ``/v1/spikes``) that some target wants and that have
    no alert yet; returns the new alerts' ids. Oldest bucket first and, within one bucket,
    the most severe first, so a daily cap keeps the strongest."""
    now = naive_utc(now)
    ordered = sorted(spikes, key=lambda s: (naive_utc(s["bucket_start"]), -s["severity"], s["topic"], s["kind"]))
    created = []
    for spike in ordered:
        topic, kind, bucket = spike["topic"], spike["kind"], naive_utc(spike["bucket_start"])
        wanting = [t for t in targets if t.wants(topic=topic, kind=kind, severity=spike["severity"])]
        if not wanting:
            continue
        exists = connection.execute(
            select(Alert.id).where(Alert.topic_key == topic, Alert.kind == kind, Alert.bucket_start == bucket)
        ).scalar()
        if exists is not None:
            continue
        alert_id = connection.execute(
            insert(Alert)
            .values(
                topic_key=topic,
                kind=kind,
                bucket_start=bucket,
                bucket_end=naive_utc(spike["bucket_end"]),
                severity=spike["severity"],
                spike=spike,
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


def finish_delivery(
    connection: Connection,
    *,
    alert_id: int,
    target: str,
    delivered: bool,
    attempts: int,
    error: str | None,
    now: datetime,
) -> bool:
    """Mark a pending delivery delivered or failed; False when it was not pending (already
    finished by another watcher), so nothing recorded is overwritten."""
    now = naive_utc(now)
    result = connection.execute(
        update(AlertDelivery)
        .where(AlertDelivery.alert_id == alert_id, AlertDelivery.target == target, AlertDelivery.state == PENDING)
        .values(
            state=DELIVERED if delivered else FAILED,
            attempts=AlertDelivery.attempts + attempts,
            last_error=None if delivered else (error or "unknown error")[:2000],
            updated_at=now,
            delivered_at=now if delivered else None,
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
) -> list[dict]:
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
    deliveries: dict[int, list[dict]] = {}
    for row in connection.execute(
        select(*AlertDelivery.__table__.columns)
        .where(AlertDelivery.alert_id.in_([a.id for a in alerts]))
        .order_by(AlertDelivery.alert_id, AlertDelivery.target)
    ):
        deliveries.setdefault(row.alert_id, []).append(
            {
                "target": row.target,
                "state": row.state,
                "attempts": row.attempts,
                "last_error": row.last_error,
                "delivered_at": aware(row.delivered_at),
            }
        )
    return [
        {
            "id": a.id,
            "idempotency_key": alert_key(a.topic_key, a.kind, a.bucket_start),
            "topic": a.topic_key,
            "kind": a.kind,
            "bucket_start": aware(a.bucket_start),
            "bucket_end": aware(a.bucket_end),
            "severity": a.severity,
            "observed": a.spike.get("observed"),
            "expected": a.spike.get("expected"),
            "lift": a.spike.get("lift"),
            "p_value": a.spike.get("p_value"),
            "created_at": aware(a.created_at),
            "state": overall_state([d["state"] for d in deliveries.get(a.id, [])]),
            "deliveries": deliveries.get(a.id, []),
        }
        for a in alerts
    ]
