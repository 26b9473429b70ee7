"""The read routes and the one delete: thin calls to the Aggregator with typed queries
(``storage.query_types``) that answer typed models (``storage.answers``), so ``/openapi.json``
documents every answer. The Aggregator's readers validate the queries and raise the domain
errors that name a parameter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from serve_app.errors import InvalidRequestError, MentionNotFoundError
from serve_app.routes.replica import GatewayState, replica
from storage.answers import (
    AggregateAnswer,
    AlertsAnswer,
    MentionsPage,
    OverviewAnswer,
    SpikesAnswer,
    TimelineAnswer,
    TopicsAnswer,
    TrendsAnswer,
)
from storage.export import header
from storage.query_types import AlertsQuery, MentionFilter, MentionsQuery, RangeQuery, SpikeQuery, TrendsQuery, Window

router = APIRouter(tags=["topics"])
Replica = Annotated[GatewayState, Depends(replica)]
EXPORT_PAGE = 1000  # rows per Aggregator call of a CSV export


@router.get("/v1/topics", response_model=TopicsAnswer)
async def topics(gateway: Replica) -> TopicsAnswer:
    return await gateway.aggregator.topics.remote()


@router.get("/v1/topics/{key}/aggregate", response_model=AggregateAnswer)
async def aggregate(key: str, window: Annotated[Window, Query()], gateway: Replica) -> AggregateAnswer:
    """A topic's zero-filled hour or day buckets: volume, sentiment and emotion counts."""
    return await gateway.aggregator.aggregate.remote(RangeQuery(topic=key, **window.model_dump()))


@router.get("/v1/trends", response_model=TrendsAnswer)
async def trends(query: Annotated[TrendsQuery, Query()], gateway: Replica) -> TrendsAnswer:
    """Every topic's last complete window against its baseline, most unusual first."""
    return await gateway.aggregator.trends.remote(query)


@router.get("/v1/overview", response_model=OverviewAnswer)
async def overview(gateway: Replica) -> OverviewAnswer:
    """Every topic's row of the page's overview: volumes, sparkline, net sentiment,
    dominant emotion, change against the expected count, highest recent spike."""
    return await gateway.aggregator.overview.remote()


@router.get("/v1/topics/{key}/timeline", response_model=TimelineAnswer)
async def timeline(key: str, window: Annotated[Window, Query()], gateway: Replica) -> TimelineAnswer:
    """The topic view's series: aggregate buckets with ``complete``, ``expected`` and the
    95 % band, and the topic's spikes in the range."""
    return await gateway.aggregator.timeline.remote(RangeQuery(topic=key, **window.model_dump()))


@router.get("/v1/spikes", response_model=SpikesAnswer)
async def spikes(query: Annotated[SpikeQuery, Query()], gateway: Replica) -> SpikesAnswer:
    """Spikes in the complete hours of [since, until) (default: the last 7 days), newest
    first, each with its explanation; a bad filter is a 400 naming the parameter."""
    return await gateway.aggregator.spikes.remote(query)


@router.get("/v1/alerts", response_model=AlertsAnswer)
async def alerts(query: Annotated[AlertsQuery, Query()], gateway: Replica) -> AlertsAnswer:
    """Alerts the watcher recorded, newest bucket first, each with its delivery state per
    target (pending, delivered, failed with the reason, or suppressed by a cooldown or cap)."""
    return await gateway.aggregator.alerts.remote(query)


@router.get(
    "/v1/mentions",
    response_model=MentionsPage,
    responses={200: {"content": {"text/csv": {}}, "description": "a page (JSON), or with format=csv every match"}},
)
async def mentions(
    query: Annotated[MentionsQuery, Query()], gateway: Replica, format: str = "json"
) -> MentionsPage | StreamingResponse:
    """A page of mentions (JSON), or with ``format=csv`` every matching mention, streamed."""
    if format == "csv":
        return await _export_csv(query.where(), gateway)
    if format != "json":
        raise InvalidRequestError(f"format must be json or csv, got {format!r}", param="format")
    return await gateway.aggregator.mentions.remote(query)


async def _export_csv(where: MentionFilter, gateway: GatewayState) -> StreamingResponse:
    """Every matching mention as CSV (``storage.export``), streamed a page at a time from
    the database, up to ``max_export_rows``; ``X-Truncated`` says whether more matched.
    The filters are validated (and counted) before the first byte, so bad ones are a 4xx."""
    aggregator = gateway.aggregator
    plan = await aggregator.export_plan.remote(where)

    async def rows() -> AsyncIterator[str]:
        yield header()
        cursor, sent = None, 0
        while sent < plan.rows:
            page = await aggregator.export_page.remote(where, cursor, min(EXPORT_PAGE, plan.rows - sent))
            yield page.csv
            sent, cursor = sent + page.rows, page.next_cursor
            if cursor is None or not page.rows:
                break

    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in where.topic)[:64]
    headers = {
        "X-Truncated": "true" if plan.truncated else "false",
        "Content-Disposition": f'attachment; filename="moodwire-{name}.csv"',
    }
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)


@router.delete("/v1/mentions/{external_id}")
async def delete_mention(external_id: str, gateway: Replica) -> dict:
    """Remove a mention (a takedown, a privacy request) and its part of the aggregates."""
    deleted = await gateway.aggregator.delete.remote([external_id])
    if not deleted:
        raise MentionNotFoundError(f"no stored mention has external_id {external_id!r}")
    return {"deleted": external_id}
