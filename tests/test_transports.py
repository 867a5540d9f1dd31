"""The same generate call over a stdio subprocess and over streamable HTTP, in both protocol eras."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from tests.conftest import text_of
from tests.fake_openai import Emulator

pytestmark = pytest.mark.anyio

Mode = Literal["legacy", "auto"]
TOKEN = "test-token-5f1c"


def server_env(emulator: Emulator, output_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a user's client would give the server, pointed at the emulator."""
    return {
        "MCP_IMAGES_BASE_URL": emulator.base_url,
        "OPENAI_API_KEY": emulator.api_key,
        "MCP_IMAGES_OUTPUT_DIR": str(output_dir),
        **extra,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def http_server(
    env: dict[str, str],
    *args: str,
    host: str = "127.0.0.1",
    reach: str = "127.0.0.1",
    port: int | None = None,
    log: Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A server subprocess on streamable HTTP bound to `host`; yields its origin (at `reach`) once /healthz answers.

    With `log`, the server's stderr goes to that file (a test can read it while the server runs, and long runs
    would fill a pipe); else to a pipe read at the end.
    """
    port = port or free_port()
    log_file = log.open("ab") if log is not None else None
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_server_images", "--transport", "http", "--host", host, "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if log_file is None else log_file,
    )
    origin = f"http://{reach}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{origin}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                said = log.read_text() if log is not None else (process.communicate()[1] or b"").decode()
                raise RuntimeError(f"server did not start: {said}")
            time.sleep(0.1)
        yield origin, process
    finally:
        process.terminate()
        process.wait(timeout=15)
        if log_file is not None:
            log_file.close()


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
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_server_images"], env=server_env(emulator, output_dir)
    )
    async with Client(params, mode=mode) as client:
        await generate_through(client, output_dir)
    assert len(emulator.requests_to("/images/generations")) == 1


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_streamable_http_without_token(emulator: Emulator, output_dir: Path, mode: Mode) -> None:
    with http_server(server_env(emulator, output_dir)) as (origin, _):
        async with Client(f"{origin}/mcp", mode=mode) as client:
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

        headers = {"authorization": f"Bearer {TOKEN}"}
        timeout = httpx2.Timeout(30, read=300)
        async with (
            httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
            Client(streamable_http_client(f"{origin}/mcp", http_client=http), mode=mode) as client,
        ):
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
    result = subprocess.run(
        [sys.executable, "-m", "mcp_server_images", "--transport", "http", "--host", "0.0.0.0", "--port", "0"],
        env={**os.environ, **server_env(emulator, output_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "Refusing to listen on 0.0.0.0 without an auth token" in result.stderr
    assert "MCP_IMAGES_AUTH_TOKEN" in result.stderr


def test_stdio_logs_only_on_stderr(emulator: Emulator, output_dir: Path) -> None:
    """With stdin closed at once, the server starts, logs its configuration to stderr and writes no stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "mcp_server_images"],
        env={**os.environ, **server_env(emulator, output_dir)},
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout == ""
    assert "provider openai at " + emulator.base_url in result.stderr
    assert "key from OPENAI_API_KEY" in result.stderr
    assert emulator.api_key not in result.stderr
