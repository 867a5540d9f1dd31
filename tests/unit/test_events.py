"""The events kept for resuming SSE streams: replay after an id, per stream, within a byte bound."""

from __future__ import annotations

import pytest
from mcp.server.streamable_http import EventMessage
from mcp.types import JSONRPCNotification

from mcp_server_images.adapter.serving.events import RecentEvents

pytestmark = pytest.mark.anyio


def note(text: str) -> JSONRPCNotification:
    return JSONRPCNotification(jsonrpc="2.0", method="notifications/progress", params={"message": text})


async def replayed(store: RecentEvents, after: str) -> tuple[str | None, list[str]]:
    sent: list[EventMessage] = []

    async def send(event: EventMessage) -> None:
        sent.append(event)

    stream = await store.replay_events_after(after, send)
    return stream, [event.message.params["message"] for event in sent]  # type: ignore[union-attr,index]


async def test_a_stream_resumes_after_the_last_event_its_client_saw() -> None:
    store = RecentEvents()
    priming = await store.store_event("a", None)
    seen = await store.store_event("a", note("first"))
    await store.store_event("b", note("other stream"))
    await store.store_event("a", note("second"))
    await store.store_event("a", note("result"))

    assert await replayed(store, seen) == ("a", ["second", "result"])
    assert await replayed(store, priming) == ("a", ["first", "second", "result"])
    assert await replayed(store, "unknown") == (None, [])


async def test_the_oldest_events_go_when_the_bound_is_reached() -> None:
    one = len(note("x" * 100).model_dump_json(by_alias=True, exclude_unset=True))
    store = RecentEvents(max_bytes=3 * one)
    first = await store.store_event("a", note("x" * 100))
    kept = [await store.store_event("a", note("x" * 100)) for _ in range(3)]

    assert await replayed(store, first) == (None, [])
    stream, messages = await replayed(store, kept[0])
    assert (stream, len(messages)) == ("a", 2)
