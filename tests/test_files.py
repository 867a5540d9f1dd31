"""No file is read or written that should not be, and nothing is left behind: races, links, modes, temporaries.

Reads race against a link swapped in a loop; save_to is aimed at the output folder through links and has its
folder swapped for a link while the image is being made; the files it writes get the user's usual mode; and
temporaries a crash left in the output folder are cleaned at start-up.
"""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.fake_openai import Emulator
from tests.support.images import png_bytes, write_png
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

RACE_TRIES = 600


SWAPPER = """
import os, sys
kind, link, real, elsewhere = sys.argv[1:]
staging = link + "-staging"
while True:
    os.symlink(elsewhere, staging)
    os.replace(staging, link)
    if kind == "file":
        os.link(real, staging)
    else:
        os.symlink(real, staging)
    os.replace(staging, link)
"""
"""An attacker in another process, flipping `link` between the allowed `real` and `elsewhere` as fast as it can."""


@contextmanager
def swapping(kind: str, link: Path, real: Path, elsewhere: Path) -> Iterator[None]:
    process = subprocess.Popen([sys.executable, "-c", SWAPPER, kind, str(link), str(real), str(elsewhere)])
    try:
        yield
        assert process.poll() is None, "the swapping process stopped early"
    finally:
        process.kill()
        process.wait(timeout=10)


def sent_to_the_model(emulator: Emulator) -> list[bytes]:
    sent = []
    for request in emulator.requests_to("/chat/completions"):
        assert request.json is not None
        for part in request.json["messages"][0]["content"]:
            if part["type"] == "image_url":
                sent.append(base64.b64decode(part["image_url"]["url"].split(",", 1)[1]))
    return sent


@pytest.mark.parametrize("swapped", ["file", "folder"])
async def test_a_link_swapped_in_during_reads_never_sends_an_outside_file(
    client: Client, emulator: Emulator, home: Path, tmp_path: Path, swapped: str
) -> None:
    inside, secret = png_bytes((32, 32), (0, 200, 0)), png_bytes((32, 32), (200, 0, 0))
    outside = write_png(tmp_path / "outside" / "pic.png")
    outside.write_bytes(secret)
    album = home / "album"
    album.mkdir()
    (album / "pic.png").write_bytes(inside)
    if swapped == "file":
        path, real, elsewhere = home / "pic.png", album / "pic.png", outside
    else:
        path, real, elsewhere = home / "current" / "pic.png", album, outside.parent
    link = path if swapped == "file" else path.parent

    with swapping(swapped, link, real, elsewhere):
        for _ in range(RACE_TRIES):
            await client.call_tool("analyze_image", {"images": [str(path)]})

    sent = sent_to_the_model(emulator)
    assert secret not in sent, "a file outside the allowed folders reached the model"
    assert inside in sent, "reads that did not race went through"


async def test_save_to_cannot_reach_the_output_folder_through_a_link(
    client: Client, emulator: Emulator, home: Path, output_dir: Path
) -> None:
    first = await client.call_tool("generate_image", {"prompt": "the original"})
    assert first.structured_content is not None
    stored = Path(first.structured_content["images"][0]["path"])
    original = stored.read_bytes()
    (home / "gallery").symlink_to(output_dir)

    aimed = f"~/gallery/{stored.name}"
    second = await client.call_tool(
        "generate_image", {"prompt": "an impostor", "save_to": aimed, "overwrite": True, "size": "1536x1024"}
    )

    assert second.is_error
    assert text_of(second) == (
        f"save_to '{aimed}' is inside the output folder {output_dir}, where every image is already stored; "
        "choose another folder."
    )
    assert stored.read_bytes() == original
    assert len(emulator.requests_to("/images/generations")) == 1, "refused before anything was sent"


async def test_save_to_cannot_reach_the_output_folder_through_a_linked_home(
    make_settings: SettingsFactory, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_home = tmp_path / "real-home"
    linked_home = tmp_path / "linked-home"
    real_home.mkdir()
    linked_home.symlink_to(real_home)
    monkeypatch.setenv("HOME", str(linked_home))
    output_dir = linked_home / "Pictures" / "mcp-server-images"

    async with open_client(make_settings(output_dir=output_dir)) as client:
        result = await client.call_tool(
            "generate_image", {"prompt": "x", "save_to": "~/Pictures/mcp-server-images/copy.png"}
        )

    assert result.is_error
    assert text_of(result).startswith("save_to '~/Pictures/mcp-server-images/copy.png' is inside the output folder")
    assert emulator.requests_except_models == []


async def test_save_to_is_checked_again_when_written(
    client: Client, emulator: Emulator, home: Path, tmp_path: Path
) -> None:
    folder = home / "out"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    results: list[CallToolResult] = []

    async def call() -> None:
        results.append(await client.call_tool("generate_image", {"prompt": "a lighthouse", "save_to": "~/out/pic.png"}))

    with emulator.hold("/images/generations") as hold:
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            await hold.until_held()
            folder.rename(home / "out-before")
            folder.symlink_to(elsewhere)
            hold.release()

    [result] = results
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert Path(result.structured_content["images"][0]["path"]).is_file(), "the image is kept in the store"
    assert "save_to failed, the images are still in the store: " in text_of(result)
    assert "goes through a symbolic link that leads outside the allowed folders" in text_of(result)
    assert list(elsewhere.iterdir()) == []
    assert "saved_to" not in result.structured_content


async def test_saved_copies_get_the_usual_file_mode(client: Client, home: Path) -> None:
    previous = os.umask(0o022)
    try:
        result = await client.call_tool("generate_image", {"prompt": "a kite", "save_to": "~/kite.png"})
    finally:
        os.umask(previous)

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    stored = Path(result.structured_content["images"][0]["path"])
    assert stat.S_IMODE((home / "kite.png").stat().st_mode) == 0o644
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600, "the store stays private"


async def test_a_nul_character_in_a_path_is_a_clear_error(client: Client, emulator: Emulator, home: Path) -> None:
    write_png(home / "cat.png")
    read = await client.call_tool("edit_image", {"images": ["~/cat\x00.png"], "prompt": "add a hat"})
    saved = await client.call_tool("generate_image", {"prompt": "x", "save_to": "~/out\x00/x.png"})

    assert read.is_error and saved.is_error
    assert text_of(read) == (
        "'~/cat\\x00.png' contains a NUL character (\\x00), which no file name can hold; check how the path was "
        "written."
    )
    assert text_of(saved) == (
        "'~/out\\x00/x.png' contains a NUL character (\\x00), which no file name can hold; check how the path was "
        "written."
    )
    assert emulator.requests_except_models == []


async def test_stale_temporaries_are_removed_at_start_up(make_settings: SettingsFactory, output_dir: Path) -> None:
    output_dir.mkdir(parents=True)
    stale = output_dir / ".partial-k3j2h1.png"
    stale.write_bytes(b"half an image")
    fresh = output_dir / ".partial-a8b7c6.png"
    fresh.write_bytes(b"a write in progress")
    # An hour older than a file written now, by the file system's clock (the machine's may be moved).
    hour_ago = fresh.stat().st_mtime - 3600
    os.utime(stale, (hour_ago, hour_ago))

    async with open_client(make_settings()) as client:
        listed = await client.call_tool("list_images", {})

    assert text_of(listed) == "No images are stored yet."
    assert not stale.exists()
    assert fresh.exists(), "a temporary younger than a few minutes may belong to a write still under way"
