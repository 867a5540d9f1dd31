"""Prompts: the creative-director recipes, their arguments, and plain invalid-params answers for mistakes."""

from __future__ import annotations

import logging
from typing import Literal

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, TextContent

from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio


async def rendered(client: Client, name: str, arguments: dict[str, str]) -> str:
    result = await client.get_prompt(name, arguments)
    [message] = result.messages
    assert message.role == "user"
    assert isinstance(message.content, TextContent)
    return message.content.text


def order_of(text: str, *tools: str) -> list[int]:
    return [text.index(tool) for tool in tools]


async def test_the_recipes_are_listed_with_their_arguments(client: Client) -> None:
    prompts = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}

    assert list(prompts) == ["concept_art", "product_shot", "logo_iterations", "edit_then_verify"]
    for prompt in prompts.values():
        assert prompt.description and prompt.title
        assert all(argument.description for argument in prompt.arguments or [])
    required = {name: [a.name for a in p.arguments or [] if a.required] for name, p in prompts.items()}
    assert required == {
        "concept_art": ["subject"],
        "product_shot": ["product"],
        "logo_iterations": ["brand"],
        "edit_then_verify": ["image", "change"],
    }


async def test_each_recipe_chains_the_tools_in_order(client: Client) -> None:
    concept = await rendered(client, "concept_art", {"subject": "a floating market", "style": "watercolor"})
    product = await rendered(client, "product_shot", {"product": "a ceramic mug", "model": "gpt-image-1.5"})
    logo = await rendered(client, "logo_iterations", {"brand": "Nimbus", "count": "4"})
    verify = await rendered(
        client, "edit_then_verify", {"image": "3f9a2c7b", "change": "make the sky stormy", "region": "the top half"}
    )

    assert "concept art of a floating market in a watercolor style" in concept
    assert sorted(order_of(concept, "generate_image", "edit_image", "analyze_image")) == order_of(
        concept, "generate_image", "edit_image", "analyze_image"
    )
    assert 'background "transparent", output_format "png"' in product
    assert 'model "gpt-image-1.5"' in product
    assert "response_schema" in product
    assert "create_image_variation on the logo's id with n 4" in logo
    assert order_of(logo, "generate_image", "create_image_variation", "analyze_image") == sorted(
        order_of(logo, "generate_image", "create_image_variation", "analyze_image")
    )
    assert 'edit_image with images ["3f9a2c7b"] and the prompt "make the sky stormy"' in verify
    assert "Limit the change to the top half" in verify
    assert 'analyze_image with images ["3f9a2c7b", "<id of the edited image>"]' in verify


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        (
            "make_art",
            {},
            "Unknown prompt 'make_art'. This server's prompts: concept_art, product_shot, logo_iterations, "
            "edit_then_verify.",
        ),
        ("concept_art", {}, "Prompt concept_art needs the argument 'subject'."),
        (
            "edit_then_verify",
            {"image": "3f9a2c7b", "change": "  "},
            "Prompt edit_then_verify needs the argument 'change'.",
        ),
        (
            "concept_art",
            {"subject": "x", "colour": "red"},
            "Prompt concept_art has no argument 'colour'; its arguments are: subject, style, model.",
        ),
        (
            "logo_iterations",
            {"brand": "Nimbus", "count": "eleven"},
            "count must be a whole number from 1 to 10, got 'eleven'.",
        ),
        ("logo_iterations", {"brand": "Nimbus", "count": "0"}, "count must be a whole number from 1 to 10, got '0'."),
    ],
)
async def test_mistakes_answer_invalid_params_without_a_traceback(
    make_settings: SettingsFactory,
    caplog: pytest.LogCaptureFixture,
    mode: Literal["legacy", "auto"],
    name: str,
    arguments: dict[str, str],
    message: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with open_client(make_settings(), mode=mode) as client:
        with pytest.raises(MCPError) as raised:
            await client.get_prompt(name, arguments)

    assert raised.value.error.code == INVALID_PARAMS
    assert raised.value.error.message == message
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
