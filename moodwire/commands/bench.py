"""``moodwire bench KIND``: reproducible throughput and latency figures.

Every kind but ``overview`` and ``soak`` measures ``raw`` (plain batched forward passes of
both models) in the same invocation and reports ``ratio_to_raw`` against it. With ``--json``
each run prints one JSON line and the LAST line is the headline run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from serve_app.ingress import DEFAULT_INGRESS, INGRESS_KINDS

SOAK_DURATION_S = 600.0  # the target's 10 minutes
KINDS = {
    # name: (default --texts, help)
    "raw": (4_000, "the physical limit: both models' plain batched forward passes"),
    "naive": (300, "one text at a time through both models, one database write each"),
    "online": (4_000, "HTTP load against moodwire serve from a separate load-generator process"),
    "backfill": (20_000, "a Ray Data backfill of N mentions into a fresh database"),
    "ingest": (20_000, "database writes: mentions/s in batches of 500"),
    "aggregate": (100_000, "per-topic aggregate latency on a seeded database"),
    "overview": (1_000_000, "the page's overview (GET /v1/overview) on a database of N mentions"),
    "soak": (
        4_000,
        "mixed online traffic, open loop at 80 %% of the maximum for --duration seconds: errors, p99, memory",
    ),
    "versus": (
        4_000,
        "moodwire's /v1/classify and /v1/embeddings side by side with another embedding server "
        "(infinity-emb) serving the same MiniLM, alternating rounds",
    ),
    "precision": (
        2_000,
        "the CPU speed options (torch int8, ONNX Runtime fp32/int8) against fp32: speed and GoEmotions dev F1",
    ),
}


def concurrency_list(value: str) -> list[int]:
    try:
        levels = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--concurrency {value!r}: give integers like 1,4,16") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError(f"--concurrency {value!r}: give integers >= 1")
    return levels


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("bench", help="measure throughput and latency")
    kinds = parser.add_subparsers(dest="bench_command", required=True, metavar="KIND")
    for name, (default_texts, help_text) in KINDS.items():
        sub = kinds.add_parser(name, help=help_text)
        sub.add_argument("--texts", type=int, default=default_texts, help=f"texts to run (default {default_texts})")
        sub.add_argument(
            "--concurrency",
            type=concurrency_list,
            default=None,
            help="online: clients, e.g. 1,4,16 (default 1,2,4,8,16,32); ingest: writers (default 1); "
            "soak: clients measuring the maximum (default 16)",
        )
        sub.add_argument(
            "--duration",
            type=float,
            default=SOAK_DURATION_S if name == "soak" else 15.0,
            help=f"online: seconds per load run (default 15); soak: the whole run (default {SOAK_DURATION_S:g}, >= 10)",
        )
        sub.add_argument("--database-url", help="default: a temporary SQLite file")
        sub.add_argument("--json", action="store_true", help="one JSON line per run; the last is the headline")
        sub.add_argument("--raw-texts", type=int, default=2_000, help="texts for the raw baseline (a spread sample)")
        sub.add_argument("--short", action="store_true", help="tweet-sized texts only")
        if name in ("raw", "naive", "online", "backfill", "soak", "versus"):
            sub.add_argument(
                "--pipeline-config",
                type=Path,
                help="model settings for every run, raw included (default: configs/moodwire.yaml)",
            )
        if name in ("online", "versus"):
            sub.add_argument("--url", help="an already running app (default: start moodwire serve on a free port)")
        if name == "versus":
            sub.add_argument(
                "--versus-url",
                required=True,
                help="the other server, its OpenAI-style routes under /v1 (infinity_emb v2 --url-prefix /v1)",
            )
        if name in ("online", "soak"):
            sub.add_argument(
                "--ingress",
                choices=INGRESS_KINDS,
                default=DEFAULT_INGRESS,
                help="moodwire serve's --ingress for the app it starts (default haproxy)",
            )
        if name == "soak":
            sub.add_argument("--plot", type=Path, help="draw p99 per interval and memory per process to this PNG")
        if name == "backfill":
            sub.add_argument("--config", type=Path, help="backfill config (default: configs/backfill.yaml)")
        if name == "precision":
            sub.add_argument("--goemotions", type=Path, help="GoEmotions folder (dev.tsv) for the F1 comparison")
        if name == "ingest":
            sub.add_argument("--spread-days", type=float, default=30, help="posting times span this many days")
        sub.set_defaults(handler=run)


DATABASE_KINDS = ("naive", "online", "backfill", "ingest", "aggregate", "overview", "soak", "versus")


def check_database(url: str) -> None:
    """Fail in a second, not after minutes of model loading, when --database-url cannot be used."""
    from sqlalchemy import text

    from storage.engine import create_database_engine, shown_url
    from storage.errors import database_errors

    engine = create_database_engine(url)
    try:
        with database_errors(what="the bench's database check", where=shown_url(url)), engine.connect() as c:
            c.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def check_app(url: str) -> None:
    """Fail in a second, not after minutes of measuring raw, when ``--url`` has no ready app
    (``ServiceUnreachableError``, exit 1)."""
    import httpx

    from entrypoints.exit_codes import ServiceUnreachableError

    try:
        status = httpx.get(f"{url.rstrip('/')}/readyz", timeout=10).status_code
    except httpx.HTTPError as exc:
        raise ServiceUnreachableError(f"cannot reach the app at {url} ({exc})") from None
    if status != 200:
        raise ServiceUnreachableError(f"the app at {url} is not ready (GET /readyz answered {status})")


def soak_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the soak's arguments, before minutes of starting the app."""
    import importlib.util

    from moodwire.bench.soak import MIN_DURATION_S

    if args.duration < MIN_DURATION_S:
        return f"--duration must be at least {MIN_DURATION_S:g} seconds, got {args.duration:g}"
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        from moodwire.bench.soak_plot import MISSING_MATPLOTLIB

        return f"--plot: {MISSING_MATPLOTLIB}"
    return None


