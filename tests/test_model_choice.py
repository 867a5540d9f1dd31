"""Issue 21, items 3 and 6: the model a user names is the model sent, when the provider serves it.

A named model is never replaced by, or refused because of, the configured default, and on every provider it is
sent as that provider's wire names it (an Azure deployment, an OpenRouter vendor prefix); without a name, a default the
provider does not serve gives way to the best model it does serve for the task, and the result says which. On
OpenAI's own API the model list decides what exists; elsewhere it is evidence, so a named model it lacks is sent,
and a `model_not_found` answer is explained with what the list offers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.fake_openai import Emulator
from tests.support.images import write_png
from tests.support.provider_paths import PROVIDER_PATHS
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

OLD_MODELS_ONLY: list[str | dict[str, Any]] = ["gpt-image-1", "dall-e-2", "gpt-6-luna"]
"""A provider that still serves two retired image models and none of the catalog's current ones."""


@pytest.fixture
async def old_provider(make_settings: SettingsFactory, emulator: Emulator) -> AsyncIterator[Client]:
    emulator.set(served_models=OLD_MODELS_ONLY)
    async with open_client(make_settings()) as client:
        yield client


@pytest.mark.parametrize(
    ("model", "path", "method"),
    [("dall-e-2", "/images/variations", "variations"), ("gpt-image-1", "/images/edits", "edits")],
)
async def test_a_named_variation_model_is_sent_though_the_default_is_not_served(
    old_provider: Client, emulator: Emulator, home: Path, model: str, path: str, method: str
) -> None:
    source = write_png(home / "cat.png", (512, 512))

    result = await old_provider.call_tool("create_image_variation", {"image": str(source), "model": model})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert (result.structured_content["model"], result.structured_content["method"]) == (model, method)
    [request] = emulator.requests_to(path)
    assert request.form["model"] == [model]
    assert "gpt-image-2.6-flare" not in text_of(result)


async def test_a_named_generation_model_is_sent_though_the_default_is_not_served(
    old_provider: Client, emulator: Emulator
) -> None:
    result = await old_provider.call_tool("generate_image", {"prompt": "a kite", "model": "gpt-image-1"})

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["model"] == "gpt-image-1"
    assert "Default model" not in text_of(result)


async def test_without_a_model_the_best_served_one_for_the_task_is_used_and_named(
    old_provider: Client, emulator: Emulator, home: Path
) -> None:
    made = await old_provider.call_tool("generate_image", {"prompt": "a kite"})
    source = write_png(home / "cat.png", (512, 512))
    varied = await old_provider.call_tool("create_image_variation", {"image": str(source)})

    assert not made.is_error, text_of(made)
    assert made.structured_content is not None and made.structured_content["model"] == "gpt-image-1"
    assert (
        "Default model: gpt-image-2.6-flare is not served by this provider; using gpt-image-1, the best image model "
        "this provider serves for generations." in text_of(made)
    )
    assert not varied.is_error, text_of(varied)
    assert varied.structured_content is not None and varied.structured_content["method"] == "variations"
    [request] = emulator.requests_to("/images/variations")
    assert request.form["model"] == ["dall-e-2"]


@pytest.fixture
async def gateway(make_settings: SettingsFactory, emulator: Emulator) -> AsyncIterator[Client]:
    """A gateway whose list names two models; it serves gpt-image-2 too without listing it."""
    emulator.set(served_models=["gpt-image-2.6-flare", "gpt-6-luna"])
    emulator.set(also_serves=["gpt-image-2"])
    async with open_client(make_settings(provider=emulator.base_url)) as client:
        yield client


async def test_on_a_gateway_a_named_model_its_list_lacks_is_sent(gateway: Client, emulator: Emulator) -> None:
    result = await gateway.call_tool("generate_image", {"prompt": "a kite", "model": "gpt-image-2"})

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["model"] == "gpt-image-2"


async def test_on_a_gateway_model_not_found_is_explained_with_what_the_list_offers(
    gateway: Client, emulator: Emulator
) -> None:
    first = await gateway.call_tool("generate_image", {"prompt": "a kite", "model": "gpt-image-2.5-flare"})
    second = await gateway.call_tool("generate_image", {"prompt": "a kite", "model": "gpt-image-2.5-flare"})

    assert first.is_error and second.is_error
    text = text_of(first)
    assert text.startswith("gpt-image-2.5-flare is not served by this provider any more (it answered model_not_found)")
    assert "Served image models that do generations: gpt-image-2.6-flare. (request id " in text
    assert len(emulator.requests_to("/images/generations")) == 1, "sent once; the answer is remembered"


async def test_on_a_gateway_a_shut_down_model_it_does_not_list_is_refused_before_paying(
    gateway: Client, emulator: Emulator
) -> None:
    result = await gateway.call_tool("generate_image", {"prompt": "a kite", "model": "dall-e-3"})

    assert result.is_error
    assert text_of(result).startswith(
        "dall-e-3 was shut down by OpenAI on 2026-05-12, and this provider does not serve it"
    )
    assert emulator.requests_to("/images/generations") == []


async def test_on_openai_the_list_decides(client: Client, emulator: Emulator) -> None:
    emulator.set(served_models=["gpt-image-2.6-flare", "gpt-6-luna"])
    emulator.set(also_serves=["gpt-image-2"])

    result = await client.call_tool("generate_image", {"prompt": "a kite", "model": "gpt-image-2"})

    assert result.is_error
    assert text_of(result) == (
        "gpt-image-2 is not served by this provider. Served image models that do generations: gpt-image-2.6-flare. "
        "Call list_models to see what it serves."
    )
    assert emulator.requests_to("/images/generations") == []


@pytest.mark.parametrize("name", list(PROVIDER_PATHS))
async def test_the_model_named_is_the_model_each_provider_is_sent(
    make_settings: SettingsFactory, emulator: Emulator, home: Path, tmp_path: Path, name: str
) -> None:
    path = PROVIDER_PATHS[name]
    emulator.set(**path.switches)
    async with open_client(make_settings(**path.settings(emulator, tmp_path))) as client:
        result = await client.call_tool(path.tool, path.call(home, n=2))

    assert not result.is_error, text_of(result)
    sent = [request for request in emulator.requests if request.path == path.upstream]
    assert sent and all(path.sent_model(request) == path.wire_model for request in sent)
    assert result.structured_content is not None and result.structured_content["model"] == path.wire_model
