"""The same generate call over a stdio subprocess and over streamable HTTP, in both protocol eras."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from mcp import Client
from PIL import Image

from tests.fake_openai import Emulator
from tests.support.results import text_of
from tests.support.servers import Mode, http_server, open_client, run_command, server_env, stdio_server

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

TOKEN = "test-token-5f1c"


async def generate_through(client: Client, output_dir: Path) -> None:
    """What a user does first: list tools, generate, find the image on disk."""
    tools = await client.list_tools()
    assert "generate_image" in [tool.name for tool in tools.tools]
    result = await client.call_tool("generate_image", {"prompt": "a paper boat", "size": "1536x1024"})
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    assert Path(entry["path"]).parent == output_dir
    with Image.open(entry["path"]) as image:
        assert image.size == (1536, 1024)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_stdio_subprocess(emulator: Emulator, output_dir: Path, mode: Mode) -> None:
    async with open_client(stdio_server(server_env(emulator, output_dir)), mode=mode) as client:
        await generate_through(client, output_dir)
    assert len(emulator.requests_to("/images/generations")) == 1


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_streamable_http_without_token(emulator: Emulator, output_dir: Path, mode: Mode) -> None:
    with http_server(server_env(emulator, output_dir)) as (origin, _):
        async with open_client(f"{origin}/mcp", mode=mode) as client:
            await generate_through(client, output_dir)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_streamable_http_with_token(emulator: Emulator, output_dir: Path, mode: Mode) -> None:
    env = server_env(emulator, output_dir, MCP_IMAGES_AUTH_TOKEN=TOKEN)
    with http_server(env) as (origin, process):
        unauthorized = httpx2.post(f"{origin}/mcp", json={}, timeout=5)
        assert unauthorized.status_code == 401
        wrong = httpx2.post(f"{origin}/mcp", json={}, headers={"authorization": "Bearer nope"}, timeout=5)
        assert wrong.status_code == 401
        assert httpx2.get(f"{origin}/healthz", timeout=5).json()["status"] == "ok"

        async with open_client(f"{origin}/mcp", token=TOKEN, mode=mode) as client:
            await generate_through(client, output_dir)
        process.terminate()
        _, stderr = process.communicate(timeout=15)
    logs = stderr.decode()
    assert TOKEN not in logs
    assert emulator.api_key not in logs


async def test_dns_rebinding_protection_rejects_foreign_hosts(emulator: Emulator, output_dir: Path) -> None:
    with http_server(server_env(emulator, output_dir)) as (origin, _):
        response = httpx2.post(f"{origin}/mcp", json={}, headers={"host": "evil.example"}, timeout=5)
    assert response.status_code == 421


def test_non_loopback_without_token_is_refused(emulator: Emulator, output_dir: Path) -> None:
    result = run_command(
        "--transport", "http", "--host", "0.0.0.0", "--port", "0", env=server_env(emulator, output_dir)
    )
    assert result.returncode != 0
    assert "Refusing to listen on 0.0.0.0 without an auth token" in result.stderr
    assert "MCP_IMAGES_AUTH_TOKEN" in result.stderr


def test_stdio_logs_only_on_stderr(emulator: Emulator, output_dir: Path) -> None:
    """With stdin closed at once, the server starts, logs its configuration to stderr and writes no stdout."""
    result = run_command(env=server_env(emulator, output_dir), stdin="")
    assert result.stdout == ""
    assert "provider openai at " + emulator.base_url in result.stderr
    assert "key from OPENAI_API_KEY" in result.stderr
    assert emulator.api_key not in result.stderr
