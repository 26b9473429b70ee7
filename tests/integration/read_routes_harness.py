"""The Gateway's real FastAPI app driven in-process over a real Aggregator, with no Ray: the
harness of ``test_read_routes_unchanged.py``. Handles call the Aggregator's methods directly
(``.remote(...)`` returns the coroutine a ``DeploymentResponse`` would resolve to)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from fastapi.testclient import TestClient

from serve_app.config import ServeAppArgs
from serve_app.deployments.aggregator import Aggregator
from serve_app.gateway import Gateway, app
from storage.engine import create_database_engine
from storage.factory import Storage
from storage.migrate import upgrade
from storage.settings import StorageSettings
from tests.integration.conftest import NOW
from tests.integration.read_routes_seed import CONFIGURED_TOPICS, record_alerts, records


class _Method:
    def __init__(self, function) -> None:
        self.function = function

    def remote(self, *args, **kwargs):
        return self.function(*args, **kwargs)


class InProcessHandle:
    """A deployment handle whose calls run the target's methods in this process."""

    def __init__(self, target) -> None:
        self.target = target

    def __getattr__(self, name: str) -> _Method:
        return _Method(getattr(self.target, name))


class _Ignored:
    def inc(self, *args, **kwargs) -> None:
        pass

    observe = inc


def seeded_storage(folder: Path) -> Storage:
    engine = create_database_engine(f"sqlite:///{folder}/reads.db")
    upgrade(engine)
    storage = Storage.over(
        engine, settings=StorageSettings(cache_ttl_s=300), clock=lambda: NOW, topic_keys=CONFIGURED_TOPICS
    )
    rows = records()
    for start in range(0, len(rows), 500):
        storage.writes.ingest(rows[start : start + 500])
    record_alerts(engine)
    return storage


@contextlib.contextmanager
def read_routes_client(folder: Path) -> Iterator[TestClient]:
    """A ``TestClient`` on the Gateway's app whose Aggregator reads the seeded database."""
    storage = seeded_storage(folder)
    aggregator = object.__new__(Aggregator.func_or_class)
    aggregator.storage = storage
    gateway = object.__new__(Gateway.func_or_class)
    gateway.aggregator = InProcessHandle(aggregator)
    gateway.args = ServeAppArgs()
    gateway.api_key = None
    gateway.metrics = SimpleNamespace(requests=_Ignored(), latency=_Ignored(), texts=_Ignored())
    app.state.gateway = gateway
    try:
        yield TestClient(app, raise_server_exceptions=True)
    finally:
        del app.state.gateway
        storage.dispose()
