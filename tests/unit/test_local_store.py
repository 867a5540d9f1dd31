"""The local store's index: saves never rescan the folder, listings rescan it only when it changed, and a new
image never takes the files of one stored by another server meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_server_images.imaging.probe import probe
from mcp_server_images.store import LocalStore, NewImage, Operation, records
from tests.support.clock import FrozenClock
from tests.support.images import png_bytes

IMAGE = png_bytes((32, 16), (200, 10, 10))
META = NewImage(prompt="a dot", model="gpt-image-2", operation=Operation.GENERATE)


def counting_scans(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    scans: list[int] = []
    scan = store._reindex

    def counted() -> None:
        scans.append(1)
        scan()

    monkeypatch.setattr(store, "_reindex", counted)
    return scans


def test_saves_do_not_rescan_the_folder_and_a_listing_sees_every_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = LocalStore(tmp_path, FrozenClock())
    other = LocalStore(tmp_path, FrozenClock())  # another server on the same folder
    ours.recent()
    scans = counting_scans(ours, monkeypatch)

    saved = [ours.save(IMAGE, probe(IMAGE), META).id for _ in range(3)]
    theirs = other.save(IMAGE, probe(IMAGE), META).id
    saved.append(ours.save(IMAGE, probe(IMAGE), META).id)

    assert scans == [], "a save adds its own record to the index"
    assert {record.id for record in ours.recent()} == {*saved, theirs}
    assert scans == [1], "the folder changed behind the store's back: one scan"
    ours.recent()
    assert scans == [1]


def test_a_new_image_never_takes_the_files_of_one_stored_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers, the same second, the same random id: the second to save picks another id."""
    moment = datetime(2026, 11, 22, 9, 30, 0, tzinfo=UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Frozen:
            return cls.fromtimestamp(moment.timestamp(), UTC)

    ids = iter(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(records, "datetime", Frozen)
    monkeypatch.setattr("mcp_server_images.store.local.secrets.token_hex", lambda _size: next(ids))

    first = LocalStore(tmp_path, FrozenClock()).save(IMAGE, probe(IMAGE), META)
    second = LocalStore(tmp_path, FrozenClock()).save(png_bytes((32, 16), (0, 0, 200)), probe(IMAGE), META)

    assert (first.id, second.id) == ("aaaaaaaa", "bbbbbbbb")
    assert (tmp_path / first.name).read_bytes() == IMAGE
    assert {record.id for record in LocalStore(tmp_path, FrozenClock()).recent()} == {"aaaaaaaa", "bbbbbbbb"}
