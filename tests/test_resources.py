"""Stored images as MCP resources: listed newest first with pagination, read back as blobs."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import BlobResourceContents

from mcp_server_images.store import LocalStore
from tests.support.clock import FrozenClock
from tests.support.images import seed
from tests.support.results import text_of

pytestmark = pytest.mark.anyio


async def test_generated_images_are_listed_and_readable(client: Client) -> None:
    first = await client.call_tool("generate_image", {"prompt": "first"})
    second = await client.call_tool("generate_image", {"prompt": "second", "output_format": "jpeg"})
    assert first.structured_content is not None and second.structured_content is not None
    [older] = first.structured_content["images"]
    [newer] = second.structured_content["images"]

    listing = await client.list_resources()

    assert [str(r.uri) for r in listing.resources] == [newer["uri"], older["uri"]]
    top = listing.resources[0]
    assert top.mime_type == "image/jpeg"
    assert top.size == newer["bytes"]
    assert top.title is not None and top.title.startswith(f"{newer['id']}: second")
    assert listing.next_cursor is None

    read = await client.read_resource(newer["uri"])
    [contents] = read.contents
    assert isinstance(contents, BlobResourceContents)
    assert contents.mime_type == "image/jpeg"
    assert base64.b64decode(contents.blob) == Path(newer["path"]).read_bytes()


async def test_listing_is_paginated_newest_first(client: Client, output_dir: Path) -> None:
    ids = seed(output_dir, 55)

    page = await client.list_resources()
    assert len(page.resources) == 50
    assert page.next_cursor is not None
    rest = await client.list_resources(cursor=page.next_cursor)
    assert rest.next_cursor is None

    listed = [str(r.uri).removeprefix("images://") for r in page.resources + rest.resources]
    assert listed == list(reversed(ids))


async def test_reading_an_unknown_image_is_a_clear_error(client: Client) -> None:
    with pytest.raises(MCPError, match="No stored image has id 'deadbeef'"):
        await client.read_resource("images://deadbeef")


async def test_ids_survive_a_new_session(client: Client, output_dir: Path) -> None:
    result = await client.call_tool("generate_image", {"prompt": "kept"})
    assert result.structured_content is not None, text_of(result)
    [entry] = result.structured_content["images"]

    later = LocalStore(output_dir, FrozenClock())
    record = later.get(entry["id"])
    assert record.location == entry["path"]
    assert later.get(entry["id"][:4]).id == entry["id"], "a unique 4-character prefix finds it"
    assert record.prompt == "kept"


async def test_list_images_pages_with_a_cursor_and_says_the_total(client: Client, output_dir: Path) -> None:
    ids = seed(output_dir, 5)

    first = await client.call_tool("list_images", {"limit": 2})
    assert first.structured_content is not None
    assert [image["id"] for image in first.structured_content["images"]] == ids[::-1][:2]
    assert (first.structured_content["total"], first.structured_content["next_cursor"]) == (5, "2")
    assert text_of(first).startswith("Images 1-2 of 5, newest first:")
    assert "3 more: call list_images again with cursor '2' for the next page." in text_of(first)

    last = await client.call_tool("list_images", {"limit": 2, "cursor": "4"})
    assert last.structured_content is not None
    assert [image["id"] for image in last.structured_content["images"]] == [ids[0]]
    assert last.structured_content["next_cursor"] is None
    assert "more:" not in text_of(last)

    beyond = await client.call_tool("list_images", {"cursor": "9"})
    assert text_of(beyond) == "No more images: all 5 are listed on the earlier pages."

    wrong = await client.call_tool("list_images", {"cursor": "page-2"})
    assert wrong.is_error
    assert text_of(wrong) == (
        "cursor 'page-2' is not one list_images gave; leave it out to start from the newest image."
    )


async def test_the_image_template_names_every_stored_image(client: Client, output_dir: Path) -> None:
    [image_id] = seed(output_dir, 1)

    templates = (await client.list_resource_templates()).resource_templates

    assert [t.uri_template for t in templates] == ["images://{id}"]
    read = await client.read_resource(templates[0].uri_template.replace("{id}", image_id[:5]))
    [contents] = read.contents
    assert isinstance(contents, BlobResourceContents)
    assert base64.b64decode(contents.blob) == next(output_dir.glob(f"*{image_id}.png")).read_bytes()
