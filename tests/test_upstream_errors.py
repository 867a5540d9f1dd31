"""Upstream failures: readable errors with request ids, retries that honour the server, and no key anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.fake_openai import Emulator, Fault
from tests.support.results import text_of, visible_files
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

GENERATIONS = "/v1/images/generations"


async def test_moderation_refusal_is_readable(client: Client, emulator: Emulator, output_dir: Path) -> None:
    result = await client.call_tool("generate_image", {"prompt": "something forbidden"})

    assert result.is_error
    text = text_of(result)
    assert text.startswith("The image API refused the request (HTTP 400, moderation_blocked): ")
    assert "Rephrase the prompt; the provider's safety system rejected it." in text
    assert "(request id req_" in text
    assert len(emulator.requests_to("/images/generations")) == 1, "a 400 is not retried"
    assert visible_files(output_dir) == [], "no image: only the server's hidden records"


async def test_429_with_retry_after_is_retried_then_succeeds(client: Client, emulator: Emulator) -> None:
    emulator.enqueue(
        Fault(
            status=429,
            path=GENERATIONS,
            headers={"retry-after": "0.2"},
            body={
                "error": {
                    "message": "Rate limit reached for images per minute.",
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            },
        )
    )

    result = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    assert not result.is_error, text_of(result)
    assert len(emulator.requests_to("/images/generations")) == 2
    assert result.structured_content is not None
    assert len(result.structured_content["images"]) == 1


async def test_500_is_retried_then_fails_with_the_request_id(client: Client, emulator: Emulator) -> None:
    emulator.enqueue(*[Fault(status=500, path=GENERATIONS, headers={"retry-after-ms": "10"}) for _ in range(3)])

    result = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    assert result.is_error
    assert len(emulator.requests_to("/images/generations")) == 3, "one try and two retries"
    text = text_of(result)
    assert text.startswith("The image API failed (HTTP 500, on each of 3 attempts): The server had an error while")
    assert "The provider had a problem answering; try again in a while. (request id req_" in text


async def test_x_should_retry_false_stops_retries(client: Client, emulator: Emulator) -> None:
    emulator.enqueue(Fault(status=503, path=GENERATIONS, headers={"x-should-retry": "false"}))

    result = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    assert result.is_error
    assert len(emulator.requests_to("/images/generations")) == 1


async def test_a_dropped_connection_is_retried(client: Client, emulator: Emulator) -> None:
    emulator.enqueue(Fault(path=GENERATIONS, drop_connection=True))

    result = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    assert not result.is_error, text_of(result)
    assert len(emulator.requests_to("/images/generations")) == 2


async def test_dedalus_validation_errors_are_readable(make_settings: SettingsFactory, emulator: Emulator) -> None:
    detail = {"detail": [{"loc": ["body", "size"], "msg": "unsupported size for this model", "type": "value_error"}]}
    emulator.enqueue(Fault(status=422, path=GENERATIONS, body=detail, headers={"x-request-id": "ded-123"}))

    async with open_client(make_settings(provider="dedalus")) as session:
        result = await session.call_tool("generate_image", {"prompt": "a calm sea"})

    assert result.is_error
    assert text_of(result) == (
        "The image API refused the request (HTTP 422): size: unsupported size for this model (request id ded-123)"
    )


async def test_a_missing_key_names_the_variable_to_set(make_settings: SettingsFactory, emulator: Emulator) -> None:
    async with open_client(make_settings(api_key=None)) as session:
        tools = await session.list_tools()
        assert "generate_image" in [tool.name for tool in tools.tools]
        result = await session.call_tool("generate_image", {"prompt": "a calm sea"})

    assert result.is_error
    assert "Set MCP_IMAGES_API_KEY or OPENAI_API_KEY" in text_of(result)
    assert emulator.requests_except_models == []


async def test_a_missing_dedalus_key_names_dedalus_variable(make_settings: SettingsFactory) -> None:
    async with open_client(make_settings(api_key=None, provider="dedalus")) as session:
        result = await session.call_tool("generate_image", {"prompt": "a calm sea"})

    assert "Set MCP_IMAGES_API_KEY or DEDALUS_API_KEY" in text_of(result)


@pytest.mark.parametrize("variable", ["MCP_IMAGES_API_KEY", "OPENAI_API_KEY"])
async def test_a_wrong_key_is_reported_by_its_variable_without_echoing_it(
    make_settings: SettingsFactory,
    emulator: Emulator,
    debug_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    wrong_key = "sk-wrong-key-that-must-never-leak-0000"
    monkeypatch.setenv(variable, wrong_key)
    settings = make_settings(api_key=None) if variable == "OPENAI_API_KEY" else make_settings(api_key=wrong_key)
    async with open_client(settings) as session:
        result = await session.call_tool("generate_image", {"prompt": "a calm sea"})

    assert result.is_error
    text = text_of(result)
    assert "HTTP 401" in text and f"Check that the API key in {variable} is valid for this provider." in text
    assert wrong_key not in text
    assert wrong_key not in debug_logs.text


async def test_the_key_is_in_no_log_line_and_no_result(
    make_settings: SettingsFactory, emulator: Emulator, debug_logs: pytest.LogCaptureFixture
) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-3, which answers with URLs
    emulator.enqueue(Fault(status=429, path=GENERATIONS, headers={"retry-after": "0"}))
    emulator.enqueue(Fault(status=500, path=GENERATIONS, body=f"echoing {emulator.api_key} back"))
    results = []
    async with open_client(make_settings(max_retries=0)) as session:
        for arguments in (
            {"prompt": "a calm sea"},
            {"prompt": "a calm sea"},
            {"prompt": "something forbidden"},
            {"prompt": "a calm sea", "model": "dall-e-3", "n": 2},
        ):
            results.append(await session.call_tool("generate_image", arguments))
        resources = await session.list_resources()

    everything = json.dumps([r.model_dump(mode="json") for r in results]) + resources.model_dump_json()
    assert emulator.api_key not in everything
    assert "[redacted]" in everything, "the echoed key was replaced"
    assert debug_logs.records, "the flow logged something"
    assert emulator.api_key not in debug_logs.text
    for record in debug_logs.records:
        assert emulator.api_key not in record.getMessage()


@pytest.mark.parametrize("limit", [1, 4])
async def test_concurrent_requests_are_capped(make_settings: SettingsFactory, emulator: Emulator, limit: int) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-3, which makes one image per request
    results: list[CallToolResult] = []

    async def generate(session: Client) -> None:
        results.append(await session.call_tool("generate_image", {"prompt": "owls", "model": "dall-e-3", "n": 4}))

    async with open_client(make_settings(max_concurrency=limit)) as session:
        with emulator.hold(GENERATIONS) as upstream:
            async with anyio.create_task_group() as group:
                group.start_soon(generate, session)
                await upstream.until_held(limit)
                upstream.release()

    [result] = results
    assert not result.is_error, text_of(result)
    assert len(emulator.requests_to("/images/generations")) == 4
    assert emulator.max_in_flight == limit


async def test_the_upstream_timeout_is_reported_and_not_retried(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    async with open_client(make_settings(upstream_timeout=0.3)) as session:
        with emulator.hold(GENERATIONS):
            result = await session.call_tool("generate_image", {"prompt": "too slow"})

    assert result.is_error
    assert text_of(result) == (
        "The image API did not answer /images/generations within 0.3 s. Try again, pick a lower quality, or raise "
        "MCP_IMAGES_UPSTREAM_TIMEOUT."
    )
    sent = await emulator.wait_for_request("/images/generations")
    assert len(sent) == 1, "a paid request that may still run is not resent"
