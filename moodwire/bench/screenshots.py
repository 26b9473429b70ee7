"""``make screenshots``: the README's pictures of the page, from a demo database.

A temporary SQLite file gets 35 days of six topics with daily and weekly rhythms and one
surge three hours ago; the app runs on a local Ray (loopback, no key); Debian's Chromium,
driven by Playwright, saves the overview and the surge's topic view to ``docs/``.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
EMOTIONS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
VALENCE = {"anger": -0.7, "disgust": -0.6, "fear": -0.5, "joy": 0.7, "neutral": 0.0, "sadness": -0.6, "surprise": 0.2}
# topic: (mentions per hour at the daily peak, emotion weights, phrases)
DEMO = {
    "economy": (9, [3, 1, 2, 2, 6, 2, 1], ["prices at the till", "the jobs report", "interest rates again"]),
    "healthcare": (7, [2, 1, 3, 2, 5, 3, 1], ["waiting lists", "the new clinic", "prescription costs"]),
    "housing": (5, [3, 1, 2, 1, 5, 2, 1], ["rents in the city", "the new flats", "mortgage offers"]),
    "climate_energy": (6, [2, 1, 3, 2, 5, 2, 2], ["the heat pump grant", "energy bills", "the flood defences"]),
    "elections": (8, [3, 2, 1, 3, 5, 1, 2], ["the debate tonight", "postal votes", "the latest poll"]),
    "immigration": (4, [3, 2, 3, 1, 5, 2, 1], ["the border bill", "visa delays", "the asylum centre"]),
}
SURGE_TOPIC, SURGE_SIZE = "housing", 70


def demo_records(now: datetime, days: int = 35, seed: int = 3) -> tuple[list, datetime]:
    """Classified mentions with daily (evening peak) and weekly (quieter weekends) rhythms,
    plus an angry surge about a rent freeze in the hour that ended two hours before ``now``."""
    from inference.schemas import EmotionResult, MentionResult, SentimentResult, TopicScore
    from storage.records import MentionRecord

    rng = np.random.default_rng(seed)
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    surge = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    sources = ["x.com", "reddit", "news", "forum"]

    def make(text, topic, emotion, when, i):
        score = float(np.clip(VALENCE[emotion] + rng.normal(0, 0.15), -1, 1))
        label = "positive" if score >= 0.3 else "negative" if score <= -0.3 else "neutral"
        result = MentionResult(
            emotion=EmotionResult(label=emotion, scores={e: (0.7 if e == emotion else 0.05) for e in EMOTIONS}),
            sentiment=SentimentResult(label=label, score=round(score, 3)),
            topics=[TopicScore(key=topic, score=0.6)],
            language="en",
        )
        return MentionRecord(
            text=text,
            external_id=f"demo-{i}",
            created_at=when,
            source=sources[i % 4],
            result=result,
            model_version="demo",
        )

    records, i, hour = [], 0, start
    while hour < now:
        from_peak = min((hour.hour - 19) % 24, (19 - hour.hour) % 24)  # hours from the 19:00 peak
        daily = 0.35 + 0.65 * math.exp(-(from_peak**2) / 18)
        weekly = 0.7 if hour.weekday() >= 5 else 1.0
        for topic, (peak, weights, phrases) in DEMO.items():
            p = np.array(weights, dtype=float) / sum(weights)
            for _ in range(rng.poisson(peak * daily * weekly)):
                emotion = EMOTIONS[rng.choice(7, p=p)]
                when = hour + timedelta(seconds=int(rng.integers(3600)))
                if when < now:
                    records.append(make(f"Talking about {phrases[i % 3]} ({topic}), post {i}", topic, emotion, when, i))
                i += 1
        hour += timedelta(hours=1)
    angry = [
        "The rent freeze was scrapped overnight and landlords are already writing to tenants",
        "Rent freeze gone, my landlord wants 20% more from next month. Furious.",
        "Councillors voted to end the rent freeze without any consultation",
    ]
    for k in range(SURGE_SIZE):
        emotion = "anger" if k % 3 else ("fear" if k % 2 else "disgust")
        records.append(make(angry[k % 3] + f" #{k}", SURGE_TOPIC, emotion, surge + timedelta(seconds=50 * k), i))
        i += 1
    return records, surge


def take(out_dir: Path = ROOT / "docs") -> int:
    import httpx
    import ray
    from playwright.sync_api import sync_playwright
    from ray import serve

    from serve_app.app import compose_app
    from serve_app.local import read_serve_config
    from storage.factory import open_service

    if not Path(CHROMIUM).exists():
        raise ValueError(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    now = datetime.now(UTC)
    folder = tempfile.mkdtemp(prefix="moodwire-shots-")
    url = f"sqlite:///{folder}/demo.db"
    records, surge = demo_records(now)
    service = open_service(url)
    for start in range(0, len(records), 2000):
        service.ingest(records[start : start + 2000])
    service.engine.dispose()
    print(f"screenshots: {len(records)} demo mentions in {url}", file=sys.stderr)
    os.environ.pop("MOODWIRE_API_KEY", None)
    os.environ.setdefault("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "60")
    from serve_app.ingress import free_port

    port = free_port()
    args, options = read_serve_config(ROOT / "configs" / "serve.yaml")
    ray.init(
        num_cpus=2,
        namespace="moodwire-shots",
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        log_to_driver=False,
    )
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(compose_app(args | {"database_url": url}, options), name="moodwire", route_prefix="/")
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            if httpx.get(base + "/readyz", timeout=60).status_code == 200:
                break
            time.sleep(2)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 820}, timezone_id="Europe/London")
            page.goto(base + "/")
            page.wait_for_selector("#overview-table tbody tr[data-topic]")
            page.screenshot(path=str(out_dir / "page-overview.png"), full_page=True)
            page.goto(f"{base}/#/topic/{SURGE_TOPIC}?bucket={surge.isoformat()}")
            page.wait_for_selector("#mention-table tbody tr[data-mention-id]")
            page.set_viewport_size({"width": 1280, "height": 1750})  # charts, spike and the first mentions
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(300)
            page.screenshot(path=str(out_dir / "page-topic.png"))
            browser.close()
    finally:
        serve.shutdown()
        ray.shutdown()
    print(f"screenshots: wrote {out_dir / 'page-overview.png'} and {out_dir / 'page-topic.png'}", file=sys.stderr)
    return 0


def main(out_dir: Path = ROOT / "docs") -> int:
    """Errors exit by the one table (``entrypoints.exit_codes``): one line, exit 2."""
    from entrypoints.exit_codes import run_command

    return run_command("moodwire.bench.screenshots", lambda: take(out_dir))


if __name__ == "__main__":
    raise SystemExit(main())
