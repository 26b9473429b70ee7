"""Alert settings, payloads and the delivery loop, without a network: a fake ``post`` answers."""

from __future__ import annotations

import pytest

from alerting import AlertSettings, DeliverySettings, load_alert_settings, target_urls
from alerting.delivery import deliver
from alerting.payloads import page_link, slack_payload, webhook_payload
from inference.config_files import ConfigError

SPIKE = {
    "topic": "economy",
    "kind": "volume",
    "bucket_start": "2026-11-18T15:00:00+00:00",
    "bucket_end": "2026-11-18T16:00:00+00:00",
    "observed": 31,
    "expected": 2.4,
    "lift": 12.9,
    "p_value": 1e-9,
    "severity": 9,
    "explanation": {"top_terms": [{"term": "tariffs"}, {"term": "steel"}]},
}


def write(tmp_path, body: str):
    path = tmp_path / "alerts.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_the_shipped_file_loads_with_no_targets():
    settings = load_alert_settings()
    assert settings.targets == [] and settings.recent_horizon_hours == 6


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("public_url: http://x\ntargts: []\n", "unknown key 'targts'"),
        ("targets:\n  - {name: a, kind: email, url: 'http://x'}\n", "'targets.0.kind'"),
        ("targets:\n  - {name: a, kind: slack}\n", "exactly one of url_env"),
        ("targets:\n  - {name: a, kind: webhook, url: 'ftp://x'}\n", "'targets.0.url'"),
        ("targets:\n  - {name: a, kind: webhook, url: 'http://x', kinds: [volumes]}\n", "'targets.0.kinds'"),
        ("targets:\n  - {name: a, kind: webhook, url: 'http://x', min_severity: 11}\n", "'targets.0.min_severity'"),
        (
            "targets:\n  - {name: a, kind: webhook, url: 'http://x'}\n  - {name: a, kind: slack, url: 'http://y'}\n",
            "names must be unique",
        ),
        ("recent_horizon_hours: 0\n", "'recent_horizon_hours'"),
    ],
)
def test_a_wrong_key_names_file_and_key(tmp_path, body, message):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_alert_settings(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)


def test_secret_urls_come_from_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, "targets:\n  - {name: slack, kind: slack, url_env: MW_TEST_SLACK_URL}\n")
    settings = load_alert_settings(path)
    monkeypatch.delenv("MW_TEST_SLACK_URL", raising=False)
    with pytest.raises(ConfigError, match=r"alerts.yaml: 'targets.0.url_env'.*MW_TEST_SLACK_URL.*unset"):
        target_urls(settings, path)
    monkeypatch.setenv("MW_TEST_SLACK_URL", "https://hooks.slack.example/T0/B0/secret")
    assert target_urls(settings, path) == {"slack": "https://hooks.slack.example/T0/B0/secret"}


def test_webhook_gets_the_spike_with_key_and_link():
    body = webhook_payload(SPIKE, key="k1", alert_id=7, public_url="https://mw.example.org")
    assert {k: body[k] for k in SPIKE} == SPIKE
    assert (body["idempotency_key"], body["alert_id"]) == ("k1", 7)
    assert body["link"] == "https://mw.example.org/#/topic/economy?bucket=2026-11-18T15:00:00+00:00"


def test_slack_gets_a_text_summary_with_the_page_link():
    text = slack_payload(SPIKE, key="k1", alert_id=7, public_url="https://mw.example.org")["text"]
    assert "economy: volume spike, severity 9/10" in text
    assert "31 mentions against 2.4 expected (12.9×), 2026-11-18 15:00–16:00 UTC" in text
    assert "Top terms: tariffs, steel" in text
    assert f"<{page_link('https://mw.example.org', SPIKE)}|Open in moodwire>" in text
    anger = SPIKE | {"kind": "emotion:anger", "observed": 12, "expected": 3.0}
    assert (
        "12 mentions with anger against 3.0 expected"
        in slack_payload(anger, key="k", alert_id=1, public_url="x")["text"]
    )


def test_slack_quotes_the_estimated_share_of_the_emotion_that_moved_most():
    moved = {"label": "anger", "share": 0.4321, "baseline_share": 0.1}
    spike = SPIKE | {"explanation": SPIKE["explanation"] | {"emotion_moved_most": moved}}
    text = slack_payload(spike, key="k", alert_id=1, public_url="x")["text"]
    assert "anger: 43% of mentions against 10% usually" in text


class FakePost:
    """Answers with scripted statuses or exceptions and records every attempt."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def __call__(self, url, body, headers, timeout):
        self.calls.append((url, body, dict(headers), timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


RETRY = DeliverySettings(max_attempts=4, backoff_initial_s=1, backoff_max_s=3)


def test_timeouts_and_5xx_are_retried_with_backoff_and_one_key():
    post, waits = FakePost(TimeoutError(), 502, ConnectionRefusedError(111, "refused"), 204), []
    outcome = deliver("http://hook", {"a": 1}, key="k1", timeout_s=5, retry=RETRY, post=post, sleep=waits.append)
    assert (outcome.delivered, outcome.attempts, outcome.error) == (True, 4, None)
    assert waits == [1, 2, 3]  # doubling, capped at backoff_max_s
    assert {c[2]["Idempotency-Key"] for c in post.calls} == {"k1"} and len({c[1] for c in post.calls}) == 1


def test_the_budget_ends_in_failure_with_the_last_reason_and_no_url():
    post = FakePost(500, 500, 500, TimeoutError())
    url = "https://hooks.slack.example/T0/B0/secret-token"
    outcome = deliver(url, {}, key="k", timeout_s=2, retry=RETRY, post=post, sleep=lambda s: None)
    assert (outcome.delivered, outcome.attempts) == (False, 4)
    assert outcome.error == "timed out after 2 s after 4 attempts" and "secret" not in outcome.error


def test_a_4xx_other_than_429_fails_at_once():
    outcome = deliver("http://hook", {}, key="k", timeout_s=1, retry=RETRY, post=FakePost(403), sleep=lambda s: None)
    assert (outcome.delivered, outcome.attempts, outcome.error) == (False, 1, "HTTP 403 (not retried)")
    outcome = deliver(
        "http://hook", {}, key="k", timeout_s=1, retry=RETRY, post=FakePost(429, 200), sleep=lambda s: None
    )
    assert (outcome.delivered, outcome.attempts) == (True, 2)


def test_default_settings_validate():
    assert AlertSettings().delivery.max_attempts == 6
