"""The server as a user's client meets it: built in memory, started over stdio, or started on streamable HTTP; and
`open_client`, the one way a test opens a session of the SDK's own client with any of them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO, Any, Literal

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer

from mcp_server_images.app import build_server
from mcp_server_images.clock import Clock
from mcp_server_images.settings import Settings
from tests.fake_openai import Emulator
from tests.support.clock import FrozenClock
from tests.support.waiting import until

SettingsFactory = Callable[..., Settings]
"""The `make_settings` fixture: settings pointed at the emulator, keyword arguments overriding fields."""
Transport = Literal["memory", "stdio", "http"]
Mode = Literal["legacy", "auto"]
Opener = Callable[..., AbstractAsyncContextManager[Client]]
"""The `client_over` fixture: `client_over(transport, mode, **settings)` opens a session over that transport."""
SUBPROCESS = pytest.mark.subprocess
COMMAND = [sys.executable, "-m", "mcp_server_images"]
"""The server's command, as the development install runs it (`mcp-server-images` of this environment)."""


@asynccontextmanager
async def open_client(
    server: Settings | MCPServer[Any] | StdioServerParameters | str,
    clock: Clock | None = None,
    *,
    token: str | None = None,
    auth: httpx2.Auth | None = None,
    **options: Any,
) -> AsyncIterator[Client]:
    """A session of the SDK's client with a server: in memory (built from settings on `clock`, by default a frozen
    one so that nothing the server says depends on the day the suite runs; or one already built, which several
    sessions may share), started over stdio, or at a streamable HTTP URL; `token` signs in to that URL with a bearer
    token, `auth` with an httpx auth flow (the SDK's OAuth clients). `options` go to `mcp.Client` (mode, callbacks,
    extensions)."""
    if isinstance(server, Settings):
        server = build_server(server, clock or FrozenClock())
    if token is None and auth is None:
        async with Client(server, **options) as client:
            yield client
        return
    if not isinstance(server, str):
        raise TypeError("a token is for a server on streamable HTTP: give its URL")
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, auth=auth, timeout=httpx2.Timeout(30, read=300)) as http,
        Client(streamable_http_client(server, http_client=http), **options) as client,
    ):
        yield client


@asynccontextmanager
async def session_over(
    transport: Transport, mode: Mode, settings: Settings, env: dict[str, str]
) -> AsyncIterator[Client]:
    """A session over `transport`: with a server in memory built from `settings`, or with a server process started
    with `env` added to the environment, on stdio or on streamable HTTP."""
    if transport == "memory":
        async with open_client(settings, mode=mode) as client:
            yield client
    elif transport == "stdio":
        async with open_client(stdio_server(env), mode=mode) as client:
            yield client
    else:
        with http_server(env) as (origin, _):
            async with open_client(f"{origin}/mcp", mode=mode) as client:
                yield client


def over(*pairs: tuple[Transport, Mode]) -> list[pytest.ParameterSet]:
    """Parameters (transport, mode) of a test run over several transports. Those that start a server process carry
    the `subprocess` marker, so that `make test-fast` keeps the in-memory ones."""
    return [
        pytest.param(transport, mode, id=f"{transport}-{mode}", marks=() if transport == "memory" else SUBPROCESS)
        for transport, mode in pairs
    ]


def server_env(emulator: Emulator, output_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a user's client would give the server, pointed at the emulator."""
    return {
        "MCP_IMAGES_BASE_URL": emulator.base_url,
        "OPENAI_API_KEY": emulator.api_key,
        "MCP_IMAGES_OUTPUT_DIR": str(output_dir),
        **extra,
    }


def stdio_server(env: dict[str, str]) -> StdioServerParameters:
    """The server as a client starts it on stdio: `env` over the few variables the SDK passes on (HOME, PATH, ...)."""
    return StdioServerParameters(command=COMMAND[0], args=COMMAND[1:], env=env)


def run_command(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`mcp-server-images ARGS` run to its end as a user runs it, `env` added to the environment; its output."""
    return subprocess.run(
        [*COMMAND, *args],
        env={**os.environ, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    """A loopback port nothing listens on: bound to learn a free number, then closed."""
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
    would fill a pipe); else to a pipe read at the end. Every pipe is closed when the server has stopped.
    """
    port = port or free_port()
    with ExitStack() as stack:
        stderr: IO[bytes] | int = subprocess.PIPE if log is None else stack.enter_context(log.open("ab"))
        process = stack.enter_context(
            subprocess.Popen(
                [*COMMAND, "--transport", "http", "--host", host, "--port", str(port), *args],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        )
        origin = f"http://{reach}:{port}"
        try:
            _wait_until_healthy(origin, process, log)
            yield origin, process
        finally:
            process.terminate()
            process.wait(timeout=15)


def _wait_until_healthy(origin: str, process: subprocess.Popen[bytes], log: Path | None) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx2.get(f"{origin}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            said = log.read_text() if log is not None else (process.communicate()[1] or b"").decode()
            raise RuntimeError(f"server did not start: {said}")
        time.sleep(0.1)


class RawStdio:
    """A server on stdio driven by hand, as a client that closes the server's stdin (or signals it) to stop it and
    goes on reading its stdout: the JSON-RPC lines it writes are collected by a thread, by id."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.answers: dict[int, dict[str, Any]] = {}
        self._reader = threading.Thread(target=self._read, name="stdio-reader", daemon=True)
        self._reader.start()

    def send(self, *messages: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"".join(json.dumps(message).encode() + b"\n" for message in messages))
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    async def answer(self, request_id: int) -> dict[str, Any]:
        """The response to request `request_id`, once the server has written it."""
        await until(lambda: request_id in self.answers, f"the answer to request {request_id}")
        return self.answers[request_id]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            if "id" in message and ("result" in message or "error" in message):
                self.answers[message["id"]] = message


HANDSHAKE = (
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
)


def tool_call(request_id: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


@contextmanager
def raw_stdio(env: dict[str, str], stderr: IO[bytes]) -> Iterator[RawStdio]:
    """A server process on stdio, past the legacy handshake, driven line by line; killed at the end if still up."""
    with subprocess.Popen(
        COMMAND, env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
    ) as process:
        driver = RawStdio(process)
        driver.send(*HANDSHAKE)
        try:
            yield driver
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
