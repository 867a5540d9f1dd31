"""Result rendering: previews inside the inline budget, full files untouched on disk, the three inline modes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from tests.fake_openai import Emulator
from tests.support.images import decode_image
from tests.support.results import images_in, links_in, serialized_size, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

CLAUDE_DESKTOP_LIMIT = 1_048_576


async def test_a_large_photo_is_previewed_under_the_budget_and_kept_whole(
    client: Client, emulator: Emulator, record_property: Callable[[str, object], None]
) -> None:
    emulator.set(photo_like=True)

    result = await client.call_tool("generate_image", {"prompt": "a busy street", "size": "1536x1024"})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    path = Path(entry["path"])
    [sent] = emulator.sent_images
    assert len(sent) > 3_000_000, "the emulator sent a several-MB photo-like PNG"
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(sent).digest()
    assert entry["bytes"] == len(sent)

    size = serialized_size(result)
    record_property("large_image_result_bytes", size)
    assert size < 900_000
    [block] = images_in(result)
    preview = decode_image(block.data)
    assert block.mime_type == "image/jpeg"
    assert max(preview.size) <= 1568
    assert abs(preview.width / preview.height - 1536 / 1024) < 0.02, "aspect ratio kept"
    text = text_of(result)
    assert f"Shown below as a smaller preview ({preview.width}x{preview.height} JPEG)" in text
    assert str(path) in text


async def test_four_large_images_stay_under_one_mebibyte(client: Client, emulator: Emulator) -> None:
    emulator.set(photo_like=True)

    result = await client.call_tool("generate_image", {"prompt": "four streets", "size": "1536x1024", "n": 4})

    assert not result.is_error, text_of(result)
    assert len(images_in(result)) == 4
    assert len(links_in(result)) == 4
    assert serialized_size(result) < CLAUDE_DESKTOP_LIMIT
    for block in images_in(result):
        assert decode_image(block.data).width > 100, "each preview is still a useful picture"


async def test_previews_keep_transparency(make_settings: SettingsFactory, emulator: Emulator) -> None:
    async with open_client(make_settings(inline_budget=60_000)) as session:
        result = await session.call_tool(
            "generate_image", {"prompt": "a sticker", "background": "transparent", "size": "1536x1024"}
        )

    assert not result.is_error, text_of(result)
    [block] = images_in(result)
    preview = decode_image(block.data)
    assert preview.mode == "RGBA"
    assert preview.getchannel("A").getextrema()[0] == 0
    assert serialized_size(result) < 60_000


async def test_small_images_are_shown_at_full_resolution(client: Client, emulator: Emulator) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-2, for a small image
    result = await client.call_tool("generate_image", {"prompt": "a dot", "model": "dall-e-2", "size": "256x256"})

    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    [block] = images_in(result)
    assert block.mime_type == "image/png"
    assert decode_image(block.data).size == (256, 256)
    assert "Shown below at full resolution." in text_of(result)
    assert Path(entry["path"]).read_bytes() == base64.b64decode(block.data)


async def test_inline_none_sends_links_only(make_settings: SettingsFactory) -> None:
    async with open_client(make_settings(inline="none")) as session:
        result = await session.call_tool("generate_image", {"prompt": "a dot"})

    assert images_in(result) == []
    assert len(links_in(result)) == 1
    assert "Not shown inline (inline mode 'none')" in text_of(result)


async def test_inline_full_sends_the_original_when_it_fits(make_settings: SettingsFactory) -> None:
    async with open_client(make_settings(inline="full")) as session:
        result = await session.call_tool("generate_image", {"prompt": "a dot", "size": "1536x1024"})

    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    [block] = images_in(result)
    assert base64.b64decode(block.data) == Path(entry["path"]).read_bytes()
    assert "Shown below at full resolution." in text_of(result)
