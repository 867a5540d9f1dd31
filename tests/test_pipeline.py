"""The promises the one pipeline keeps, on every tool and every upstream API that makes images.

Every producing call is planned (checked and priced, nothing sent) and then run by `operations.pipeline.run`, the
only code that sends an image request. So each promise is tested once per path: a tool through an API, on OpenAI's
own wire and on each provider's (tests/support/provider_paths.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.types import CallToolResult

from mcp_server_images.settings import Settings
from mcp_server_images.store import LocalStore
from tests.fake_openai import Emulator, Hold, Switches
from tests.support.images import write_png
from tests.support.provider_paths import PROVIDER_PATHS
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class CallPath:
    """A producing tool through one upstream API: its arguments, the path its request goes to, the set-up."""

    tool: str
    arguments: dict[str, Any]
    upstream: str
    switches: Switches = field(default_factory=Switches)
    gateway: bool = False


CHAT = "gemini-nano-banana-2.1"
PATHS = {
    "generate-images": CallPath("generate_image", {"prompt": "a fox"}, "/images/generations"),
    "generate-chat": CallPath("generate_image", {"prompt": "a fox", "model": CHAT}, "/chat/completions", gateway=True),
    "generate-responses": CallPath("generate_image", {"prompt": "a fox", "api": "responses"}, "/responses"),
    "edit-images": CallPath("edit_image", {"prompt": "add a hat"}, "/images/edits"),
    "edit-chat": CallPath("edit_image", {"prompt": "add a hat", "model": CHAT}, "/chat/completions", gateway=True),
    "edit-responses": CallPath("edit_image", {"prompt": "add a hat", "api": "responses"}, "/responses"),
    "vary-native": CallPath("create_image_variation", {}, "/images/variations", Switches(serves_retired=True)),
    "vary-emulated": CallPath("create_image_variation", {"model": "gpt-image-2"}, "/images/edits"),
}


def arguments(path: CallPath, home: Path) -> dict[str, Any]:
    image = str(write_png(home / "cat.png", (256, 256)))
    if path.tool == "edit_image":
        return {"images": [image], **path.arguments}
    if path.tool == "create_image_variation":
        return {"image": image, **path.arguments}
    return dict(path.arguments)


def ledger(output_dir: Path) -> list[str]:
    """The kinds of the spend ledger's entries, in the order they were written."""
    folder = output_dir / ".ledger"
    months = list(folder.iterdir()) if folder.is_dir() else []
    return [json.loads(entry.read_text())["kind"] for month in months for entry in sorted(month.glob("*.json"))]


async def ledger_while_held(
    settings: Settings, output_dir: Path, hold: Hold, tool: str, arguments: dict[str, Any]
) -> tuple[CallToolResult, list[str]]:
    """The call's result, and the ledger as it was while its request was held at the upstream by `hold`."""
    results: list[CallToolResult] = []
    with hold as held:
        async with open_client(settings) as client, anyio.create_task_group() as group:

            async def call() -> None:
                results.append(await client.call_tool(tool, arguments))

            group.start_soon(call)
            await held.until_held()
            while_upstream = ledger(output_dir)
            held.release()
    return results[0], while_upstream


@pytest.mark.parametrize("name", list(PATHS))
async def test_every_paid_request_is_in_the_ledger_before_it_is_sent(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path, home: Path, name: str
) -> None:
    """No budget is set: the reservation is written before the request leaves, and settled once it answered."""
    path = PATHS[name]
    emulator.set(**path.switches)
    settings = make_settings(**({"provider": emulator.base_url} if path.gateway else {}))

    result, while_upstream = await ledger_while_held(
        settings, output_dir, emulator.hold(path.upstream), path.tool, arguments(path, home)
    )

    assert not result.is_error, text_of(result)
    assert while_upstream == ["reserve"], "recorded before the request was answered"
    assert ledger(output_dir) == ["reserve", "settle"]


@pytest.mark.parametrize("name", list(PROVIDER_PATHS))
async def test_every_paid_request_to_a_provider_is_in_the_ledger_before_it_is_sent(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path, home: Path, tmp_path: Path, name: str
) -> None:
    path = PROVIDER_PATHS[name]
    emulator.set(**path.switches)
    settings = make_settings(**path.settings(emulator, tmp_path))

    result, while_upstream = await ledger_while_held(
        settings, output_dir, emulator.hold(path.upstream, exact=True), path.tool, path.call(home)
    )

    assert not result.is_error, text_of(result)
    assert emulator.requests_to(path.upstream), "the paid request went where the row says"
    assert while_upstream == ["reserve"], "recorded before the request was answered"
    assert ledger(output_dir) == ["reserve", "settle"]


@pytest.mark.parametrize("name", ["generate-images", "edit-images", "vary-native"])
async def test_save_to_copies_are_the_bytes_just_received(
    make_settings: SettingsFactory,
    emulator: Emulator,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    """The copy is written from the answer's bytes, not read back from the store (here the store cannot be read)."""
    path = PATHS[name]
    emulator.set(**path.switches)

    def unreadable(store: LocalStore, record: object) -> bytes:
        raise OSError("the store cannot be read back")

    monkeypatch.setattr(LocalStore, "read", unreadable)
    async with open_client(make_settings()) as client:
        result = await client.call_tool(path.tool, {**arguments(path, home), "save_to": str(home / "copy.png")})

    assert not result.is_error, text_of(result)
    assert "save_to failed" not in text_of(result)
    assert result.structured_content is not None
    [stored] = result.structured_content["images"]
    assert (home / "copy.png").read_bytes() == Path(stored["path"]).read_bytes() == emulator.sent_images[-1]
