"""Defaults that move before a shutdown: a call naming no model uses the default's replacement once the default's
shutdown is within `default_notice_days` (30 unless set; 0: never early), and each session is told once. Over
streamable HTTP each handshake-era session is told once; where there is no session to remember it by (stateless
HTTP, or the 2026-07-28 protocol, which has none), every call is told. The dates are the frozen clock's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import anyio
import pytest
import uvicorn

from mcp_server_images.adapter.serving.http import http_app
from mcp_server_images.app import build_server
from mcp_server_images.settings import Settings
from tests.fake_openai import Emulator
from tests.support.clock import FrozenClock
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, free_port, open_client
from tests.support.waiting import patiently

pytestmark = pytest.mark.anyio

MOVED = (
    "Default model: gpt-image-1.5 shuts down on 2026-12-01 (in 11 days), so its replacement gpt-image-2.6-flare is "
    "used already; name a model to choose another."
)
"""What the first call naming no model hears on the frozen date, 2026-11-20."""


def sent_models(emulator: Emulator) -> list[str]:
    return [str(request.json["model"]) for request in emulator.requests_to("/images/generations") if request.json]


async def test_a_default_shutting_down_soon_gives_way_and_says_so_once(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    async with open_client(make_settings(default_model="gpt-image-1.5")) as client:
        first = await client.call_tool("generate_image", {"prompt": "a fox"})
        second = await client.call_tool("generate_image", {"prompt": "a hare"})
        named = await client.call_tool("generate_image", {"prompt": "a lynx", "model": "gpt-image-1.5"})
        listed = await client.call_tool("list_models", {})

    assert not first.is_error and not second.is_error and not named.is_error, text_of(first)
    assert sent_models(emulator) == ["gpt-image-2.6-flare", "gpt-image-2.6-flare", "gpt-image-1.5"]
    assert MOVED in text_of(first)
    assert "Default model" not in text_of(second)
    assert "Warning: gpt-image-1.5 shuts down on 2026-12-01; use gpt-image-2.6-flare (fast)" in text_of(named)
    assert listed.structured_content is not None
    default = [model["name"] for model in listed.structured_content["models"] if model["default"]]
    assert default == ["gpt-image-2.6-flare", "gpt-6-luna"]


async def test_a_vision_default_moves_too(make_settings: SettingsFactory, emulator: Emulator) -> None:
    """gpt-4.1 shuts down on 2027-01-14: from 2026-12-15 on, analyze_image without a model uses gpt-6-luna."""
    made = await _generate_one(make_settings)
    clock = FrozenClock(datetime(2026, 12, 20, 9, 0, tzinfo=UTC))
    async with open_client(make_settings(vision_model="gpt-4.1"), clock) as client:
        first = await client.call_tool("analyze_image", {"images": [made]})
        second = await client.call_tool("analyze_image", {"images": [made]})

    chats = [request.json["model"] for request in emulator.requests_to("/chat/completions") if request.json]
    assert chats == ["gpt-6-luna", "gpt-6-luna"]
    assert "Default model: gpt-4.1 shuts down on 2027-01-14 (in 25 days), so its replacement gpt-6-luna" in (
        text_of(first)
    )
    assert "Default model" not in text_of(second)


async def _generate_one(make_settings: SettingsFactory) -> str:
    async with open_client(make_settings()) as client:
        made = await client.call_tool("generate_image", {"prompt": "a red square"})
    assert made.structured_content is not None
    image_id: str = made.structured_content["images"][0]["id"]
    return image_id


@pytest.mark.parametrize(
    ("notice_days", "moment"),
    [(0, datetime(2026, 11, 20, 9, 0, tzinfo=UTC)), (30, datetime(2026, 10, 20, 9, 0, tzinfo=UTC))],
    ids=["turned-off", "too-early"],
)
async def test_the_default_stays_when_moving_is_off_or_the_shutdown_is_far(
    make_settings: SettingsFactory, emulator: Emulator, notice_days: int, moment: datetime
) -> None:
    settings = make_settings(default_model="gpt-image-1.5", default_notice_days=notice_days)
    async with open_client(settings, FrozenClock(moment)) as client:
        made = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert not made.is_error, text_of(made)
    assert sent_models(emulator) == ["gpt-image-1.5"]
    assert "Default model" not in text_of(made) and "Warning: gpt-image-1.5 shuts down on 2026-12-01" in text_of(made)


@asynccontextmanager
async def http_in_process(settings: Settings, clock: FrozenClock) -> AsyncIterator[str]:
    """The server on streamable HTTP in this process (so on the frozen clock); yields its MCP URL."""
    port = free_port()
    settings = settings.model_copy(update={"transport": "http", "port": port})
    app = http_app(build_server(settings, clock), settings)
    web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    async with anyio.create_task_group() as group:
        group.start_soon(web.serve)
        with patiently("the HTTP server to start"):
            while not web.started:
                await anyio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}{settings.path}"
        finally:
            web.should_exit = True


@pytest.mark.parametrize(
    ("mode", "stateless", "told"),
    [
        ("legacy", False, [True, False, True, False]),
        ("legacy", True, [True] * 4),
        ("auto", False, [True] * 4),
    ],
    ids=["sessions", "stateless", "sessionless-protocol"],
)
async def test_over_http_each_session_is_told_once(
    make_settings: SettingsFactory, emulator: Emulator, mode: str, stateless: bool, told: list[bool]
) -> None:
    """A handshake-era session (mcp-session-id) is told once; without a session to remember it by (stateless HTTP,
    or the 2026-07-28 protocol, which has no sessions) every call is told."""
    settings = make_settings(default_model="gpt-image-1.5", stateless_http=stateless)
    heard = []
    async with http_in_process(settings, FrozenClock()) as url:
        for _ in range(2):
            async with open_client(url, mode=mode) as client:
                for prompt in ("a fox", "a hare"):
                    made = await client.call_tool("generate_image", {"prompt": prompt})
                    assert not made.is_error, text_of(made)
                    heard.append(MOVED in text_of(made))

    assert heard == told
    assert sent_models(emulator) == ["gpt-image-2.6-flare"] * 4
