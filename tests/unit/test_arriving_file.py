"""`ArrivingFile`: an image's bytes written while they arrive, moved into place only when they are all there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcp_server_images.store import files
from mcp_server_images.store.files import ArrivingFile

IMAGE = os.urandom(3 * files.SYNC_EVERY + 12_345)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    made = tmp_path / "images"
    made.mkdir()
    return made


def arrive(folder: Path, data: bytes) -> ArrivingFile:
    file = ArrivingFile(folder)
    for start in range(0, len(data), 65_536):
        file.write(data[start : start + 65_536])
    return file


def test_a_whole_arrival_is_moved_into_place(folder: Path) -> None:
    file = arrive(folder, IMAGE)
    assert file.place(folder / "image.png", len(IMAGE))
    assert (folder / "image.png").read_bytes() == IMAGE
    file.discard()
    files._WRITER.submit(int).result()  # the discard has run
    assert sorted(path.name for path in folder.iterdir()) == ["image.png"]


def test_an_arrival_of_another_length_is_not_placed_and_leaves_nothing(folder: Path) -> None:
    file = arrive(folder, IMAGE[:-1])
    assert not file.place(folder / "image.png", len(IMAGE))
    assert list(folder.iterdir()) == []


def test_a_discarded_arrival_leaves_nothing(folder: Path) -> None:
    file = arrive(folder, IMAGE)
    file.discard()
    assert not file.place(folder / "image.png", len(IMAGE))
    assert list(folder.iterdir()) == []


def test_a_failed_write_is_not_placed(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = ArrivingFile(folder)
    file.write(IMAGE[:1000])
    files._WRITER.submit(int).result()

    def full(handle: int, data: memoryview) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    file.write(IMAGE[1000:])
    files._WRITER.submit(int).result()  # the write has run, and failed
    monkeypatch.undo()
    assert not file.place(folder / "image.png", len(IMAGE))
    assert list(folder.iterdir()) == []
