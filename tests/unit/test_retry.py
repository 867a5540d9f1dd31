"""When an upstream answer is retried and how long the wait is: `retry-after-ms`, `retry-after` in seconds or as an
HTTP date, and backoff when the server asks for nothing usable or for more than the cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import pytest

from mcp_server_images.backends.retry import RetryPolicy, server_requested_delay
from tests.support.clock import FrozenClock

NOW = datetime(2026, 11, 3, 12, 0, 0, tzinfo=UTC)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": " 0.25 "}, 0.25),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": http_date(NOW + timedelta(seconds=30))}, 30.0),
        ({"retry-after": "Tue, 03 Nov 2026 12:02:00 GMT"}, 120.0),
        ({"retry-after": "Tue, 03 Nov 2026 13:00:00 +0100"}, 0.0),
        ({"retry-after": "Tue, 03 Nov 2026 12:00:10 -0000"}, 10.0),
        ({"retry-after": http_date(NOW - timedelta(minutes=5))}, 0.0),
    ],
)
def test_the_delay_a_server_asks_for(headers: dict[str, str], delay: float) -> None:
    assert server_requested_delay(httpx2.Headers(headers), NOW) == delay


@pytest.mark.parametrize("headers", [{}, {"retry-after": "soon"}, {"retry-after": ""}, {"retry-after-ms": "x"}])
def test_no_usable_delay_is_none(headers: dict[str, str]) -> None:
    assert server_requested_delay(httpx2.Headers(headers), NOW) is None


def answer(status: int, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, headers=headers or {})


POLICY = RetryPolicy(
    max_retries=2, initial_delay=0.5, max_backoff=8.0, max_server_delay=60.0, clock=FrozenClock(NOW, ticking=False)
)


def test_a_delay_within_the_cap_is_honoured() -> None:
    assert POLICY.delay(0, answer(429, {"retry-after": "60"})) == 60.0
    assert POLICY.delay(3, answer(429, {"retry-after-ms": "10"})) == 0.01


@pytest.mark.parametrize("asked", ["3600", "60.5", "-1", "soon"])
def test_a_delay_beyond_the_cap_or_unreadable_falls_back_to_backoff(asked: str) -> None:
    for retry_index in range(6):
        backoff = min(0.5 * 2**retry_index, 8.0)
        waited = POLICY.delay(retry_index, answer(429, {"retry-after": asked}))
        assert 0.75 * backoff <= waited <= backoff


def test_backoff_doubles_up_to_its_ceiling_with_jitter_below() -> None:
    for retry_index, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]):
        waits = [POLICY.delay(retry_index) for _ in range(50)]
        assert all(0.75 * ceiling <= wait <= ceiling for wait in waits)


@pytest.mark.parametrize(
    ("status", "headers", "retried"),
    [
        (408, {}, True),
        (409, {}, True),
        (429, {}, True),
        (500, {}, True),
        (503, {}, True),
        (400, {}, False),
        (401, {}, False),
        (404, {}, False),
        (422, {}, False),
        (503, {"x-should-retry": "false"}, False),
        (400, {"x-should-retry": "true"}, True),
        (400, {"x-should-retry": " TRUE "}, True),
        (500, {"x-should-retry": "maybe"}, True),
    ],
)
def test_which_answers_are_retried(status: int, headers: dict[str, str], retried: bool) -> None:
    assert POLICY.should_retry(answer(status, headers)) is retried


def test_a_retry_after_date_is_read_against_the_policys_clock() -> None:
    """The server's clock, not the machine's: at NOW, a date 30 s after NOW is a 30 s wait, whatever today is."""
    asked = answer(429, {"retry-after": http_date(NOW + timedelta(seconds=30))})
    assert POLICY.delay(0, asked) == 30.0
    later = RetryPolicy(max_retries=2, clock=FrozenClock(NOW + timedelta(seconds=20), ticking=False))
    assert later.delay(0, asked) == 10.0
