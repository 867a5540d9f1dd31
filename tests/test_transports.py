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


WEB_HOST = "https://chat.example.com"


def test_pages_of_the_configured_origins_may_call_over_http_with_the_same_auth(
    emulator: Emulator, output_dir: Path
) -> None:
    """CORS: a preflight from a configured origin is answered; its requests still need the token; another origin's
    preflight is refused and its requests carry no CORS header, so its page cannot read them."""
    env = server_env(emulator, output_dir, MCP_IMAGES_AUTH_TOKEN=TOKEN, MCP_IMAGES_CORS_ORIGINS=WEB_HOST)
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
    }
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with http_server(env) as (origin, _):
        allowed = httpx2.options(f"{origin}/mcp", headers={"origin": WEB_HOST, **preflight}, timeout=5)
        refused = httpx2.options(f"{origin}/mcp", headers={"origin": "https://other.example", **preflight}, timeout=5)
        unsigned = httpx2.post(f"{origin}/mcp", json=body, headers={"origin": WEB_HOST}, timeout=5)
        signed = httpx2.post(
            f"{origin}/mcp",
            json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE},
            headers={
                "origin": WEB_HOST,
                "authorization": f"Bearer {TOKEN}",
                "accept": "application/json, text/event-stream",
            },
            timeout=5,
        )
        foreign = httpx2.post(f"{origin}/mcp", json=body, headers={"origin": "https://other.example"}, timeout=5)

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == WEB_HOST
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert allowed.headers["access-control-allow-headers"].lower() == "authorization,content-type"
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert unsigned.status_code == 401
    assert unsigned.headers["access-control-allow-origin"] == WEB_HOST
    assert "www-authenticate" in unsigned.headers["access-control-expose-headers"]
    assert signed.status_code == 200
    assert signed.headers["access-control-allow-origin"] == WEB_HOST
    assert "mcp-session-id" in signed.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in foreign.headers


INITIALIZE = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "web-host", "version": "1"}}
