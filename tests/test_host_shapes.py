"""Results shaped for the host that asked: each known host's clientInfo, through the SDK's client, gets what that
host can use (README, "Results per host"); every other client gets the standard result, as before shapes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mcp.types import CallToolResult, ClientCapabilities, Implementation

from mcp_server_images.adapter.tools.shapes import shape_for
from tests.fake_openai import Emulator
from tests.support.images import decode_image
from tests.support.results import entries, images_in, links_in, serialized_size, text_of
from tests.support.servers import Mode, SettingsFactory, open_client

pytestmark = pytest.mark.anyio

PUBLIC = "https://images.example.com"


async def call_as(
    make_settings: SettingsFactory,
    host: str | None,
    tool: str,
    arguments: dict[str, Any],
    *,
    mode: Mode = "auto",
    **settings: Any,
) -> CallToolResult:
    """Call a tool as the host named `host` (its clientInfo.name) would, on a server with `settings`."""
    info = Implementation(name=host, version="1.0.0") if host is not None else None
    async with open_client(make_settings(**settings), mode=mode, client_info=info) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    return result


def normalized(result: CallToolResult) -> str:
    """A result as JSON with each image's id, file name and path replaced by its position, which differ per call."""
    text = result.model_dump_json(by_alias=True, exclude_none=True)
    for number, image in enumerate((result.structured_content or {}).get("images", [])):
        text = text.replace(image["path"], f"<path {number}>")
        text = text.replace(image["path"].rsplit("/", 1)[-1], f"<name {number}>")
        text = text.replace(image["id"], f"<id {number}>")
    return text


def estimated_tokens(result: CallToolResult) -> int:
    """What a result costs a Claude model: its JSON without image data at 4 bytes a token, each image at w x h / 750."""
    images = images_in(result)
    text_bytes = serialized_size(result) - sum(len(block.data) for block in images)
    pixels = [decode_image(block.data).size for block in images]
    return text_bytes // 4 + sum(width * height // 750 for width, height in pixels)


BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_unknown_hosts_and_editors_get_the_standard_result(
    make_settings: SettingsFactory, mode: Mode, tmp_path: Path
) -> None:
    arguments = {"prompt": "a lantern on a jetty", "n": 2, "quality": "low"}
    # Each host gets its own store: a store with earlier calls alike would learn the estimate from them.
    standard = await call_as(
        make_settings, "some-new-host", "generate_image", arguments, mode=mode, output_dir=tmp_path / "standard"
    )

    assert [block.type for block in standard.content] == ["text", "image", "resource_link", "image", "resource_link"]
    assert set(standard.structured_content or {}) == {"images", "model", "usage", "cost"}
    for host in (None, "Visual Studio Code", "cursor-vscode", "goose"):
        folder = tmp_path / str(host)
        same = await call_as(make_settings, host, "generate_image", arguments, mode=mode, output_dir=folder)
        assert normalized(same) == normalized(standard), host
    forced = await call_as(
        make_settings,
        "claude-code",
        "generate_image",
        arguments,
        mode=mode,
        result_shape="standard",
        output_dir=tmp_path / "forced",
    )
    assert normalized(forced) == normalized(standard)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_chatgpt_gets_https_links_in_structured_content_and_no_image_blocks(
    make_settings: SettingsFactory, mode: Mode
) -> None:
    result = await call_as(
        make_settings, "openai-mcp", "generate_image", {"prompt": "a kite", "n": 2}, mode=mode, public_base_url=PUBLIC
    )

    assert images_in(result) == []
    assert len(links_in(result)) == 2
    text = text_of(result)
    for image in entries(result):
        assert image["url"] == f"{PUBLIC}/images/{image['id']}"
        assert f"Link: {image['url']}" in text
    assert "ChatGPT shows images from their https link" in text
    assert "MCP_IMAGES_PUBLIC_BASE_URL" not in text


