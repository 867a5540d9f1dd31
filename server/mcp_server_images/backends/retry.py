"""When to retry an upstream call and how long to wait, following openai-python's proven rules.

Retried: connection failures, 408, 409, 429 and 5xx. `x-should-retry: true|false` overrides the status rule.
The wait is exponential with jitter, unless the server says how long (`retry-after-ms`, then `retry-after` in
seconds or as an HTTP date) and that is within the cap.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx2

from ..clock import Clock

RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    clock: Clock
    """The server's clock, against which a `retry-after` date is read."""
    max_retries: int = 2
    initial_delay: float = 0.5
    max_backoff: float = 8.0
    max_server_delay: float = 60.0

    def should_retry(self, response: httpx2.Response) -> bool:
        verdict = response.headers.get("x-should-retry", "").strip().lower()
        if verdict in ("true", "false"):
            return verdict == "true"
        return response.status_code in RETRYABLE_STATUS or response.status_code >= 500

    def delay(self, retry_index: int, response: httpx2.Response | None = None) -> float:
        """Seconds to wait before retry number `retry_index` (0-based)."""
        if response is not None:
            asked = server_requested_delay(response.headers, self.clock.now())
            if asked is not None and 0 <= asked <= self.max_server_delay:
                return asked
        backoff = min(self.initial_delay * 2.0**retry_index, self.max_backoff)
        return backoff * (1 - 0.25 * random.random())  # noqa: S311 - jitter, not cryptography


def server_requested_delay(headers: httpx2.Headers, now: datetime) -> float | None:
    """The delay a response asks for, in seconds from `now`, or None when it asks for none (or says it unreadably)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
