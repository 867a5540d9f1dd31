"""The server's orderly stop: once it begins, no new call starts, every call in flight answers within the shutdown
grace period (with its result, or with its job id when the job is still running), and running jobs get what is
left of the grace to finish and store their images.

One `Drain` serves the whole server. The transport begins it (SIGTERM or SIGINT, or the end of stdin), waits for
the answers it still owes to be written (HTTP counts its POST requests here, `owing`; stdio watches its own
pipes), and then closes the connections; the tool calls shorten their waits to the moment calls must answer; the
jobs get until the end of the grace period. Calls answer a little before the end (`ANSWER_MARGIN`), so that their
answers are out before the last jobs are stopped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

log = logging.getLogger(__name__)

ANSWER_MARGIN = 2.0
"""Seconds before the end of the grace period at which calls still waiting answer with their job ids (at most a
tenth of the grace period)."""


class Drain:
    """Whether the server is stopping, until when calls may wait, and how many answers are still owed.

    Its methods run on the server's event loop (the events are made there, on first use).
    """

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._ends_at: float | None = None
        """When the grace period ends, on the event loop's clock; None until the drain begins."""
        self._owed = 0
        self._begun: anyio.Event | None = None
        self._settled: anyio.Event | None = None

    @property
    def draining(self) -> bool:
        return self._ends_at is not None

    def begin(self) -> None:
        """Stop taking calls; the grace period starts now. A second call changes nothing."""
        if self._ends_at is not None:
            return
        self._ends_at = anyio.current_time() + self.grace
        self._begun_event().set()
        log.info(
            "shutting down: calls in flight answer within %g s, and running job(s) to finish get as long", self.grace
        )

    def answer_by(self) -> float:
        """When calls in flight must answer, on the event loop's clock (infinity while not draining)."""
        if self._ends_at is None:
            return math.inf
        return self._ends_at - min(ANSWER_MARGIN, self.grace / 10)

    def remaining(self) -> float:
        """Seconds left of the grace period: all of it while not draining."""
        if self._ends_at is None:
            return self.grace
        return max(0.0, self._ends_at - anyio.current_time())

    @contextmanager
    def owing(self) -> Iterator[None]:
        """Count an answer as owed while the block runs (an HTTP request)."""
        self._owed += 1
        try:
            yield
        finally:
            self._owed -= 1
            if self._owed == 0 and self._settled is not None:
                self._settled.set()

    async def begun(self) -> None:
        """Return once the drain has begun."""
        await self._begun_event().wait()

    async def answered(self) -> None:
        """Return once no answer is owed, or when the grace period ends, whichever is first."""
        with anyio.move_on_after(self.remaining()):
            while self._owed:
                self._settled = anyio.Event()
                await self._settled.wait()

    async def wait(self, event: anyio.Event, seconds: float) -> None:
        """Wait for `event` up to `seconds` (infinity: no limit), or less once the drain begins: calls in flight
        then answer by `answer_by()`."""
        ends = anyio.current_time() + seconds
        while not event.is_set() and not self.draining:
            with anyio.move_on_after(ends - anyio.current_time()):
                async with anyio.create_task_group() as either:
                    either.start_soon(_then_cancel, event, either.cancel_scope)
                    either.start_soon(_then_cancel, self._begun_event(), either.cancel_scope)
            if anyio.current_time() >= ends:
                return
        with anyio.move_on_after(min(ends, self.answer_by()) - anyio.current_time()):
            await event.wait()

    def _begun_event(self) -> anyio.Event:
        if self._begun is None:
            self._begun = anyio.Event()
        return self._begun


async def _then_cancel(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
