"""What the soak sends: the mix of request kinds with their weights, the open-loop schedule
and each kind's request. Plain functions (numpy only), used by the load generator's process
(``soak_load``) and tested without an app.
"""

from __future__ import annotations

import numpy as np

# kind: (weight, method, path; {topic} is filled in). Weighted toward classify, as live
# traffic is; the page's calls and the spike/aggregate queries share the last fifth.
MIX: dict[str, tuple[float, str, str]] = {
    "classify": (0.40, "POST", "/v1/classify"),
    "persist": (0.20, "POST", "/v1/classify"),
    "embeddings": (0.20, "POST", "/v1/embeddings"),
    "aggregate": (0.03, "GET", "/v1/topics/{topic}/aggregate?window=hour"),
    "spikes": (0.03, "GET", "/v1/spikes"),
    "overview": (0.03, "GET", "/v1/overview"),
    "timeline": (0.03, "GET", "/v1/topics/{topic}/timeline"),
    "trends": (0.03, "GET", "/v1/trends"),
    "mentions": (0.03, "GET", "/v1/mentions?topic={topic}&limit=50"),
    "page_config": (0.02, "GET", "/page-config.json"),
}
TEXT_KINDS = frozenset({"classify", "persist", "embeddings"})  # one text each
OK = "200"
REQUEST_TIMEOUT_S = 60


def pick_kinds(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` kinds of ``MIX``, each drawn with its weight."""
    names = list(MIX)
    weights = np.array([MIX[name][0] for name in names])
    return [names[i] for i in rng.choice(len(names), size=count, p=weights / weights.sum())]


def open_loop_schedule(*, rate: float, duration: float, seed: int) -> list[tuple[float, str]]:
    """``(due_s, kind)`` for every request of an open-loop run: Poisson arrivals at ``rate``
    per second in ``[0, duration)``, so bursts and lulls come as they do from real users."""
    rng = np.random.default_rng(seed)
    due: list[float] = []
    at = float(rng.exponential(1 / rate))
    while at < duration:
        due.append(at)
        at += float(rng.exponential(1 / rate))
    return list(zip(due, pick_kinds(rng, len(due)), strict=True))


def request_for(kind: str, *, text: str, topic: str, external_id: str) -> tuple[str, str, dict | None]:
    """``(method, path, JSON body or None)`` of one request of ``kind``."""
    _, method, path = MIX[kind]
    if kind == "classify":
        return method, path, {"texts": [text]}
    if kind == "persist":
        return method, path, {"items": [{"text": text, "external_id": external_id}], "persist": True}
    if kind == "embeddings":
        return method, path, {"input": text, "model": "default"}
    return method, path.format(topic=topic), None
