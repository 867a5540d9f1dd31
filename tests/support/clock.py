"""The server's clock as tests run it: a fixed date, whatever day the suite runs on."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from mcp_server_images.clock import Clock

FROZEN_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
"""The moment every in-process server of the suite starts at, unless a test picks another: after the catalog was
written and before gpt-image-1.5's shutdown on 2026-12-01, so both past and coming shutdowns are in view."""


class FrozenClock(Clock):
    """A clock whose date a test chooses. Within it time passes as it really does (so heartbeats, leases and the
    order of stored images behave as in use), and jumps only when the test moves it; with `ticking=False` it
    stands still, for tests that compute exact intervals from it."""

    def __init__(self, start: datetime = FROZEN_AT, *, ticking: bool = True) -> None:
        self._start = start
        self._started = time.monotonic()
        self._ticking = ticking

    def now(self) -> datetime:
        if not self._ticking:
            return self._start
        return self._start + timedelta(seconds=time.monotonic() - self._started)

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (timezone-aware)."""
        self._start, self._started = moment, time.monotonic()

    def advance(self, seconds: float) -> None:
        self._start += timedelta(seconds=seconds)
