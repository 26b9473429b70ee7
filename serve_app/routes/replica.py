"""What a route reads of the Gateway replica that serves it (``app.state.gateway``)."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request


class GatewayState(Protocol):
    """The replica's parts the routes use (``serve_app.gateway.Gateway`` holds them)."""

    args: Any  # serve_app.config.ServeAppArgs
    api_key: str | None
    aggregator: Any  # the Aggregator's DeploymentHandle
    online: Any  # serve_app.online.OnlineClassifier
    rules: Any  # storage.records.RecordRules
    pipeline_settings: Any  # inference.settings.PipelineSettings
    metrics: Any  # serve_app.metrics.GatewayMetrics
    readiness: Any  # serve_app.routes.ops.Readiness


def replica(request: Request) -> GatewayState:
    """The serving replica, as a FastAPI dependency."""
    return request.app.state.gateway
