"""Shared fixtures: the upstream emulator, settings pointed at it, and the SDK's own MCP client.

Every test talks to the server the way a user's client does, through `mcp.Client`, and to an emulated upstream
on a loopback port that checks each request against the official OpenAPI contract.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent
from PIL import Image

from mcp_server_images.app import build_server
from mcp_server_images.clock import Clock
from mcp_server_images.settings import Settings
from tests.fake_openai import Emulator, contract
from tests.fake_openai.fixtures import emulator, emulator_server
from tests.support.clock import FrozenClock
from tests.waiting import until

__all__ = ["emulator", "emulator_server"]

SettingsFactory = Callable[..., Settings]
TOOLS = [
    "generate_image",
    "edit_image",
    "create_image_variation",
    "analyze_image",
    "list_images",
    "list_models",
    "get_job",
    "usage_report",
]
"""Every tool the server lists, in the order it lists them."""
SIDECAR_NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{8}\.json$")
"""How the store names the metadata it writes after each image (`20261104-093012-3f9a2c7b.json`)."""


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
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's own keys and settings out of the tests, and give each test its own home folder."""
    for name in list(os.environ):
        if name.startswith(("MCP_IMAGES_", "OPENAI_", "DEDALUS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home_of(tmp_path)))


def home_of(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The user's home folder during the test (an allowed root)."""
    return home_of(tmp_path)


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    return tmp_path / "images"


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


@asynccontextmanager
async def connect(settings: Settings, clock: Clock | None = None, **client_options: Any) -> AsyncIterator[Client]:
    """An in-memory MCP client session with a fresh server built from `settings`, on `clock` (by default a
    frozen one, so nothing the server says depends on the day the suite runs)."""
    async with Client(build_server(settings, clock or FrozenClock()), **client_options) as client:
        yield client


@pytest.fixture
def clock() -> FrozenClock:
    """The clock of the `client` fixture's server, for tests that move it."""
    return FrozenClock()


@pytest.fixture
async def client(make_settings: SettingsFactory, clock: FrozenClock) -> AsyncIterator[Client]:
    async with connect(make_settings(), clock) as session:
        yield session


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def text_of(result: CallToolResult) -> str:
    """The text blocks of a result, joined."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def images_in(result: CallToolResult) -> list[ImageContent]:
    return [block for block in result.content if isinstance(block, ImageContent)]


def links_in(result: CallToolResult) -> list[ResourceLink]:
    return [block for block in result.content if isinstance(block, ResourceLink)]


def sidecar_of(image: str | Path) -> dict[str, Any]:
    """The sidecar stored beside an image file."""
    loaded: dict[str, Any] = json.loads(Path(image).with_suffix(".json").read_text())
    return loaded


def decode_image(data: bytes | str) -> Image.Image:
    """A loaded Pillow image from bytes or base64 text."""
    raw = base64.b64decode(data) if isinstance(data, str) else data
    image = Image.open(io.BytesIO(raw))
    image.load()
    return image


def serialized_size(result: CallToolResult) -> int:
    """Bytes of the result as it goes on the wire inside a JSON-RPC response."""
    body = result.model_dump_json(by_alias=True, exclude_none=True)
    return len(f'{{"jsonrpc":"2.0","id":123456,"result":{body}}}'.encode())


def stored_images(output_dir: Path) -> list[Path]:
    """The images the store has finished writing, in the order of their names (when they were stored, to the second).

    The store writes an image and then its sidecar, each through a `.partial-*` temporary: an image counts once its
    sidecar is there, and temporaries never do.
    """
    if not output_dir.is_dir():
        return []
    sidecars = sorted(path for path in output_dir.iterdir() if SIDECAR_NAME.match(path.name))
    return [sidecar.with_name(json.loads(sidecar.read_text())["path"]) for sidecar in sidecars]


async def wait_for_images(output_dir: Path, count: int) -> list[Path]:
    """Wait until the store has finished writing `count` images (a job that outlived its call stores them later)."""
    await until(lambda: len(stored_images(output_dir)) >= count, f"{count} stored image(s) in {output_dir}")
    return stored_images(output_dir)
