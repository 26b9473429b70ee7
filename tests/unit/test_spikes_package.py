"""The spike detector is the top-level package ``spikes`` (pure: no SQL, no Ray), with the
public API of the storage package it came from; ``storage.spikes`` re-exports it for one
release and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_public_api_keeps_its_names():
    import spikes
    from spikes import SpikeSettings, TopicSeries, backtest, detect, score

    assert {"TopicSeries", "SpikeSettings", "detect", "score", "backtest"} <= set(spikes.__all__)
    assert callable(detect) and callable(score) and callable(backtest)
    assert SpikeSettings().alpha == 0.01 and TopicSeries.__name__ == "TopicSeries"


def test_storage_spikes_still_works_for_one_release_with_a_deprecation_warning():
    check = (
        "import warnings, spikes\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from storage.spikes import detect, SpikeSettings\n"
        "print(detect is spikes.detect, SpikeSettings is spikes.SpikeSettings)\n"
        "print([str(w.message) for w in caught if w.category is DeprecationWarning])\n"
    )
    output = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    same, messages = output.stdout.splitlines()
    assert same == "True True"
    assert "storage.spikes is deprecated" in messages and "import from spikes" in messages
