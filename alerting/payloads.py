"""What a target receives: the spike itself (webhook) or a Slack-compatible message."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote


def page_link(public_url: str, spike: dict) -> str:
    """The analyst page's deep link to the spike's bucket: ``{public_url}/#/topic/{key}?bucket={bucket_start}``."""
    return f"{public_url}/#/topic/{quote(spike['topic'], safe='')}?bucket={spike['bucket_start']}"


def webhook_payload(spike: dict, *, key: str, alert_id: int, public_url: str) -> dict:
    """The spike as ``/v1/spikes`` gives it, with the idempotency key, the alert id and the link."""
    return {"idempotency_key": key, "alert_id": alert_id, "link": page_link(public_url, spike), **spike}


def _what(spike: dict) -> str:
    kind, observed, expected = spike["kind"], spike["observed"], spike["expected"]
    if kind == "volume":
        return f"{observed} mentions against {expected:.1f} expected"
    label = "negative sentiment" if kind == "sentiment:negative" else kind.split(":", 1)[1]
    return f"{observed} mentions with {label} against {expected:.1f} expected"


def summary(spike: dict) -> str:
    """One line for people: topic, kind, size, time and what drove it."""
    start, end = datetime.fromisoformat(spike["bucket_start"]), datetime.fromisoformat(spike["bucket_end"])
    when = f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    line = (
        f"{spike['topic']}: {spike['kind']} spike, severity {spike['severity']}/10 — "
        f"{_what(spike)} ({spike['lift']:.1f}×), {when}"
    )
    explanation = spike.get("explanation") or {}
    moved = explanation.get("emotion_moved_most")
    if isinstance(moved, dict) and {"label", "share", "baseline_share"} <= moved.keys():
        # estimated shares (``share_estimator``), as on the page: not label counts
        line += f". {moved['label']}: {moved['share']:.0%} of mentions against {moved['baseline_share']:.0%} usually"
    terms = [t["term"] if isinstance(t, dict) else str(t) for t in explanation.get("top_terms", [])]
    return line + (f". Top terms: {', '.join(terms[:5])}" if terms else "")


def slack_payload(spike: dict, *, key: str, alert_id: int, public_url: str) -> dict:
    """A Slack incoming-webhook message (also accepted by Mattermost and Rocket.Chat):
    ``text`` with the summary and a link to the page; the key rides along for receivers
    that deduplicate."""
    link = page_link(public_url, spike)
    return {"text": f":rotating_light: {summary(spike)}. <{link}|Open in moodwire>", "idempotency_key": key}


BUILDERS = {"webhook": webhook_payload, "slack": slack_payload}
