"""The rest of the protocol a client UI uses: completions and log messages to the client."""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPDeprecationWarning
from mcp.types import LoggingMessageNotificationParams, PromptReference, ResourceTemplateReference

from mcp_server_images.store import ImageRecord, LocalStore
from tests.fake_openai import Emulator, Fault
from tests.support.images import seed
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio


async def test_capabilities_include_logging_and_completions(make_settings: SettingsFactory) -> None:
    async with open_client(make_settings(), mode="legacy") as client:
        capabilities = client.server_capabilities
    assert capabilities is not None
    assert capabilities.logging is not None
    assert capabilities.completions is not None
    assert capabilities.prompts is not None


async def test_image_ids_complete_in_the_template_and_in_prompts(client: Client, output_dir: Path) -> None:
    ids = seed(output_dir, 3)
    template = ResourceTemplateReference(uri="images://{id}")

    everything = (await client.complete(template, {"name": "id", "value": ""})).completion
    one = (await client.complete(template, {"name": "id", "value": ids[1][:3].upper()})).completion
    in_prompt = await client.complete(PromptReference(name="edit_then_verify"), {"name": "image", "value": ""})

    assert everything.values == ids[::-1]
    assert everything.total == 3 and everything.has_more is False
    assert ids[1] in one.values and all(value.startswith(ids[1][:3]) for value in one.values)
    assert in_prompt.completion.values == ids[::-1]


async def test_image_ids_complete_without_listing_the_store(
    client: Client, output_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More images than a completion holds: what was typed is looked up in the index, the newest are asked for
    when nothing is typed, and the store is never listed whole."""
    ids = seed(output_dir, 105)
    whole: list[int] = []
    listing = LocalStore.recent

    def recent(store: LocalStore, **filters: Any) -> list[ImageRecord]:
        if filters.get("limit") is None:
            whole.append(1)
        return listing(store, **filters)

    monkeypatch.setattr(LocalStore, "recent", recent)
    template = ResourceTemplateReference(uri="images://{id}")

    newest = (await client.complete(template, {"name": "id", "value": ""})).completion
    oldest = (await client.complete(template, {"name": "id", "value": ids[0][:6]})).completion
    not_hex = (await client.complete(template, {"name": "id", "value": "zz"})).completion

    assert newest.values == ids[::-1][:100]
    assert newest.total == 105 and newest.has_more is True
    assert ids[0] in oldest.values and all(value.startswith(ids[0][:6]) for value in oldest.values)
    assert not_hex.values == [] and not_hex.has_more is False
    assert whole == [], "no completion listed the whole store"


async def test_prompt_arguments_complete(client: Client) -> None:
    concept = PromptReference(name="concept_art")

    models = (await client.complete(concept, {"name": "model", "value": "gpt-image-1"})).completion.values
    styles = (await client.complete(concept, {"name": "style", "value": "wat"})).completion.values
    counts = await client.complete(PromptReference(name="logo_iterations"), {"name": "count", "value": "1"})
    free_text = (await client.complete(concept, {"name": "subject", "value": "a"})).completion.values
    unknown = (await client.complete(PromptReference(name="test_prompt"), {"name": "arg1", "value": "x"})).completion

    assert models == ["gpt-image-1.5", "gpt-image-1-mini", "gpt-image-1"]
    assert styles == ["watercolor"]
    assert counts.completion.values == ["1", "10"]
    assert free_text == []
    assert unknown.values == []


def collector() -> tuple[
    list[LoggingMessageNotificationParams], Callable[[LoggingMessageNotificationParams], Awaitable[None]]
]:
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    return received, on_log


async def test_handshake_clients_get_log_messages_at_the_level_they_set(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    received, on_log = collector()
    async with open_client(make_settings(), mode="legacy", logging_callback=on_log) as client:
        made = await client.call_tool("generate_image", {"prompt": "a lighthouse"})
        assert made.structured_content is not None
        [image] = made.structured_content["images"]
        stored = [(m.level, m.data) for m in received]
        received.clear()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.set_logging_level("error")
        await client.call_tool("generate_image", {"prompt": "quiet"})
        quiet = list(received)
        emulator.enqueue(Fault(status=400, body={"error": {"message": "Bad prompt.", "code": "bad"}}))
        await client.call_tool("generate_image", {"prompt": "fails"})

    assert ("info", f"generate: stored 1 image(s) with gpt-image-2.6-flare: {image['id']}") in stored
    assert all(m.logger == "mcp-server-images" for m in received)
    assert quiet == []
    [failure] = received
    assert failure.level == "error"
    assert str(failure.data).startswith(
        "generate failed: The image API refused the request (HTTP 400, bad): Bad prompt."
    )


async def test_current_protocol_sends_log_messages_only_when_the_request_opts_in(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    opted_in, on_log = collector()
    async with open_client(make_settings(), log_level="info", logging_callback=on_log) as client:
        await client.call_tool("generate_image", {"prompt": "opted in"})
    silent, on_silent_log = collector()
    async with open_client(make_settings(), logging_callback=on_silent_log) as client:
        await client.call_tool("generate_image", {"prompt": "not opted in"})

    assert [m.level for m in opted_in] == ["info"]
    assert silent == []
