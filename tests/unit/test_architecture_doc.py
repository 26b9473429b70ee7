"""docs/ARCHITECTURE.md names only what exists: every path and every dotted name that starts
with one of our packages (``storage.reads.topics.TopicReads``) resolves, in prose, tables and
diagrams alike, so the map cannot drift from the house."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGES = ("inference", "spikes", "storage", "alerting", "training", "entrypoints", "serve_app", "batch_jobs")
PACKAGES += ("moodwire", "deploy")
DOTTED = re.compile(r"(?<![\w./])(?:" + "|".join(PACKAGES) + r")(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
PATH = re.compile(r"(?<![\w./])(?:" + "|".join((*PACKAGES, "configs", "docs", "tests")) + r")/[A-Za-z0-9_./-]*")


def named(pattern: re.Pattern) -> set[str]:
    return {match.rstrip(".") for match in pattern.findall(DOC.read_text(encoding="utf-8"))}


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                found = getattr(found, "func_or_class", found)  # a Serve deployment: its class
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def test_the_map_names_enough_to_follow_both_paths():
    assert len(named(DOTTED)) > 60 and len(named(PATH)) > 15


def test_every_dotted_name_in_the_map_exists():
    assert sorted(name for name in named(DOTTED) if not resolves(name)) == []


def test_every_path_in_the_map_exists():
    assert sorted(path for path in named(PATH) if not (ROOT / path).exists()) == []


def test_the_check_catches_a_name_that_is_gone():
    assert resolves("storage.reads.topics.TopicReads.aggregate")
    assert not resolves("storage.service.AggregationService.aggregate")
    assert not resolves("storage.nosuch.Thing")
