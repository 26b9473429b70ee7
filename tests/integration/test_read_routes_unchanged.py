"""Every read route answers as it did before the storage wing was split (issue 25).

``read_routes_before.json`` holds the answers of the routes in ``read_routes_seed.READS`` at
commit 7e6d7e8, recorded with this same harness: the Gateway's real FastAPI app and routes,
driven in-process, over the real Aggregator on the seeded SQLite file with the clock at
``NOW``. Each answer now must carry the same status, keys and values (new keys allowed) and
the same CSV text.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.integration.read_routes_harness import read_routes_client
from tests.integration.read_routes_seed import READS

BEFORE = json.loads((Path(__file__).parent / "read_routes_before.json").read_text(encoding="utf-8"))


def differences(before, now, where: str = "") -> list[str]:
    """Where ``now`` lacks or changes what ``before`` had (keys it adds are fine)."""
    if isinstance(before, dict):
        if not isinstance(now, dict):
            return [f"{where}: {type(now).__name__} instead of an object"]
        out = []
        for key, value in before.items():
            if key not in now:
                out.append(f"{where}.{key}: missing")
            else:
                out += differences(value, now[key], f"{where}.{key}")
        return out
    if isinstance(before, list):
        if not isinstance(now, list) or len(now) != len(before):
            return [f"{where}: {len(before)} items before, {len(now) if isinstance(now, list) else now!r} now"]
        return [d for i, (b, n) in enumerate(zip(before, now, strict=True)) for d in differences(b, n, f"{where}[{i}]")]
    if isinstance(before, float) and isinstance(now, int | float) and not isinstance(now, bool):
        return [] if math.isclose(before, now, rel_tol=1e-12, abs_tol=1e-12) else [f"{where}: {before} -> {now}"]
    return [] if before == now and type(before) is type(now) else [f"{where}: {before!r} -> {now!r}"]


def test_the_seed_covers_every_recorded_read():
    assert sorted(BEFORE) == sorted(READS)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with read_routes_client(tmp_path_factory.mktemp("reads")) as client:
        yield client


@pytest.mark.parametrize("url", READS)
def test_a_read_route_answers_as_before(client, url):
    response = client.get(url)
    before = BEFORE[url]
    assert response.status_code == before["status"], response.text
    assert response.headers.get("content-type", "") == before["content_type"]
    if "x_truncated" in before:
        assert response.headers["x-truncated"] == before["x_truncated"]
    if before["content_type"].startswith("application/json"):
        assert differences(before["body"], response.json()) == []
    else:
        assert response.text == before["body"]
