"""Log lines on stderr, as text (the default) or as one JSON object per line (`--log-format json`).

The adapter names the call a line belongs to (`call_context`: request id, user, tool); every line logged while the
call runs, and by the job it starts, carries them, and the line that closes a call adds its model, cost and
outcome. A log collector can then follow one call across the lines of a busy server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_CALL: ContextVar[dict[str, str | None] | None] = ContextVar("mcp_images_call", default=None)


@contextmanager
def call_context(*, request_id: str | None, user: str | None, tool: str) -> Iterator[None]:
    """Tag the log lines of this call (and of the tasks it starts) with its request id, user and tool."""
    token = _CALL.set({"request_id": request_id, "user": user, "tool": tool})
    try:
        yield
    finally:
        _CALL.reset(token)


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id", "user", "tool", ...}`: the call's fields when the line
    belongs to one, the closing line's `model`, `cost`, `outcome` (and more), and `exception` with a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line |= {key: value for key, value in (_CALL.get() or {}).items() if value is not None}
        closing = getattr(record, "call", None)
        if isinstance(closing, dict):
            line |= {key: value for key, value in closing.items() if value is not None}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str, log_format: str) -> None:
    """Everything on stderr, in the chosen format."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
