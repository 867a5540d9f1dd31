"""list_images' use case: the stored images, newest first, optionally those whose prompt matches."""

from __future__ import annotations

from dataclasses import dataclass

from ..store import ImageRecord, ImageStore


@dataclass(frozen=True)
class Listing:
    images: list[ImageRecord]
    query: str | None


def list_images(store: ImageStore, limit: int, query: str | None) -> Listing:
    """Blocks on the store; run it in a worker thread."""
    return Listing(store.recent(limit=limit, query=query), query)
