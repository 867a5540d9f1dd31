"""list_images' use case: the stored images, newest first, optionally those whose prompt matches."""

from __future__ import annotations

from dataclasses import dataclass

from ..store import ImageRecord, Store


@dataclass(frozen=True)
class Listing:
    images: list[ImageRecord]
    query: str | None


def list_images(store: Store, limit: int, query: str | None, user: str | None = None) -> Listing:
    """Blocks on the store; run it in a worker thread. With `user`, only the images that user made."""
    return Listing(store.recent(limit=limit, query=query, user=user), query)
