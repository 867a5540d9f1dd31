"""The local store's index seen through list_images and image refs: a folder another process writes (images
copied in or deleted by hand) is listed, searched and looked up as it is on disk, and a damaged index
file costs a warning in the log, never an error to the user."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from mcp import Client, MCPError
from mcp.types import CallToolResult

from mcp_server_images.imaging.probe import probe
from mcp_server_images.store import NewImage, Operation
from mcp_server_images.store.records import new_record
from tests.support.clock import FrozenClock
from tests.support.images import png_bytes
from tests.support.results import entries, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

IMAGE = png_bytes((32, 16), (10, 200, 10))


def copy_in(output_dir: Path, image_id: str, prompt: str, clock: FrozenClock) -> None:
    """An image and its sidecar written straight into the folder, as another server or a person copying files."""
    meta = NewImage(prompt=prompt, model="gpt-image-2", operation=Operation.GENERATE)
    record = new_record(meta, probe(IMAGE), image_id=image_id, size=len(IMAGE), locate=str, now=clock.now())
    (output_dir / record.name).write_bytes(IMAGE)
    (output_dir / record.sidecar_name).write_text(json.dumps(record.sidecar()))


def listed_ids(result: CallToolResult) -> list[str]:
    return [entry["id"] for entry in entries(result)]


async def test_images_copied_in_and_deleted_behind_the_servers_back_are_seen(
    client: Client, output_dir: Path, clock: FrozenClock
) -> None:
    [made] = entries(await client.call_tool("generate_image", {"prompt": "a red fox"}))
    await client.call_tool("list_images", {})  # the index is up to date with the folder

    clock.advance(60)
    copy_in(output_dir, "0123abcd", "A Green Frog on a leaf", clock)
    everything = await client.call_tool("list_images", {})
    frogs = await client.call_tool("list_images", {"query": "green FROG"})

    assert listed_ids(everything) == ["0123abcd", made["id"]]
    assert listed_ids(frogs) == ["0123abcd"]
    copied = await client.read_resource("images://0123abcd")
    assert base64.b64decode(copied.contents[0].blob) == IMAGE  # type: ignore[union-attr]

    Path(made["path"]).with_suffix(".json").unlink()
    Path(made["path"]).unlink()
    after = await client.call_tool("list_images", {})

    assert listed_ids(after) == ["0123abcd"]
    with pytest.raises(MCPError):
        await client.read_resource(made["uri"])


@pytest.mark.parametrize("damage", [b"not a database at all" * 100, b""], ids=["garbage", "empty"])
async def test_a_damaged_index_is_rebuilt_and_the_user_sees_every_image(
    make_settings: SettingsFactory, output_dir: Path, caplog: pytest.LogCaptureFixture, damage: bytes
) -> None:
    async with open_client(make_settings()) as client:
        made = [entries(await client.call_tool("generate_image", {"prompt": f"a print {n}"}))[0] for n in range(2)]
    index = output_dir / ".index" / "images.sqlite3"
    assert index.is_file(), "the index is kept beside the images"
    for file in index.parent.iterdir():
        file.unlink()  # the database and what SQLite keeps beside it: the whole index is damaged
    index.write_bytes(damage)

    async with open_client(make_settings()) as client:
        listing = await client.call_tool("list_images", {})

    assert not listing.is_error, text_of(listing)
    assert sorted(listed_ids(listing)) == sorted(image["id"] for image in made)
    assert index.read_bytes().startswith(b"SQLite format 3"), "rebuilt in place"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "image index" in r.getMessage()]
    assert len(warned) == 1, warned