def bench_backend(args: argparse.Namespace) -> str | None:
    """What ran the models of this bench: ``fake`` (``source: fake``, placeholders), else the
    emotion model's runtime (``onnxruntime``, ``torch``); None for kinds without models."""
    if args.bench_command == "overview":
        return None
    from inference.fake_models import fake_sources
    from inference.settings import load_pipeline_settings

    settings = load_pipeline_settings(getattr(args, "pipeline_config", None))
    if fake_sources(settings):
        return "fake"
    from inference.device import resolve_runtime

    spec = settings.emotion
    return resolve_runtime(spec.runtime, spec.device, spec.dtype)


def run(args: argparse.Namespace) -> int:
    from moodwire.bench.runner import run_kind

    if args.texts < 1 or args.raw_texts < 1:
        raise ValueError("--texts and --raw-texts must be at least 1")
    if args.bench_command == "soak":
        problem = soak_problem(args)
        if problem:
            raise ValueError(f"soak {problem}")
    if args.database_url is not None and args.bench_command in DATABASE_KINDS:
        check_database(args.database_url)
    if getattr(args, "url", None):
        check_app(args.url)
    if args.bench_command == "versus":
        from moodwire.bench.versus import check_other

        check_other(args.versus_url)
    runs = run_kind(args)
    backend = bench_backend(args)
    for figures in runs:
        if backend is not None:
            figures = {**figures, "backend": backend}
        if args.json:
            print(json.dumps(figures), flush=True)
        else:
            print(f"-- {figures.get('run', args.bench_command)}")
            for key, value in figures.items():
                if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
                    print(f"{key:>32}:")  # the soak's memory: one process a line
                    for name, row in value.items():
                        print(f"{'':>34}{name}: {row}")
                else:
                    print(f"{key:>32}: {value}")
    return 0