async def test_chatgpt_is_told_what_to_set_when_there_is_no_https_link(make_settings: SettingsFactory) -> None:
    result = await call_as(make_settings, "openai-mcp", "generate_image", {"prompt": "a kite"})

    assert images_in(result) == []
    [image] = entries(result)
    assert "url" not in image
    assert "Note: ChatGPT shows images only from https links" in text_of(result)
    assert "set MCP_IMAGES_PUBLIC_BASE_URL to this server's https address" in text_of(result)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_claude_code_gets_images_within_its_token_cap_and_no_base64_outside_them(
    make_settings: SettingsFactory, mode: Mode
) -> None:
    arguments = {"prompt": "six flags", "n": 6, "size": "1536x1024"}
    standard = await call_as(make_settings, None, "generate_image", arguments)
    result = await call_as(make_settings, "claude-code", "generate_image", arguments, mode=mode)

    assert estimated_tokens(standard) > 9_000, "the standard result would pass Claude Code's warning line"
    assert len(images_in(result)) == 6
    assert estimated_tokens(result) <= 9_000
    assert all(max(decode_image(block.data).size) < 1536 for block in images_in(result))
    outside_images = text_of(result) + str(result.structured_content)
    assert BASE64_RUN.search(outside_images) is None
    assert "Shown below as a smaller preview" in text_of(result)


async def test_claude_desktop_results_stay_within_one_mebibyte_whatever_the_budget(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    emulator.set(photo_like=True)
    arguments = {"prompt": "a busy street", "size": "1536x1024", "n": 2}

    standard = await call_as(make_settings, None, "generate_image", arguments, inline_budget=3_000_000)
    result = await call_as(make_settings, "claude-ai", "generate_image", arguments, inline_budget=3_000_000)

    assert serialized_size(standard) > 1_048_576, "the configured budget lets the standard result pass 1 MiB"
    assert serialized_size(result) <= 1_000_000
    assert len(images_in(result)) == 2


@pytest.mark.parametrize("host", ["claude-ai", "claude-code"])
async def test_several_images_for_claude_are_at_most_2000_px_a_side(make_settings: SettingsFactory, host: str) -> None:
    arguments = {"prompt": "two wide banners", "size": "2560x1440", "n": 2}

    standard = await call_as(make_settings, None, "generate_image", arguments, inline="full")
    result = await call_as(make_settings, host, "generate_image", arguments, inline="full")

    assert [decode_image(block.data).size for block in images_in(standard)] == [(2560, 1440)] * 2
    assert all(max(decode_image(block.data).size) <= 2000 for block in images_in(result))
    assert len(images_in(result)) == 2


@pytest.mark.parametrize("host", ["github-copilot-developer", "copilot-cli"])
async def test_copilot_gets_a_path_and_link_to_open_instead_of_image_blocks(
    make_settings: SettingsFactory, host: str
) -> None:
    result = await call_as(make_settings, host, "generate_image", {"prompt": "a boat", "n": 2}, public_base_url=PUBLIC)

    assert images_in(result) == []
    assert len(links_in(result)) == 2
    text = text_of(result)
    for image in entries(result):
        path = Path(image["path"])
        assert f"Open: {path.as_uri()} or {PUBLIC}/images/{image['id']}" in text
    assert "does not pass images in results to the model" in text


async def test_the_setting_forces_a_shape_on_every_client(make_settings: SettingsFactory) -> None:
    result = await call_as(
        make_settings, "Visual Studio Code", "generate_image", {"prompt": "a boat"}, result_shape="text-links"
    )

    assert images_in(result) == []
    [image] = entries(result)
    assert f"Open: {Path(image['path']).as_uri()}" in text_of(result)


async def test_a_listing_for_hosts_without_image_blocks_has_no_thumbnails(make_settings: SettingsFactory) -> None:
    async with open_client(make_settings(), client_info=Implementation(name="openai-mcp", version="1")) as client:
        await client.call_tool("generate_image", {"prompt": "a cup"})
        listing = await client.call_tool("list_images", {"previews": True})

    assert [block.type for block in listing.content] == ["text"]
    assert listing.structured_content is not None and listing.structured_content["total"] == 1


def test_chatgpt_is_also_known_by_the_openai_capabilities_it_declares() -> None:
    declared = ClientCapabilities(experimental={"openai/visibility": {"enabled": True}})

    assert shape_for("auto", "unnamed", declared).name == "chatgpt"
    assert shape_for("auto", "unnamed", ClientCapabilities()).name == "standard"
    assert shape_for("auto", None, None).name == "standard"
