"""deploy/grafana/moodwire-dashboard.json queries only series that the app really exports.

The metric objects are declared in serve_app/metrics.py and batch_jobs/metrics.py
(``SERVE_METRIC_NAMES`` and ``BACKFILL_METRIC_NAMES`` list them all). Ray
exports each with a ``ray_`` prefix: a Counter as ``ray_<name>`` (its name already ends in
``_total``, which Prometheus' counter naming keeps instead of adding a second one), a
Histogram only as ``ray_<name>_bucket``, ``_sum`` and ``_count``. The last test checks that
rule against Ray's own exporter.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from batch_jobs import metrics as backfill_metrics
from serve_app import metrics

METRIC_NAMES = (*metrics.SERVE_METRIC_NAMES, *backfill_metrics.BACKFILL_METRIC_NAMES)
ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "moodwire-dashboard.json"

# PromQL words that are not metric names (aggregations are caught as calls or by name).
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}
KEYWORDS |= {"inf", "nan", "atan2"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana variables allowed)."""
    names = set(re.findall(r'__name__\s*=\s*"([^"]*)"', expr))
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery selectors
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables ($__rate_interval, ${datasource})
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    text = re.sub(r"(?<![\w.])\d+(?:ms|s|m|h|d|w|y)\b", " ", text)  # durations (offset 5m)
    text = re.sub(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", " ", text)  # numbers
    for match in re.finditer(r"[A-Za-z_:][\w:]*", text):
        word = match.group()
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function call: rate(...), histogram_quantile(...)
        if word not in AGGREGATIONS and word not in KEYWORDS:
            names.add(word)
    return names


def declared_metrics() -> dict[str, str]:
    """``{name: Counter|Histogram|Gauge}`` for every metric object the app and the backfill create."""
    sources = [Path(module.__file__).read_text(encoding="utf-8") for module in (metrics, backfill_metrics)]
    tree = ast.Module(body=[node for source in sources for node in ast.parse(source).body], type_ignores=[])
    kinds = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"Counter", "Histogram", "Gauge"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            kinds[node.args[0].value] = node.func.id
    return kinds


def exported_series(name: str, kind: str) -> set[str]:
    """The Prometheus series names Ray exports for one ``ray.util.metrics`` object."""
    if kind == "Counter":
        return {f"ray_{name}" if name.endswith("_total") else f"ray_{name}_total"}
    if kind == "Histogram":
        return {f"ray_{name}_{suffix}" for suffix in ("bucket", "sum", "count")}
    return {f"ray_{name}"}


def allowed_series() -> set[str]:
    kinds = declared_metrics()
    return {series for name in METRIC_NAMES for series in exported_series(name, kinds[name])}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    with open(DASHBOARD, encoding="utf-8") as f:
        return json.load(f)


def targets(dashboard: dict) -> list[tuple[str, dict]]:
    return [(panel["title"], target) for panel in dashboard["panels"] for target in panel.get("targets", [])]


# -- the extraction itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            "sum by (route, status) (rate(ray_moodwire_requests_total[$__rate_interval]))",
            {"ray_moodwire_requests_total"},
        ),
        (
            'histogram_quantile(0.95, sum by (le) (rate(ray_moodwire_db_write_seconds_bucket{job="ray"}[5m])))',
            {"ray_moodwire_db_write_seconds_bucket"},
        ),
        (
            "sum(rate(a_total[1m] offset 1h)) / on (model) group_left(route) sum without (x) (b_count) > bool 1e-3",
            {"a_total", "b_count"},
        ),
        ('count({__name__="ray_moodwire_texts_total", route="/v1/classify"})', {"ray_moodwire_texts_total"}),
        (
            "max_over_time(ray_moodwire_batch_size_sum[$__range:1m]) and ray_up",
            {"ray_moodwire_batch_size_sum", "ray_up"},
        ),
    ],
)
def test_metric_names_are_extracted(expr, expected):
    assert metric_names(expr) == expected


