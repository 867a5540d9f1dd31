"""list_images' use case: the stored images, newest first, optionally those whose prompt matches, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ParameterError
from ..store import ImageRecord, Store


@dataclass(frozen=True)
class Listing:
    images: list[ImageRecord]
    query: str | None
    total: int
    """How many stored images match, on every page."""
    offset: int
    next_cursor: str | None
    """Pass back as `cursor` for the next page; None on the last page."""


def list_images(store: Store, limit: int, query: str | None, cursor: str | None = None) -> Listing:
    """Blocks on the store; run it in a worker thread. The cursor is the offset into the newest-first listing of
    what `store` shows (a user's owner-scoped view lists that user's own images)."""
    offset = _offset(cursor)
    page = store.recent(offset=offset, limit=limit, query=query)
    total = store.count(query=query)
    end = offset + len(page)
    return Listing(page, query, total, offset, str(end) if end < total else None)


def _offset(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not cursor.isdigit():
        raise ParameterError(
            "cursor", f"cursor {cursor!r} is not one list_images gave; leave it out to start from the newest image."
        )
    return int(cursor)
