"""Spike detection: pure functions over dense hourly series (numpy, and scipy's special
functions on first use); no SQL, no Ray, no HTTP. ``storage`` reads the series from the rollups
and records the verdicts; every face calls these functions through it.

``detection`` (``detect``, ``score``, ``Spike``, ``Scoring``, ``scorable_end``) orchestrates;
``expected`` fits the seasonal expected counts, ``mix`` the label-share baselines,
``significance`` holds the tails, Benjamini-Hochberg and severity; ``series`` the input type
(``TopicSeries``); ``replay`` (``backtest``) replays past days; ``terms`` the words that set a
bucket's texts apart; ``settings`` the schema (``SpikeSettings``).

Importing the package costs numpy only: ``significance`` loads ``scipy.special`` the first
time a tail is computed, so config validation (``SpikeSettings``) stays on the light floor.
"""

from __future__ import annotations

from spikes.detection import Scoring, Spike, detect, scorable_end, score
from spikes.replay import backtest
from spikes.series import TopicSeries
from spikes.settings import SpikeSettings

__all__ = ["Scoring", "Spike", "SpikeSettings", "TopicSeries", "backtest", "detect", "scorable_end", "score"]
