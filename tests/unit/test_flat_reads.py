"""Reads whose cost must not grow with the store: a user's lookup through the owner-scoped view, and the expiry
sweep. Both once listed every image of the store (a user's, or everyone's); they now ask the store's index for what
they need, and answer as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mcp_server_images.imaging.probe import probe
from mcp_server_images.operations.housekeeping import Housekeeping
from mcp_server_images.store import ImageRecord, LocalStore, NewImage, Operation
from mcp_server_images.store.base import ImageNotFoundError
from mcp_server_images.store.owned import OwnedStore, Viewer
from mcp_server_images.telemetry import Telemetry
from tests.support.clock import FrozenClock
from tests.support.images import png_bytes

IMAGE = png_bytes((16, 16), (0, 120, 0))


class Counted(LocalStore):
    """The local store, noting every listing asked of it without a limit."""

    def __init__(self, root: Path, clock: FrozenClock) -> None:
        super().__init__(root, clock)
        self.whole: list[dict[str, Any]] = []

    def recent(
        self, *, offset: int = 0, limit: int | None = None, query: str | None = None, user: str | None = None
    ) -> list[ImageRecord]:
        if limit is None:
            self.whole.append({"offset": offset, "query": query, "user": user})
        return super().recent(offset=offset, limit=limit, query=query, user=user)


def made(store: LocalStore, clock: FrozenClock, user: str | None, count: int) -> list[ImageRecord]:
    records = []
    for _ in range(count):
        meta = NewImage(prompt="a leaf", model="gpt-image-2", operation=Operation.GENERATE, user=user)
        records.append(store.save(IMAGE, probe(IMAGE), meta))
        clock.advance(3600)
    return records


def test_a_users_lookup_asks_for_their_images_by_id_not_for_all_of_them(tmp_path: Path) -> None:
    clock = FrozenClock()
    store = Counted(tmp_path, clock)
    alices = made(store, clock, "alice", 3)
    bobs = made(store, clock, "bob", 2)
    shared = store.mark_shared(bobs[0], shared=True)
    alice = OwnedStore(store, Viewer(subject="alice", own_only=True))

    assert alice.get(alices[1].id) == alices[1]
    assert alice.get(alices[2].id[:5]) == alices[2]
    assert alice.get(shared.id) == shared, "a shared image, by its full id"
    for hidden in (bobs[1].id, shared.id[:6], bobs[1].id[:4]):
        with pytest.raises(ImageNotFoundError, match="No stored image has id"):
            alice.get(hidden)
    assert store.whole == [], "no lookup listed a whole store"


def test_the_expiry_sweep_deletes_oldest_first_without_listing_every_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More images expire than one batch holds: every one of them goes, and the images kept are never listed."""
    monkeypatch.setattr("mcp_server_images.operations.housekeeping.EXPIRY_BATCH", 2)
    clock = FrozenClock()
    store = Counted(tmp_path, clock)
    old = made(store, clock, "alice", 5)
    kept = made(store, clock, "bob", 3)
    sweep = Housekeeping(store, clock, Telemetry("openai"), retention=3600, expiry=3 * 3600 + 1)

    swept = sweep.sweep()

    assert swept.images == 5
    assert sorted(record.id for record in store.recent(limit=10)) == sorted(record.id for record in kept)
    assert store.whole == []
    assert not any((tmp_path / record.name).exists() for record in old)
