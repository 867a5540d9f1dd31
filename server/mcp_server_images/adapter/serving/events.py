"""The events of recent SSE streams, so that a client whose connection dropped mid-call resumes where it was.

With an event store the SDK opens every SSE stream with a priming event (an id, empty data and a `retry` field)
and numbers every event after it; a client that loses the connection reconnects with `Last-Event-ID` after
`retry` milliseconds and gets what it missed, the result of a slow generation included. The store is kept in
memory, per process, and bounded in bytes: the oldest events go first. A load balancer without session affinity
(stateless HTTP) has no streams to resume, so none is kept there.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import count

from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp.types import JSONRPCMessage

RETRY_MILLISECONDS = 2_000
"""How long a client waits before it reconnects to a stream that dropped."""
MAX_EVENT_BYTES = 32 * 1024 * 1024
"""Most bytes of events kept for replay: a few dozen results with their previews."""


class RecentEvents(EventStore):
    """The newest events of every stream, up to `max_bytes` of their JSON."""

    def __init__(self, max_bytes: int = MAX_EVENT_BYTES) -> None:
        self._max_bytes = max_bytes
        self._events: OrderedDict[EventId, tuple[StreamId, JSONRPCMessage | None, int]] = OrderedDict()
        self._bytes = 0
        self._numbers = count(1)

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        event_id = f"{next(self._numbers)}"
        size = len(message.model_dump_json(by_alias=True, exclude_unset=True)) if message is not None else 0
        self._events[event_id] = (stream_id, message, size)
        self._bytes += size
        while self._bytes > self._max_bytes and len(self._events) > 1:
            _, (_, _, dropped) = self._events.popitem(last=False)
            self._bytes -= dropped
        return event_id

    async def replay_events_after(self, last_event_id: EventId, send_callback: EventCallback) -> StreamId | None:
        """Send the events of `last_event_id`'s stream that came after it; None when it is no longer kept."""
        found = self._events.get(last_event_id)
        if found is None:
            return None
        stream_id = found[0]
        later = list(self._events.items())
        start = next(index for index, (event_id, _) in enumerate(later) if event_id == last_event_id) + 1
        for event_id, (stream, message, _) in later[start:]:
            if stream == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id
