"""The light floor: storage, the error tables, the alert watcher and the CLI start without
torch, and the spike detector without scipy until it computes a tail (fresh interpreters, so
earlier imports cannot hide a dependency). Which package may import which is
``test_layout_rules.py``'s."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers")


@pytest.mark.parametrize(
    "statement",
    [
        "import storage.records, storage.service, storage.factory, storage.errors, storage.reads",
        "import alerting.watcher, alerting.settings, entrypoints.exit_codes",
        "import serve_app.errors, serve_app.requests, serve_app.model_host",
        "import moodwire.cli; moodwire.cli.build_parser()",
        "import inference.validation, inference.interfaces, inference.postprocess, inference.versions",
        "import inference.language; inference.language.LanguageDetector().load()",  # numpy only
    ],
)
def test_light_modules_do_not_import_torch(statement):
    check = f"import sys; {statement}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]", output.stdout


def test_the_spike_detector_loads_scipy_only_to_compute_a_tail():
    check = (
        "import sys, spikes; before = 'scipy' in sys.modules; "
        "from spikes.significance import negative_binomial_tail; negative_binomial_tail(3, 1.0, 0.0); "
        "print(before, 'scipy.special' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["False", "True"]
