"""Deprecated: the spike detector is the top-level package ``spikes`` now. This re-export
stays for one release; ``from storage.spikes import detect`` warns and works."""

from __future__ import annotations

import warnings

from spikes import Scoring, Spike, SpikeSettings, TopicSeries, backtest, detect, scorable_end, score

warnings.warn(
    "storage.spikes is deprecated and goes in the next release: import from spikes instead "
    "(from spikes import TopicSeries, SpikeSettings, detect, score, backtest)",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["Scoring", "Spike", "SpikeSettings", "TopicSeries", "backtest", "detect", "scorable_end", "score"]
