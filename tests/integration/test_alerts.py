"""Alerts end to end on the real PostgreSQL with a webhook receiver on loopback (issue 14):
one surge is one alert delivered once; 5xx answers are retried with one idempotency key; a
watcher killed between recording and delivering delivers after its restart; old buckets
(backfills) never alert; cooldown and daily cap hold alerts back and say why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text

from alerting import AlertSettings
from alerting.watcher import AlertRunner
from storage import alert_store
from storage.answers import SpikeAnswer
from storage.factory import Storage
from storage.models import Alert, AlertDelivery
from storage.query_types import AlertsQuery, SpikeQuery
from storage.settings import StorageSettings
from tests.integration.conftest import NOW, make_pg_engine
from tests.integration.test_spikes import seed_history
from tests.integration.webhook_receiver import webhook_receiver

FAST_RETRY = {"max_attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.05}


@pytest.fixture(scope="module")
def seeded_pg(pg_admin):
    """One migrated schema with 40 days of history and one economy surge (test_spikes)."""
    from storage.migrate import upgrade

    engine, schema = make_pg_engine(pg_admin, prefix="mw_test_alerts_")
    upgrade(engine)
    storage = Storage.over(engine, settings=StorageSettings(cache_ttl_s=300), clock=lambda: NOW)
    surge = seed_history(storage.writes, NOW)
    yield engine, surge
    engine.dispose()
    with pg_admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture()
def at_surge(seeded_pg):
    """Storage as the clock stands 20 minutes after the surge's hour ended (it is
    complete and scored; well inside the 6-hour horizon); alerts emptied per test."""
    engine, surge = seeded_pg
    with engine.begin() as connection:
        connection.execute(delete(AlertDelivery))
        connection.execute(delete(Alert))
    when = surge + timedelta(hours=1, minutes=20)
    return Storage.over(engine, settings=StorageSettings(cache_ttl_s=300), clock=lambda: when), surge


def runner_for(storage, receiver, **target) -> AlertRunner:
    """A watcher over ``storage``'s alert recorder: recency is decided by storage's clock."""
    settings = AlertSettings.model_validate(
        {
            "public_url": "https://moodwire.example.org",
            "delivery": FAST_RETRY,
            "targets": [{"name": "hook", "kind": "webhook", "url": receiver.url, **target}],
        }
    )
    return AlertRunner(storage.alerts, settings, {"hook": receiver.url})


def listed_alerts(storage) -> list:
    """``GET /v1/alerts`` with its defaults."""
    return storage.reads.alerts.alerts(AlertsQuery()).alerts


def alert_rows(storage) -> list[tuple]:
    with storage.engine.connect() as c:
        return [
            tuple(r)
            for r in c.execute(
                select(
                    Alert.topic_key, Alert.kind, AlertDelivery.state, AlertDelivery.attempts, AlertDelivery.last_error
                )
                .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
                .order_by(Alert.id)
            )
        ]


def test_one_surge_is_one_volume_alert_delivered_once(at_surge):
    storage, surge = at_surge
    with webhook_receiver() as receiver:
        runner = runner_for(storage, receiver, kinds=["volume"])
        first = runner.round()
        second = runner.round()  # the next poll scores the same hours: nothing new, nothing resent
    assert (len(first.recorded), first.delivered, first.failed) == (1, 1, 0)
    assert (second.recorded, second.delivered) == ([], 0)
    assert alert_rows(storage) == [("economy", "volume", "delivered", 1, None)]
    ((headers, body),) = receiver.requests
    key = f"moodwire:economy:volume:{surge.isoformat()}"
    assert headers["idempotency-key"] == key and body["idempotency_key"] == key
    assert (body["topic"], body["kind"], body["bucket_start"]) == ("economy", "volume", surge.isoformat())
    assert body["observed"] >= 30 and body["lift"] >= 2 and 1 <= body["severity"] <= 10
    assert body["link"] == f"https://moodwire.example.org/#/topic/economy?bucket={surge.isoformat()}"
    assert "tariffs" in [t["term"] for t in body["explanation"]["top_terms"]]
    (listed,) = listed_alerts(storage)
    assert (listed.topic, listed.kind, listed.state) == ("economy", "volume", "delivered")
    assert listed.deliveries[0].target == "hook" and listed.deliveries[0].delivered_at


def test_two_500s_then_200_is_delivered_with_one_idempotency_key(at_surge):
    storage, _ = at_surge
    with webhook_receiver() as receiver:
        receiver.statuses = [500, 500]
        report = runner_for(storage, receiver, kinds=["volume"]).round()
    assert (report.delivered, report.failed) == (1, 0)
    assert receiver.statuses == [] and len(receiver.requests) == 3  # 500, 500, then 200
    keys = {headers["idempotency-key"] for headers, _ in receiver.requests}
    assert len(keys) == 1 and {body["idempotency_key"] for body in receiver.bodies()} == keys
    assert alert_rows(storage) == [("economy", "volume", "delivered", 3, None)]


def test_a_watcher_killed_between_recording_and_delivering_delivers_after_restart(at_surge):
    storage, _ = at_surge
    with webhook_receiver() as receiver:
        recorded = runner_for(storage, receiver, kinds=["volume"]).score()  # then the process dies
        assert len(recorded) == 1 and receiver.requests == []
        assert alert_rows(storage) == [("economy", "volume", "pending", 0, None)]
        restarted = runner_for(storage, receiver, kinds=["volume"])
        report = restarted.round()
        again = restarted.round()
    assert (report.recorded, report.delivered) == ([], 1) and (again.recorded, again.delivered) == ([], 0)
    assert len(receiver.requests) == 1
    with storage.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(Alert)).scalar_one() == 1
    assert alert_rows(storage) == [("economy", "volume", "delivered", 1, None)]


def test_after_the_retry_budget_the_alert_is_failed_with_the_reason(at_surge):
    storage, _ = at_surge
    with webhook_receiver() as receiver:
        receiver.statuses = [503] * 10
        report = runner_for(storage, receiver, kinds=["volume"]).round()
    assert (report.delivered, report.failed) == (0, 1) and len(receiver.requests) == 3
    assert alert_rows(storage) == [("economy", "volume", "failed", 3, "HTTP 503 after 3 attempts")]
    assert listed_alerts(storage)[0].state == "failed"


def test_a_4xx_is_not_retried(at_surge):
    storage, _ = at_surge
    with webhook_receiver() as receiver:
        receiver.statuses = [404]
        runner_for(storage, receiver).round()
    assert len(receiver.requests) == 1
    assert alert_rows(storage) == [("economy", "volume", "failed", 1, "HTTP 404 (not retried)")]


def test_buckets_older_than_the_recent_horizon_never_alert(seeded_pg):
    """The surge was 45 hours before NOW: a backfill or import of it must not page anyone."""
    engine, _ = seeded_pg
    storage = Storage.over(engine, settings=StorageSettings(cache_ttl_s=300), clock=lambda: NOW)
    assert storage.reads.spikes.spikes(SpikeQuery()).spikes, "the surge is a spike"
    with webhook_receiver() as receiver:
        report = runner_for(storage, receiver).round()
    assert report.recorded == [] and receiver.requests == []


def test_filters_choose_what_a_target_gets(at_surge):
    storage, _ = at_surge
    with webhook_receiver() as receiver:
        assert runner_for(storage, receiver, topics=["healthcare"]).round().recorded == []
        assert runner_for(storage, receiver, min_severity=10, kinds=["volume"]).round().recorded == []
        assert runner_for(storage, receiver, kinds=["emotion:anger"]).round().recorded == []
    assert receiver.requests == [] and alert_rows(storage) == []


def spike(topic: str, kind: str, start, severity: int = 6) -> SpikeAnswer:
    return SpikeAnswer.model_validate(
        {
            "topic": topic,
            "kind": kind,
            "bucket_start": start.isoformat(),
            "bucket_end": (start + timedelta(hours=1)).isoformat(),
            "observed": 12,
            "expected": 2.0,
            "lift": 6.0,
            "p_value": 1e-6,
            "severity": severity,
            "explanation": {"top_sources": [], "emotion_moved_most": None, "mentions": [], "top_terms": []},
        }
    )


def record(storage, spikes: list[SpikeAnswer], targets: list) -> list[int]:
    """Record these spikes for these targets, as the alert recorder does in one transaction."""
    with storage.engine.begin() as connection:
        return alert_store.record_alerts(connection, spikes=spikes, targets=targets, now=NOW)


def test_cooldown_and_daily_cap_hold_alerts_back_and_say_why(storage):
    """On SQLite and PostgreSQL: per target, the same topic and kind within the cooldown is
    suppressed, and past the daily cap everything is; each suppression is one row with why."""
    from alerting import TargetSettings

    target = TargetSettings(name="t", kind="webhook", url="http://127.0.0.1:9/x", cooldown_minutes=180, daily_cap=3)
    hour = NOW.replace(minute=0) - timedelta(hours=8)
    spikes = [
        spike("economy", "volume", hour),
        spike("economy", "volume", hour + timedelta(hours=1)),  # within 180 min: cooldown
        spike("economy", "emotion:anger", hour + timedelta(hours=1)),  # another kind: sent
        spike("healthcare", "volume", hour + timedelta(hours=2)),
        spike("economy", "volume", hour + timedelta(hours=4)),  # cooldown over, but the cap is 3
    ]
    assert len(record(storage, spikes, [target.rule()])) == 5
    assert len(record(storage, spikes, [target.rule()])) == 0  # re-scoring records nothing twice
    states = {(a.topic, a.kind, a.bucket_start): a.deliveries[0] for a in listed_alerts(storage)}
    by_hour = [states[(s.topic, s.kind, s.bucket_start)] for s in spikes]
    assert [d.state for d in by_hour] == ["pending", "suppressed", "pending", "pending", "suppressed"]
    assert by_hour[1].last_error is not None
    assert by_hour[1].last_error.startswith("cooldown: 180 min after the alert for")
    assert by_hour[4].last_error == "daily cap: 3 alerts in the last 24 hours"
    assert [p.spike["kind"] for p in storage.alerts.pending_alert_deliveries()] == ["volume", "emotion:anger", "volume"]
