"""Waiting in tests for what another thread or process does: on a condition, never for a number of seconds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import anyio

PATIENCE = 30.0
"""How long to wait for something that happens at once on an idle machine: generous, so load never fails a test."""


@contextmanager
def patiently(what: str) -> Iterator[None]:
    """Bound a wait by PATIENCE; if it runs out, fail with a message naming what never happened."""
    try:
        with anyio.fail_after(PATIENCE):
            yield
    except TimeoutError:
        raise AssertionError(f"gave up waiting for {what} after {PATIENCE:.0f} s") from None


async def until(condition: Callable[[], bool], what: str) -> None:
    """Return as soon as `condition()` holds; fail naming `what` if it still does not after PATIENCE seconds."""
    with patiently(what):
        while not condition():
            await anyio.sleep(0.01)


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """As `until`, for a condition that has to ask something (a tool call) to know."""
    with patiently(what):
        while not await condition():
            await anyio.sleep(0.01)
