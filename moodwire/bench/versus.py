"""``moodwire bench versus --versus-url URL``: moodwire's online routes side by side with another
embedding server (infinity-emb) serving the same MiniLM, on the same machine and texts.

The other server runs in its own environment (infinity-emb is not a moodwire dependency), with
its routes under ``/v1`` (``infinity_emb v2 --url-prefix /v1 --served-model-name default``).
Each round loads it, then moodwire's ``/v1/classify`` and ``/v1/embeddings`` (single texts,
``--concurrency`` clients, the result cache off, as ``bench online`` runs them); rounds
alternate so drift on a shared machine hits both. The headline is the median ratio of
``/v1/classify`` texts/s to the other server's embeddings texts/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys

import httpx

from moodwire.bench.online import HEADLINE_CONCURRENCY, load, serving

ROUNDS = 2


def check_other(url: str) -> None:
    """The other server answers an embeddings request, checked before minutes of starting
    moodwire (``ServiceUnreachableError``, exit 1, else)."""
    from entrypoints.exit_codes import ServiceUnreachableError

    url = url.rstrip("/")
    try:
        response = httpx.post(f"{url}/v1/embeddings", json={"input": "hello", "model": "default"}, timeout=60)
    except httpx.HTTPError as exc:
        raise ServiceUnreachableError(f"--versus-url {url}: no answer from {url}/v1/embeddings ({exc})") from None
    if response.status_code != 200:
        raise ServiceUnreachableError(
            f"--versus-url {url}: /v1/embeddings answered {response.status_code}: {response.text[:200]}"
        )


def bench_versus(args: argparse.Namespace, texts: list[str]) -> list[dict]:
    """Alternating rounds: the other server's embeddings, then moodwire's classify and
    embeddings; one run per line, the summary (median ratios) last."""
    from moodwire.bench.storage import fresh_database

    other = args.versus_url.rstrip("/")  # checked by the command first (``check_other``)
    level = (args.concurrency or [HEADLINE_CONCURRENCY])[-1]
    runs: list[dict] = []
    with contextlib.ExitStack() as stack:
        if args.url:
            url = args.url
        else:
            engine = stack.enter_context(fresh_database(args.database_url))
            app = stack.enter_context(
                serving(engine.url.render_as_string(hide_password=False), getattr(args, "pipeline_config", None))
            )
            url = app.url
        for round_number in range(1, ROUNDS + 1):
            for server, target, mode in (
                (other, "other", "embeddings"),
                (url, "moodwire", "single"),
                (url, "moodwire", "embeddings"),
            ):
                figures = load(server, texts, concurrency=level, mode=mode, duration=args.duration)
                figures = {**figures, "server": target, "round": round_number}
                print(f"bench versus: {json.dumps(figures)}", file=sys.stderr)
                runs.append(figures)

    def rates(server: str, run: str) -> list[float]:
        return [r["texts_per_s"] for r in runs if r["server"] == server and r["run"] == run]

    other_rates = rates("other", "online-embeddings")
    classify, embeddings = rates("moodwire", "online-single"), rates("moodwire", "online-embeddings")
    summary = {
        "run": "versus",
        "concurrency": level,
        "other_embeddings_texts_per_s": round(statistics.median(other_rates), 1),
        "classify_texts_per_s": round(statistics.median(classify), 1),
        "embeddings_texts_per_s": round(statistics.median(embeddings), 1),
        "classify_vs_other": round(statistics.median(c / o for c, o in zip(classify, other_rates, strict=True)), 3),
        "embeddings_vs_other": round(statistics.median(e / o for e, o in zip(embeddings, other_rates, strict=True)), 3),
    }
    return [*runs, summary]
