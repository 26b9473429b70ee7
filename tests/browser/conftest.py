"""The browser tier: Debian's /usr/bin/chromium driven by Playwright for Python (never a
browser Playwright downloads). Without that binary the whole tier is skipped with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"browser tier skipped: {CHROMIUM} is missing (apt-get install -y chromium)")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


from tests.integration.conftest import pg_admin  # noqa: E402, F401 (the shared PostgreSQL fixture)
