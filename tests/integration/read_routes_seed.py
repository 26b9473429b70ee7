"""A seeded database for the read routes' before/after comparison (issue 25).

``seed(engine)`` writes, through the write path and the alert tables alone (both unchanged
by the issue): 40 days of two topics with one economy surge (``tests.integration.test_spikes``),
Spanish and undetermined mentions, mentions carrying the sentiment head's three scores, and
two recorded alerts with their deliveries. ``READS`` lists the URLs whose answers were
recorded at commit 7e6d7e8 (``read_routes_before.json``) and are compared now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from inference.schemas import EmotionResult, MentionResult, SentimentResult, TopicScore, as_sentiment_label
from storage.models import Alert, AlertDelivery
from tests.integration.conftest import NOW, record
from tests.integration.test_spikes import history_records

CONFIGURED_TOPICS = ("economy", "healthcare", "housing")  # housing: configured, never written
SINCE = "2026-11-17T00:00:00Z"
UNTIL = "2026-11-19T00:00:00Z"
SURGE_DAY = "2026-11-18T00:00:00Z"

READS = (
    "/v1/topics",
    f"/v1/topics/economy/aggregate?window=hour&since={SINCE}&until={UNTIL}",
    f"/v1/topics/economy/aggregate?window=day&since=2026-10-20T00:00:00%2B00:00&until={UNTIL}&tz=Europe/Berlin",
    "/v1/topics/healthcare/aggregate",
    "/v1/topics/economy/aggregate?window=day",
    "/v1/trends",
    "/v1/trends?window=hour&days=7",
    "/v1/trends?window=day&days=14&tz=America/New_York",
    "/v1/overview",
    f"/v1/topics/economy/timeline?window=hour&since={SINCE}&until={UNTIL}",
    "/v1/topics/economy/timeline?window=day&since=2026-11-01T00:00:00Z",
    "/v1/topics/healthcare/timeline",
    "/v1/spikes",
    "/v1/spikes?topic=economy&kind=volume&min_severity=2",
    "/v1/spikes?topic=healthcare",
    f"/v1/spikes?since={SURGE_DAY}&until=2026-11-19T00:00:00Z",
    "/v1/alerts",
    "/v1/alerts?topic=economy&limit=1",
    f"/v1/alerts?since={SURGE_DAY}",
    "/v1/mentions?topic=economy&limit=5",
    "/v1/mentions?topic=economy&sentiment=negative&source=news&limit=3",
    f"/v1/mentions?topic=economy&since={SINCE}&until={UNTIL}&emotion=joy&limit=4",
    "/v1/mentions?topic=economy&language=es",
    "/v1/mentions?topic=economy&language=und&limit=3",
    "/v1/mentions?topic=economy&include_unsupported=true&limit=6",
    "/v1/mentions?topic=healthcare&limit=2&source=tw",
    f"/v1/mentions?topic=economy&format=csv&since={SURGE_DAY}&until=2026-11-18T16:00:00Z",
    "/v1/mentions?topic=economy&format=csv&language=es",
    # answers of the error table: the parameter each one names stays the same
    "/v1/topics/nosuch/aggregate",
    "/v1/topics/economy/aggregate?window=week",
    "/v1/topics/economy/aggregate?tz=Mars/Olympus",
    "/v1/topics/economy/aggregate?since=1900-01-01T00:00:00Z",
    "/v1/trends?days=0",
    "/v1/spikes?kind=loudness",
    "/v1/spikes?min_severity=11",
    f"/v1/spikes?since={UNTIL}&until={SINCE}",
    "/v1/mentions?topic=economy&language=xx1",
    "/v1/mentions?topic=economy&sentiment=angry",
    "/v1/mentions?topic=economy&limit=0",
    "/v1/mentions?topic=economy&cursor=not-a-cursor",
    "/v1/mentions?topic=economy&format=xml",
    "/v1/alerts?limit=5000",
)


def _scored(emotion: str, sentiment: str, score: float, topics: dict[str, float], language: str) -> MentionResult:
    scores = {"negative": 0.7, "neutral": 0.2, "positive": 0.1}
    if sentiment == "positive":
        scores = {"negative": 0.05, "neutral": 0.15, "positive": 0.8}
    return MentionResult(
        emotion=EmotionResult(label=emotion, scores={"anger": 0.6, "joy": 0.3, "neutral": 0.1}),
        sentiment=SentimentResult(label=as_sentiment_label(sentiment), score=score, scores=scores),
        topics=[TopicScore(key=k, score=v) for k, v in topics.items()],
        language=language,
        language_supported=language in {"en", "und"},
    )


def extra_records() -> list:
    """Mentions the history lacks: other languages, head scores, two topics at once."""
    base = NOW - timedelta(hours=30)
    rows = [
        ("Los impuestos suben otra vez", "anger", "negative", -0.6, {"economy": 0.7}, "es"),
        ("La economía mejora, dicen", "joy", "positive", 0.7, {"economy": 0.55}, "es"),
        ("!!! :) 👍", "joy", "positive", 0.75, {"economy": 0.41}, "und"),
        ("Taxes and bills crush us", "anger", "negative", -0.8, {"economy": 0.6, "healthcare": 0.5}, "en"),
        ("Great news for wages this quarter", "joy", "positive", 0.8, {"economy": 0.66}, "en"),
    ]
    return [
        record(
            text,
            external_id=f"extra{i}",
            created_at=(base + timedelta(minutes=7 * i)).isoformat(),
            result=_scored(emotion, label, score, topics, language),
            source="forum" if i % 2 else "news",
            seed=50_000 + i,
        )
        for i, (text, emotion, label, score, topics, language) in enumerate(rows)
    ]


def records() -> list:
    history, _ = history_records(NOW)
    return history + extra_records()


def _naive(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(UTC).replace(tzinfo=None)


ALERT_SPIKES = (
    {
        "topic": "economy",
        "kind": "volume",
        "bucket_start": "2026-11-18T15:00:00+00:00",
        "bucket_end": "2026-11-18T16:00:00+00:00",
        "observed": 33,
        "expected": 2.4,
        "lift": 13.75,
        "p_value": 1e-12,
        "severity": 9,
        "explanation": {"top_sources": [{"source": "news", "count": 30}], "top_terms": [{"term": "tariffs"}]},
    },
    {
        "topic": "healthcare",
        "kind": "emotion:anger",
        "bucket_start": "2026-11-19T09:00:00+00:00",
        "bucket_end": "2026-11-19T10:00:00+00:00",
        "observed": 9,
        "expected": 2.0,
        "lift": 4.5,
        "p_value": 0.001,
        "severity": 5,
        "explanation": {"top_sources": [], "top_terms": []},
    },
)


def record_alerts(engine: Engine) -> None:
    """Two alerts as the watcher records them: one delivered to one target and failed to
    another, one suppressed by a cooldown."""
    created = NOW.replace(tzinfo=None) - timedelta(hours=1)
    deliveries = (
        (("press", "delivered", 1, None, created), ("bus", "failed", 5, "HTTP 500 after 5 attempts", None)),
        (("press", "suppressed", 0, "cooldown: 180 min after the alert for 2026-11-19T08:00:00+00:00", None),),
    )
    with engine.begin() as connection:
        for spike, targets in zip(ALERT_SPIKES, deliveries, strict=True):
            alert_id = connection.execute(
                insert(Alert)
                .values(
                    topic_key=spike["topic"],
                    kind=spike["kind"],
                    bucket_start=_naive(spike["bucket_start"]),
                    bucket_end=_naive(spike["bucket_end"]),
                    severity=spike["severity"],
                    spike=spike,
                    created_at=created,
                )
                .returning(Alert.id)
            ).scalar_one()
            for target, state, attempts, error, delivered_at in targets:
                connection.execute(
                    insert(AlertDelivery).values(
                        alert_id=alert_id,
                        target=target,
                        state=state,
                        attempts=attempts,
                        last_error=error,
                        updated_at=created,
                        delivered_at=delivered_at,
                    )
                )
