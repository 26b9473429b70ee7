"""The analysts' page in a real browser against a running app on real PostgreSQL (issue 15):
the overview shows the API's counts, a spike opens exactly its bucket's mentions (by click
and by deep link), the CSV download holds those rows, hostile text stays text, a wrong key
gets a message, and the console stays clean."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from spikes import scorable_end
from spikes.series import floor_hour
from storage.factory import Storage
from storage.settings import StorageSettings
from tests.browser.conftest import CHROMIUM
from tests.integration.conftest import make_pg_engine, record, result, schema_url
from tests.integration.serving import local_serve_app
from tests.integration.test_spikes import history_records
from tests.unit.fakes import fake_model_config

API_KEY = "page-key-" + uuid.uuid4().hex[:8]
AUTH = {"Authorization": f"Bearer {API_KEY}"}
WATCHED = "page-economy"
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def app(pg_admin, tmp_path_factory):
    """A seeded schema (40 days of two topics, a surge in the last complete hour with one
    hostile text in it), then the Serve app on a local Ray with an API key."""

    from storage.migrate import upgrade

    engine, schema = make_pg_engine(pg_admin, prefix="mw_test_page_")
    upgrade(engine)
    now = datetime.now(UTC)
    surge = scorable_end(now, grace_minutes=10) - timedelta(hours=1)
    records, planted = history_records(
        now,
        topics=(WATCHED, "page-healthcare"),
        surge_hours_ago=int((floor_hour(now) - surge) / timedelta(hours=1)),
        prefix="page-",
    )
    records.append(
        record(
            HOSTILE,
            external_id="page-hostile",
            created_at=(surge + timedelta(minutes=40)).isoformat(),
            result=result("anger", -0.7, {WATCHED: 0.9}),
            source="forum",
        )
    )
    Storage.over(engine, settings=StorageSettings()).writes.ingest(records)
    try:
        # The page shows stored data only: the fake models (``source: fake``) start in no time.
        models = fake_model_config(tmp_path_factory.mktemp("page-models"))
        args = {"database_url": schema_url(schema), "pipeline_config": str(models)}
        with local_serve_app(args, api_key=API_KEY, namespace="moodwire-page") as base:
            yield {"base": base, "surge": planted}
    finally:
        engine.dispose()
        with pg_admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console_errors():
    return []


@pytest.fixture()
def page(browser, app, console_errors):
    """A fresh browser context that has entered the right key; console errors and dialogs
    are collected for the tests that check them."""
    context = browser.new_context(accept_downloads=True)
    tab = context.new_page()
    tab.dialogs = []
    tab.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: console_errors.append(str(error)))
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.goto(app["base"] + "/")
    tab.fill("#key-input", API_KEY)
    tab.click("#key-form button[type=submit]")
    yield tab
    context.close()


def api(app, path: str, **params):
    response = httpx.get(app["base"] + path, params=params, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    return response


def bucket_mentions(app) -> list[dict]:
    surge = app["surge"]
    since, until = surge.isoformat(), (surge + timedelta(hours=1)).isoformat()
    return api(app, "/v1/mentions", topic=WATCHED, since=since, until=until, limit=1000).json()["items"]


def test_the_page_and_its_assets_load_without_a_key_under_a_strict_csp(app):
    for path in ("/", "/static/app.js", "/static/vendor/uplot/uPlot.iife.min.js", "/page-config.json"):
        response = httpx.get(app["base"] + path, timeout=30)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == "default-src 'self'"
    assert httpx.get(app["base"] + "/v1/overview", timeout=30).status_code == 401
    assert httpx.get(app["base"] + "/static/..%2Fgateway.py", timeout=30).status_code == 404  # no way out
    assert "cdn" not in httpx.get(app["base"] + "/", timeout=30).text.lower()


def test_the_overview_lists_every_topic_with_the_apis_counts(app, page):
    expected = {row["key"]: row for row in api(app, "/v1/overview").json()["topics"]}
    page.wait_for_selector("#overview-table tbody tr[data-topic]")
    shown = {}
    for row in page.query_selector_all("#overview-table tbody tr[data-topic]"):
        cells = {f: row.query_selector(f"td[data-field={f}]").inner_text() for f in ("volume_24h", "volume_7d")}
        shown[row.get_attribute("data-topic")] = {f: int(v.replace(",", "")) for f, v in cells.items()}
    assert shown == {k: {"volume_24h": r["volume_24h"], "volume_7d": r["volume_7d"]} for k, r in expected.items()}
    assert page.inner_text(f"tr[data-topic='{WATCHED}'] .badge") == str(expected[WATCHED]["spike"]["severity"])
    for key, row in expected.items():  # the emotion most above its own usual share, not the top label
        move = row["emotion_above_baseline"]
        cell = page.inner_text(f"tr[data-topic='{key}'] td[data-field=emotion_above_baseline]")
        assert cell == (
            "–" if move is None else f"{move['label']} +{round(100 * (move['share'] - move['baseline_share']))} pts"
        )
    page.click("#overview-table th[data-sort=key] button")  # sortable: by name, A to Z
    keys = [r.get_attribute("data-topic") for r in page.query_selector_all("#overview-table tbody tr")]
    assert keys == sorted(keys)


def test_the_topic_view_draws_estimated_shares_and_says_which_buckets_are_too_thin(app, page):
    page.goto(f"{app['base']}/#/topic/{WATCHED}")
    page.wait_for_selector("#emotion-chart .u-legend")
    legend = page.inner_text("#emotion-chart .u-legend")
    timeline = api(app, f"/v1/topics/{WATCHED}/timeline", window="hour").json()
    labels = {label for b in timeline["buckets"] for label in (b["emotion_share"] or {})}
    assert labels and all(label in legend for label in labels)
    assert "fewer than 20 mentions" in legend
    assert "95 % band" in page.inner_text("#topic-view")


def shown_mentions(page) -> list[str]:
    page.wait_for_selector("#mention-table tbody tr[data-mention-id]")
    return [row.get_attribute("data-mention-id") for row in page.query_selector_all("#mention-table tbody tr")]


def test_clicking_the_spike_lists_exactly_its_buckets_mentions_as_text(app, page):
    surge = app["surge"]
    page.goto(f"{app['base']}/#/topic/{WATCHED}")
    page.click(f"button.spike[data-bucket='{surge.isoformat()}']")
    ids = shown_mentions(page)
    items = bucket_mentions(app)
    assert ids == [str(m["id"]) for m in items] and len(ids) > 30
    assert "volume" in page.inner_text("#explanation") and "tariffs" in page.inner_text("#explanation")
    hostile = page.locator("#mention-table td.text", has_text="onerror")
    assert hostile.inner_text() == HOSTILE
    assert page.locator("#mention-table img").count() == 0 and page.dialogs == []


def test_a_deep_link_opens_the_same_list(app, page):
    surge = app["surge"]
    page.goto(f"{app['base']}/#/topic/{WATCHED}?bucket={surge.isoformat()}")
    assert shown_mentions(page) == [str(m["id"]) for m in bucket_mentions(app)]


def test_the_csv_download_has_the_buckets_rows(app, page):
    surge = app["surge"]
    page.goto(f"{app['base']}/#/topic/{WATCHED}?bucket={surge.isoformat()}")
    shown_mentions(page)
    with page.expect_download() as download:
        page.click("#export-button")
    body = Path(download.value.path()).read_bytes().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert [r["external_id"] for r in rows] == [m["external_id"] for m in bucket_mentions(app)]
    assert "page-hostile" in [r["external_id"] for r in rows]
    direct = api(
        app,
        "/v1/mentions",
        topic=WATCHED,
        since=surge.isoformat(),
        until=(surge + timedelta(hours=1)).isoformat(),
        format="csv",
    )
    assert direct.headers["content-type"] == "text/csv; charset=utf-8" and direct.headers["x-truncated"] == "false"


def test_a_wrong_key_shows_a_message_not_a_blank_page(app, browser):
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(app["base"] + "/")
    tab.wait_for_selector("#key-panel:not([hidden])")
    assert "needs an API key" in tab.inner_text("#key-message")
    tab.fill("#key-input", "not-the-key")
    tab.click("#key-form button[type=submit]")
    tab.locator("#key-message", has_text="not accepted").wait_for()  # the CSP forbids wait_for_function's eval
    assert tab.is_visible("#key-panel")
    context.close()


def test_the_console_had_no_errors(console_errors):
    """Runs after the page tests of this module (file order)."""
    assert console_errors == []
