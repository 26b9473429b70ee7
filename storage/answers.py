"""The readers' typed answers: what the Aggregator returns, what the Gateway's read routes
declare as their response models (so ``/openapi.json`` documents every answer), and what the
CLI prints as JSON (``model_dump(mode="json")``: the same body as the route's).

Times are ISO 8601 strings, as the answers have always carried them. A field marked
``exclude_if`` is left out of the JSON when it is None, as it always was (a sentiment
without the head's ``scores``, a mention without an ``external_id``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

Number = int | float


def _absent_when_none(value: object) -> bool:
    return value is None


class TopicInfo(BaseModel):
    key: str
    mentions: int = Field(description="counted mentions in the rollups, all time")
    latest_bucket: str | None = Field(description="start of the newest hour with mentions")
    configured: bool = Field(description="the topic is in the configured topic file")


class TopicsAnswer(BaseModel):
    topics: list[TopicInfo]


class SentimentCounts(BaseModel):
    positive: int
    neutral: int
    negative: int


class Bucket(BaseModel):
    start: str
    count: int
    sentiment_mean: float | None
    sentiment: SentimentCounts
    emotions: dict[str, int] = Field(description="mentions per emotion label")
    sentiment_share: dict[str, float] | None = Field(
        default=None,
        description="estimated fraction of count per sentiment label (sums to 1; share_estimator says how); "
        "None for an empty bucket",
    )
    emotion_share: dict[str, float] | None = Field(
        default=None, description="estimated fraction of count per emotion label (sums to 1); None for an empty bucket"
    )
    share_estimator: str = Field(
        default="counts",
        description="adjusted: every share corrected by its model's confusion; counts: top labels counted; "
        "mixed: some mentions could not be adjusted (no correction recorded, or the valence rule)",
    )
    sentiment_share_se: dict[str, float] | None = Field(
        default=None, description="standard error of each sentiment share (None under two mentions)"
    )
    emotion_share_se: dict[str, float] | None = Field(
        default=None, description="standard error of each emotion share (None under two mentions)"
    )


class AggregateAnswer(BaseModel):
    topic: str
    window: str
    tz: str
    since: str
    until: str
    buckets: list[Bucket]


class BaselineAnswer(BaseModel):
    topic: str
    window: str
    days: int
    since: str
    until: str
    volume_mean: float | None
    volume_std: float | None
    sentiment_mean: float | None
    sentiment_std: float | None


class TrendRow(BaseModel):
    topic: str
    window_start: str
    window_end: str
    count: int
    expected: float = Field(description="the baseline's mean count per window")
    p_value: float = Field(description="upper tail of a negative binomial around expected")
    sentiment_mean: float | None
    baseline: BaselineAnswer
    z_volume: float
    z_sentiment: float | None
    sentiment_share: dict[str, float] | None = Field(default=None, description="the window's, as in aggregate")
    emotion_share: dict[str, float] | None = Field(default=None, description="the window's, as in aggregate")
    share_estimator: str = Field(default="counts", description="as in aggregate")


class TrendsAnswer(BaseModel):
    trends: list[TrendRow]


class SentimentAnswer(BaseModel):
    label: str | None
    score: float | None
    scores: dict[str, float] | None = Field(default=None, exclude_if=_absent_when_none)


class EmotionAnswer(BaseModel):
    label: str | None
    scores: dict[str, float] | None


class MentionItem(BaseModel):
    id: int
    external_id: str | None
    text: str | None = Field(description="None once pruned by retention")
    source: str | None
    created_at: str
    sentiment: SentimentAnswer
    emotion: EmotionAnswer
    topic_score: float
    language: str
    language_supported: bool


class MentionsPage(BaseModel):
    topic: str
    items: list[MentionItem]
    next_cursor: str | None


class ExportPlan(BaseModel):
    rows: int = Field(description="rows the export will have (at most max_export_rows)")
    truncated: bool = Field(description="the filter matches more rows than that")


class ExportPage(BaseModel):
    csv: str = Field(description="CSV lines (CRLF), no header")
    rows: int
    next_cursor: str | None


class SourceCount(BaseModel):
    source: str | None
    count: int


class EmotionMove(BaseModel):
    """An emotion's estimated share (``share_estimator``) in a window against its baseline's."""

    label: str
    share: float
    baseline_share: float


class MentionSample(BaseModel):
    id: int
    external_id: str | None = Field(default=None, exclude_if=_absent_when_none)
    text: str | None
    created_at: str


class Term(BaseModel):
    term: str
    spike_share: float
    baseline_share: float
    score: float


class Explanation(BaseModel):
    top_sources: list[SourceCount]
    emotion_moved_most: EmotionMove | None
    mentions: list[MentionSample]
    top_terms: list[Term]


class SpikeFields(BaseModel):
    """One spike; ``p_value`` carries the adjusted value the verdict was made on."""

    topic: str
    kind: str
    bucket_start: str
    bucket_end: str
    observed: int
    expected: float
    lift: float
    p_value: float
    severity: int


class SpikeAnswer(SpikeFields):
    explanation: Explanation


class SpikesAnswer(BaseModel):
    spikes: list[SpikeAnswer]


class SpikeBadge(BaseModel):
    severity: int
    kind: str
    bucket_start: str
    count: int = Field(description="spikes of the topic in the last 24 complete hours")


class RunningHour(BaseModel):
    bucket_start: str
    count: int


class OverviewRow(BaseModel):
    key: str
    configured: bool
    volume_24h: int
    volume_7d: int
    sparkline: list[int] = Field(description="168 hourly counts of complete hours, oldest first")
    running: list[RunningHour]
    net_sentiment: float | None = Field(
        description="estimated positive share minus estimated negative share, last 24 complete hours"
    )
    dominant_emotion: str | None = Field(description="the top emotion label of the last 24 complete hours")
    emotion_above_baseline: EmotionMove | None = Field(
        default=None,
        description="the emotion (not neutral) whose estimated share of the last 24 complete hours is most above "
        "its share over the 7 days before (None when none is above, or either window is empty)",
    )
    sentiment_share: dict[str, float] | None = Field(
        default=None, description="last 24 complete hours, as in aggregate"
    )
    emotion_share: dict[str, float] | None = Field(default=None, description="last 24 complete hours, as in aggregate")
    share_estimator: str = Field(default="counts", description="as in aggregate")
    expected_24h: float | None
    change: float | None = Field(description="observed / expected - 1 over the last 24 complete hours")
    spike: SpikeBadge | None


class OverviewAnswer(BaseModel):
    generated_at: str
    complete_until: str
    topics: list[OverviewRow]


class TimelineBucket(Bucket):
    complete: bool
    expected: float | None
    expected_low: float | None
    expected_high: float | None


class TimelineAnswer(BaseModel):
    topic: str
    window: str
    tz: str
    since: str
    until: str
    complete_until: str
    buckets: list[TimelineBucket]
    spikes: list[SpikeFields]


class DeliveryAnswer(BaseModel):
    target: str
    state: str
    attempts: int
    last_error: str | None
    delivered_at: str | None


class AlertAnswer(BaseModel):
    id: int
    idempotency_key: str
    topic: str
    kind: str
    bucket_start: str | None
    bucket_end: str | None
    severity: int
    observed: Number | None
    expected: Number | None
    lift: Number | None
    p_value: Number | None
    created_at: str | None
    state: str = Field(description="pending, delivered, failed or suppressed")
    deliveries: list[DeliveryAnswer]


class AlertsAnswer(BaseModel):
    alerts: list[AlertAnswer]
