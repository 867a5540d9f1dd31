"""The suite's fixtures: the upstream emulator, settings pointed at it, sessions of the SDK's own MCP client, and the
outside parts some tests need. The helpers they are built from live in tests/support/.

Every test talks to the server the way a user's client does, through `mcp.Client`, and to an emulated upstream
on a loopback port that checks each request against the official OpenAPI contract.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server_images.settings import Settings
from tests.fake_openai import Emulator, contract, running_emulator
from tests.support.clock import FrozenClock
from tests.support.feed import FeedServer, SigningKey
from tests.support.outside import NodeTools, installed_node_tools
from tests.support.s3 import S3Server, running_seaweedfs
from tests.support.servers import Mode, Opener, SettingsFactory, Transport, open_client, server_env, session_over


def pytest_configure(config: pytest.Config) -> None:
    """Without the contract every test using the emulator would error; stop once with a message that says why."""
    try:
        contract.require_spec()
    except FileNotFoundError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Keep the developer's own keys and settings out of the tests, and give each test its own home folder."""
    for name in list(os.environ):
        if name.startswith(
            ("MCP_IMAGES_", "OPENAI_", "DEDALUS_", "AZURE_OPENAI_", "GEMINI_", "XAI_", "OPENROUTER_", "OTEL_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)  # the catalog feed's cache goes under the test's home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The user's home folder during the test (an allowed root)."""
    folder = tmp_path / "home"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    return tmp_path / "images"


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[Emulator]:
    """One emulator for the whole session; tests take it through `emulator`, which resets it."""
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_server: Emulator) -> Iterator[Emulator]:
    """The emulator, reset before the test; holds the test left in place are released after it, so that a failing
    test never leaves a request hanging, and the requests it received are checked against the contract."""
    emulator_server.reset()
    yield emulator_server
    emulator_server.release_holds()
    violations = emulator_server.contract_violations
    if violations:
        pytest.fail("requests broke the OpenAI contract:\n" + "\n".join(violations))


@pytest.fixture(scope="session")
def second_emulator_server() -> Iterator[Emulator]:
    """Another emulator on a port of its own, for a provider on another origin than the first's (a local server
    beside a cloud one)."""
    with running_emulator() as emulator:
        yield emulator


@pytest.fixture
def second_emulator(second_emulator_server: Emulator) -> Iterator[Emulator]:
    """The second emulator, reset and checked against the contract like the first."""
    second_emulator_server.reset()
    yield second_emulator_server
    second_emulator_server.release_holds()
    violations = second_emulator_server.contract_violations
    if violations:
        pytest.fail("requests to the second emulator broke the contract:\n" + "\n".join(violations))


@pytest.fixture
def make_settings(emulator: Emulator, output_dir: Path) -> SettingsFactory:
    """Settings for a server whose upstream is the emulator; keyword arguments override fields."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "provider": "openai",
            "base_url": emulator.base_url,
            "api_key": emulator.api_key,
            "output_dir": output_dir,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def clock() -> FrozenClock:
    """The clock of the `client` fixture's server, for tests that move it."""
    return FrozenClock()


@pytest.fixture
async def client(make_settings: SettingsFactory, clock: FrozenClock) -> AsyncIterator[Client]:
    """A session with a fresh server in memory, with the default settings, on a frozen clock."""
    async with open_client(make_settings(), clock) as session:
        yield session


@pytest.fixture
def client_over(make_settings: SettingsFactory, emulator: Emulator, output_dir: Path) -> Opener:
    """`client_over(transport, mode, **settings)`: a session with a server in memory, over stdio or over streamable
    HTTP (a server process), with these settings (as strings, the way the environment gives them)."""

    def open_session(transport: Transport, mode: Mode = "auto", **settings: str) -> AbstractAsyncContextManager[Client]:
        env = server_env(emulator, output_dir, **{f"MCP_IMAGES_{name.upper()}": v for name, v in settings.items()})
        return session_over(transport, mode, make_settings(**settings), env)

    return open_session


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    """A catalog feed on a loopback port, serving what the test publishes (see tests/support/feed.py)."""
    with FeedServer().running() as server:
        yield server


@pytest.fixture
def signing_key() -> SigningKey:
    """A key pair the test makes; its public half is what MCP_IMAGES_CATALOG_KEYS trusts."""
    return SigningKey()


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture(scope="session")
def node_tools() -> NodeTools:
    """Node 22 and the outside MCP clients from tests/node (`make node-tools`)."""
    return installed_node_tools()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """SeaweedFS for the session: a real S3-compatible bucket for the team store."""
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def s3_prefix() -> str:
    """A key prefix of the test's own, so tests sharing the bucket never see each other's images."""
    return f"test-{secrets.token_hex(4)}/"
