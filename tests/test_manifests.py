"""The client configurations in manifests/: each checkout form really starts a working server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from mcp import StdioServerParameters

from mcp_server_images.catalog.catalog import Catalog
from mcp_server_images.catalog.spec import Status
from mcp_server_images.settings import Settings
from tests.fake_openai import Emulator
from tests.support.results import stored_images
from tests.support.servers import open_client

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO / "manifests"
PLACEHOLDER = "/ABSOLUTE/PATH/TO/mcp-server-images"
KEY_INPUT = "${input:openai-api-key}"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((MANIFESTS / name).read_text())
    return data


def claude_server(config: dict[str, Any]) -> dict[str, Any]:
    server: dict[str, Any] = config["mcpServers"]["images"]
    return server


def vscode_server(config: dict[str, Any]) -> dict[str, Any]:
    server: dict[str, Any] = config["servers"]["images"]
    return server


def without_command(server: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in server.items() if key not in ("command", "args")}


@pytest.mark.parametrize(
    ("published", "checkout", "server_of"),
    [
        ("claude_desktop_config.json", "claude_desktop_config.checkout.json", claude_server),
        ("vscode.mcp.json", "vscode.mcp.checkout.json", vscode_server),
    ],
)
def test_published_forms_differ_only_in_the_command(published: str, checkout: str, server_of: Any) -> None:
    published_config, checkout_config = load(published), load(checkout)
    published_server, checkout_server = server_of(published_config), server_of(checkout_config)

    assert published_server["command"] == "uvx"
    assert published_server["args"] == ["mcp-server-images"]
    assert without_command(published_server) == without_command(checkout_server)
    published_config_rest = {k: v for k, v in published_config.items() if k not in ("mcpServers", "servers")}
    checkout_config_rest = {k: v for k, v in checkout_config.items() if k not in ("mcpServers", "servers")}
    assert published_config_rest == checkout_config_rest


def test_vscode_asks_for_the_key_as_a_password() -> None:
    config = load("vscode.mcp.json")
    [key_input] = config["inputs"]
    assert key_input["type"] == "promptString"
    assert key_input["password"] is True
    assert vscode_server(config)["env"]["OPENAI_API_KEY"] == "${input:" + key_input["id"] + "}"


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("name", "server_of"),
    [("claude_desktop_config.checkout.json", claude_server), ("vscode.mcp.checkout.json", vscode_server)],
)
async def test_checkout_form_starts_the_server(name: str, server_of: Any, emulator: Emulator, output_dir: Path) -> None:
    server = server_of(load(name))
    args = [REPO.as_posix() if arg == PLACEHOLDER else arg for arg in server["args"]]
    assert args != server["args"], "the placeholder was substituted"
    env = {
        key: emulator.api_key if value in (KEY_INPUT, "sk-your-openai-key") else value
        for key, value in server["env"].items()
    }
    env |= {"MCP_IMAGES_BASE_URL": emulator.base_url, "MCP_IMAGES_OUTPUT_DIR": str(output_dir)}
    command = shutil.which(server["command"])
    assert command is not None, f"{server['command']} is on PATH"

    async with open_client(StdioServerParameters(command=command, args=args, env=env)) as client:
        tools = await client.list_tools()
        result = await client.call_tool("generate_image", {"prompt": "a manifest test"})

    assert "generate_image" in [tool.name for tool in tools.tools]
    assert not result.is_error
    assert len(stored_images(output_dir)) == 1


def test_the_bundle_advertises_the_current_models() -> None:
    """What Claude Desktop shows of the bundle names the default models and no model that is going away."""
    manifest = load("mcpb/manifest.json")
    shown = f"{manifest['description']} {manifest['long_description']}"
    defaults = Settings()
    catalog = Catalog.load()

    assert defaults.default_model in shown and defaults.vision_model in shown
    for spec in catalog:
        named = re.search(rf"(?<![\w.-]){re.escape(spec.name)}(?![\w.-])", shown)
        assert spec.lifecycle.status is Status.ACTIVE or named is None, f"{spec.name} ({spec.lifecycle.status})"
