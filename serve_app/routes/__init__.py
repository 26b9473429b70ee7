"""The Gateway's routes, by area: ``classify`` (classify, embeddings, models), ``reads``
(topics, aggregates, trends, the page's answers, spikes, alerts, mentions and export) and
``ops`` (the page's files, health and readiness). Each route is a thin function over the
replica's state (``replica``): it validates through ``serve_app.requests`` or a typed query,
calls the models or the Aggregator, and raises domain errors that ``serve_app.errors`` answers.
"""

from __future__ import annotations

from fastapi import FastAPI

from serve_app.routes import classify, ops, reads


def include_routes(app: FastAPI) -> None:
    for module in (ops, classify, reads):
        app.include_router(module.router)
