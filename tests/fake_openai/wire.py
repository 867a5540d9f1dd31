"""Small pieces every emulated endpoint answers with: request ids and server-sent events split like the real ones."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import anyio.lowlevel


def request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


async def split_event(name: str | None, data: dict[str, Any] | str) -> AsyncIterator[bytes]:
    """One event (named, or a bare `data:` line as chat streams send) written in two chunks, so readers must join
    split events."""
    payload = data if isinstance(data, str) else json.dumps(data)
    encoded = (f"event: {name}\n" if name else "").encode() + f"data: {payload}\n\n".encode()
    middle = len(encoded) // 2
    yield encoded[:middle]
    await anyio.lowlevel.checkpoint()
    yield encoded[middle:]
