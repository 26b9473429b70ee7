"""Spike detection (issue 14): Ray-free, database-free functions over dense hourly series.

``detection`` (``detect``, ``Spike``, ``scorable_end``) orchestrates; ``expected`` fits the
seasonal expected counts, ``mix`` the label-share baselines, ``significance`` holds the tails,
Benjamini-Hochberg and severity; ``series`` the input type; ``replay`` (``backtest``) replays
past days; ``settings`` the schema.

The detector's names load on first use: config validation imports ``SpikeSettings`` without
paying for scipy (the light floor, see ``tests/unit/test_import_floor.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from storage.spikes.settings import SpikeSettings

if TYPE_CHECKING:
    from storage.spikes.detection import Scoring, Spike, detect, scorable_end, score
    from storage.spikes.replay import backtest
    from storage.spikes.series import TopicSeries

_LAZY = {
    "Scoring": "storage.spikes.detection",
    "Spike": "storage.spikes.detection",
    "score": "storage.spikes.detection",
    "detect": "storage.spikes.detection",
    "scorable_end": "storage.spikes.detection",
    "backtest": "storage.spikes.replay",
    "TopicSeries": "storage.spikes.series",
}

__all__ = ["Scoring", "Spike", "SpikeSettings", "TopicSeries", "backtest", "detect", "scorable_end", "score"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
