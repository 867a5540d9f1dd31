"""The image app as the protocol shows it (MCP Apps, `io.modelcontextprotocol/ui`), through the SDK's client: the
binding on the tools, the `ui://` resource, the app-only tool, and results that do not depend on Apps.

The app itself, in a browser, is tested in test_app_ui.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextResourceContents

from mcp_server_images.app import build_server
from tests.support.clock import FrozenClock
from tests.support.results import TOOLS, text_of
from tests.support.servers import Mode, Opener, SettingsFactory, open_client

pytestmark = pytest.mark.anyio

APP_URI = "ui://mcp-server-images/app.html"
APP_MIME = "text/html;profile=mcp-app"
SHOWN_IN_APP = ["generate_image", "edit_image", "create_image_variation", "list_images", "get_job"]


@pytest.fixture
def host_client(make_settings: SettingsFactory) -> Opener:
    """`host_client(apps=...)`: clients of one server (one store); with `apps`, a client that declares MCP Apps
    support as hosts do."""
    server = build_server(make_settings(), FrozenClock())

    @asynccontextmanager
    async def open_session(*, apps: bool, mode: Mode = "auto") -> AsyncIterator[Client]:
        extensions = [advertise("io.modelcontextprotocol/ui", {"mimeTypes": [APP_MIME]})] if apps else []
        async with open_client(server, mode=mode, extensions=extensions) as client:
            yield client

    return open_session


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_clients_without_apps_list_the_same_tools_as_before(host_client: Opener, mode: Mode) -> None:
    async with host_client(apps=False, mode=mode) as client:
        plain = [tool.name for tool in (await client.list_tools()).tools]
    async with host_client(apps=True, mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert plain == TOOLS
    assert list(tools) == [*TOOLS, "image_details"]
    for name in SHOWN_IN_APP:
        assert (tools[name].meta or {})["ui"] == {"resourceUri": APP_URI}, name
    for name in ("analyze_image", "list_models"):
        assert "ui" not in (tools[name].meta or {}), name
    assert (tools["image_details"].meta or {})["ui"] == {"resourceUri": APP_URI, "visibility": ["app"]}


async def test_the_extension_is_advertised(host_client: Opener) -> None:
    async with host_client(apps=True) as client:
        assert client.server_capabilities.extensions == {"io.modelcontextprotocol/ui": {}}


async def test_the_app_is_one_self_contained_document_with_a_strict_policy(host_client: Opener) -> None:
    async with host_client(apps=True) as client:
        read = await client.read_resource(APP_URI)

    [content] = read.contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == APP_MIME
    assert content.meta == {"ui": {"csp": {}, "prefersBorder": True}}
    html = content.text
    assert len(html.encode()) < 64_000
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html), "nothing is loaded from elsewhere"
    assert "@import" not in html and "url(" not in html
    [policy] = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["connect-src"] == "'none'"
    assert directives["img-src"] == "data: blob:"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]{44}'", directives["script-src"]), "only the app's own script"
    assert re.fullmatch(r"'sha256-[A-Za-z0-9+/=]{44}'", directives["style-src"])


async def test_an_unknown_app_resource_is_an_invalid_request(host_client: Opener) -> None:
    async with host_client(apps=True) as client:
        with pytest.raises(MCPError) as raised:
            await client.read_resource("ui://mcp-server-images/other.html")
    assert raised.value.error.code == INVALID_PARAMS
    assert APP_URI in raised.value.error.message


def _normalized(result: CallToolResult) -> str:
    """A result as JSON with each image's id, file name and path replaced by its position, which differ per call."""
    text = result.model_dump_json(by_alias=True, exclude_none=True)
    images = (result.structured_content or {}).get("images", [])
    for number, image in enumerate(images):
        text = text.replace(image["path"], f"<path {number}>")
        text = text.replace(image["path"].rsplit("/", 1)[-1], f"<name {number}>")
        text = text.replace(image["id"], f"<id {number}>")
    return text


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_results_do_not_depend_on_apps(host_client: Opener, mode: Mode) -> None:
    """A client without Apps gets today's results; a client with Apps gets the very same content and structure."""
    arguments: dict[str, Any] = {"prompt": "a lantern on a jetty", "n": 2, "quality": "low"}
    async with host_client(apps=False, mode=mode) as plain, host_client(apps=True, mode=mode) as host:
        without = await plain.call_tool("generate_image", arguments)
        with_apps = await host.call_tool("generate_image", arguments)
        listing_without = await plain.call_tool("list_images", {"previews": True})
        listing_with = await host.call_tool("list_images", {"previews": True})

    assert not without.is_error, text_of(without)
    assert [block.type for block in without.content] == ["text", "image", "resource_link", "image", "resource_link"]
    assert set(without.structured_content or {}) == {"images", "model", "usage", "cost"}
    assert _normalized(with_apps) == _normalized(without)
    assert listing_with.structured_content is not None and listing_with.structured_content["total"] == 4
    assert [block.type for block in listing_with.content] == ["text"] + ["image"] * 4
    assert listing_with.model_dump() == listing_without.model_dump()


async def test_image_details_names_what_an_edit_was_made_from(host_client: Opener) -> None:
    async with host_client(apps=True) as client:
        made = await client.call_tool("generate_image", {"prompt": "a plain wall"})
        assert made.structured_content is not None
        [source] = made.structured_content["images"]
        edited = await client.call_tool("edit_image", {"images": [source["uri"]], "prompt": "add a window"})
        assert edited.structured_content is not None
        [result] = edited.structured_content["images"]
        details = await client.call_tool("image_details", {"image": result["uri"]})
        unknown = await client.call_tool("image_details", {"image": "00000000"})

    assert not details.is_error, text_of(details)
    found = details.structured_content
    assert found is not None
    assert (found["id"], found["prompt"], found["operation"]) == (result["id"], "add a window", "edit")
    assert found["model"] == edited.structured_content["model"]
    assert found["usage"] == edited.structured_content["usage"]
    assert [entry["id"] for entry in found["sources"]] == [source["id"]]
    assert found["sources"][0]["uri"] == source["uri"]
    assert json.loads(json.dumps(found))  # plain JSON, as the app receives it
    assert unknown.is_error
    assert "00000000" in text_of(unknown)
