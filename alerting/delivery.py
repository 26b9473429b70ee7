"""Sending one alert to one target, at least once: retries with exponential backoff on
timeouts, connection errors, 429 and 5xx; any other answer outside 2xx fails at once.

Every attempt carries the same ``Idempotency-Key`` header (and the key in the body), so a
receiver that saw an attempt whose answer was lost can drop the repeat.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from alerting.settings import DeliverySettings

Post = Callable[[str, bytes, dict[str, str], float], int]  # (url, body, headers, timeout) -> status


def http_post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> int:
    """POST with the standard library (no client to install); the HTTP status, or raises
    ``OSError`` (timeouts, refused connections) for the caller to retry."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read(65536)
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool
    attempts: int
    error: str | None


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def deliver(
    url: str,
    payload: dict,
    *,
    key: str,
    timeout_s: float,
    retry: DeliverySettings,
    post: Post = http_post,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryOutcome:
    """Up to ``retry.max_attempts`` attempts, waiting ``backoff_initial_s`` x 2^n (at most
    ``backoff_max_s``) between them. The URL (it may hold a token) never enters the error."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": "moodwire-alerts"}
    error = None
    for attempt in range(1, retry.max_attempts + 1):
        try:
            status = post(url, body, headers, timeout_s)
        except TimeoutError:
            error = f"timed out after {timeout_s:g} s"
        except OSError as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or type(exc).__name__
            error = f"connection failed: {reason}"
        else:
            if 200 <= status < 300:
                return DeliveryOutcome(True, attempt, None)
            error = f"HTTP {status}"
            if not _retryable(status):
                return DeliveryOutcome(False, attempt, f"{error} (not retried)")
        if attempt < retry.max_attempts:
            sleep(min(retry.backoff_max_s, retry.backoff_initial_s * 2 ** (attempt - 1)))
    return DeliveryOutcome(False, retry.max_attempts, f"{error} after {retry.max_attempts} attempts")