def test_a_made_up_metric_is_caught():
    expr = "sum by (route) (rate(ray_moodwire_request_total[$__rate_interval]))"  # requests, misspelt
    unknown = metric_names(expr) - allowed_series()
    assert unknown == {"ray_moodwire_request_total"}


def test_a_histogram_queried_without_a_suffix_is_caught():
    # rate() of the bare histogram name selects nothing in Prometheus.
    assert metric_names("rate(ray_moodwire_request_latency_seconds[5m])") - allowed_series()


def test_metric_names_lists_every_metric_the_code_creates():
    assert set(declared_metrics()) == set(METRIC_NAMES)


# -- the dashboard ---------------------------------------------------------------------------


def test_every_panel_has_a_target_with_an_expression(dashboard):
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel.get("targets"), f"panel {panel['title']!r} has no target"
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"], panel["title"]
        assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"]), panel["title"]


def test_every_expression_queries_exported_series_only(dashboard):
    allowed = allowed_series()
    for title, target in targets(dashboard):
        found = metric_names(target["expr"])
        assert found, f"{title!r}: no metric in {target['expr']!r}"
        assert found <= allowed, f"{title!r}: {sorted(found - allowed)} is not exported by the app"


def test_quantiles_come_from_buckets_by_le(dashboard):
    for title, target in targets(dashboard):
        expr = target["expr"]
        if "histogram_quantile" in expr:
            assert all(name.endswith("_bucket") for name in metric_names(expr)), title
            assert re.search(r"\bby\s*\([^)]*\ble\b", expr), f"{title!r}: quantiles need `by (le, ...)`"


def test_every_exported_metric_has_a_panel(dashboard):
    queried = {name for _, target in targets(dashboard) for name in metric_names(target["expr"])}
    kinds = declared_metrics()
    missing = [name for name in METRIC_NAMES if not exported_series(name, kinds[name]) & queried]
    assert not missing, f"no panel for {missing}"


def test_the_dashboard_covers_what_operators_ask_for(dashboard):
    exprs = " ".join(target["expr"] for _, target in targets(dashboard))
    for needed in (
        "rate(ray_moodwire_requests_total",  # request rate
        "histogram_quantile(0.99, sum by (le, route) (rate(ray_moodwire_request_latency_seconds_bucket",
        "ray_moodwire_batch_size_bucket",
        "rate(ray_moodwire_texts_total",
        "ray_moodwire_db_write_seconds_bucket",
        "sum by (outcome) (rate(ray_moodwire_backfill_rows_total",  # backfill progress
    ):
        assert needed in exprs


def test_panels_use_the_datasource_variable(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


# -- the naming rule, checked against Ray's exporter -----------------------------------------

EXPORT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    try:
        from ray._private.telemetry.open_telemetry_metric_recorder import OpenTelemetryMetricRecorder
    except ImportError as exc:
        print(json.dumps({"skip": str(exc)}))
        sys.exit(0)
    from prometheus_client import REGISTRY, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    recorder = OpenTelemetryMetricRecorder()
    for name, kind in json.loads(sys.argv[1]).items():
        if kind == "Histogram":
            recorder.register_histogram_metric(name, "test", [0.1, 1.0])
        elif kind == "Counter":
            recorder.register_counter_metric(name, "test")
        else:
            recorder.register_gauge_metric(name, "test")
        recorder.set_metric_value(name, {}, 0.5)
    text = generate_latest(REGISTRY).decode()
    series = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    print(json.dumps({"series": sorted(s for s in series if "moodwire" in s)}))
    """
)


def test_the_naming_rule_is_what_rays_exporter_produces():
    kinds = declared_metrics()
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_SCRIPT, json.dumps(kinds)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(f"Ray's metric recorder moved: {result['skip']}")
    expected = {series for name, kind in kinds.items() for series in exported_series(name, kind)}
    assert set(result["series"]) == expected
