"""Limits on what the upstream can do to a call: a total deadline, a size cap, and partial images that cannot
cost the final one.

An upstream that trickles its answer one byte at a time never trips a per-read timeout; one that answers with
hundreds of megabytes would fill memory; a stream's malformed partial image is a preview, not the answer.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import CallToolResult

from tests.fake_openai import Emulator, Fault
from tests.support.images import png_bytes, write_png
from tests.support.results import text_of, visible_files
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

GENERATIONS = "/v1/images/generations"
LIMIT = 100_000


def sse(*events: dict[str, Any]) -> str:
    return "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events)


def event_stream(*events: dict[str, Any]) -> Fault:
    return Fault(status=200, path=GENERATIONS, body=sse(*events), headers={"content-type": "text/event-stream"})


async def no_progress(progress: float, total: float | None, message: str | None) -> None:
    return None


async def streamed_generate(client: Client) -> CallToolResult:
    """A generate call that asks for progress, so gpt-image-1 is asked to stream."""
    return await client.call_tool("generate_image", {"prompt": "a harbour"}, progress_callback=no_progress)


async def test_a_trickling_answer_hits_the_total_deadline_while_other_calls_go_on(
    make_settings: SettingsFactory, emulator: Emulator, home: Path
) -> None:
    emulator.enqueue(
        Fault(status=200, path=GENERATIONS, body='{"created": 1, "data": [], "padding": "xx"}', trickle=0.5)
    )
    write_png(home / "boat.png")
    results: dict[str, CallToolResult] = {}

    async with open_client(make_settings(upstream_timeout=2.0)) as client:

        async def slow() -> None:
            results["slow"] = await client.call_tool("generate_image", {"prompt": "a harbour"})

        async with anyio.create_task_group() as group:
            group.start_soon(slow)
            while not emulator.requests_to("/images/generations"):
                await anyio.sleep(0.01)
            results["meanwhile"] = await client.call_tool("analyze_image", {"images": ["~/boat.png"]})

    assert results["slow"].is_error
    assert text_of(results["slow"]) == (
        "The image API did not answer /images/generations within 2 s. Try again, pick a lower quality, or raise "
        "MCP_IMAGES_UPSTREAM_TIMEOUT."
    )
    assert not results["meanwhile"].is_error, text_of(results["meanwhile"])
    assert "64x48 png" in text_of(results["meanwhile"])
    assert len(emulator.requests_to("/images/generations")) == 1, "a paid request that may still run is not resent"


async def test_an_oversized_answer_is_refused_with_the_limit_named(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    image = base64.b64encode(png_bytes()).decode()
    answer = {"created": 1, "data": [{"b64_json": image}], "padding": "x" * 3 * LIMIT}
    body = json.dumps(answer)
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=body, headers={"content-type": "application/json"}))
    size = len(body.encode())

    async with open_client(make_settings(max_upstream_bytes=LIMIT)) as client:
        result = await client.call_tool("generate_image", {"prompt": "a harbour"})

    assert result.is_error
    assert text_of(result) == (
        f"The image API's answer to /images/generations was refused: its body ({size:,} bytes) is larger than "
        "100,000 bytes, the most the server accepts (MCP_IMAGES_MAX_UPSTREAM_BYTES)."
    )
    assert visible_files(output_dir) == [], "no image: only the server's hidden records"


async def test_an_oversized_stream_event_is_refused_with_the_limit_named(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    huge = base64.b64encode(png_bytes() + b"\0" * 2 * LIMIT).decode()
    emulator.enqueue(event_stream({"type": "image_generation.completed", "b64_json": huge}))

    async with open_client(make_settings(max_upstream_bytes=LIMIT), mode="legacy") as client:
        result = await streamed_generate(client)

    assert result.is_error
    assert text_of(result) == (
        "The image API's answer to /images/generations was refused: one event of its stream is larger than "
        "100,000 bytes, the most the server accepts (MCP_IMAGES_MAX_UPSTREAM_BYTES)."
    )


async def test_a_malformed_partial_image_does_not_cost_the_final_image(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    final = png_bytes((96, 64), (0, 90, 200))
    emulator.enqueue(
        event_stream(
            {"type": "image_generation.partial_image", "b64_json": "@@not base64@@", "partial_image_index": 0},
            {
                "type": "image_generation.partial_image",
                "b64_json": base64.b64encode(png_bytes()).decode(),
                "partial_image_index": "first",
            },
            {"type": "image_generation.completed", "b64_json": base64.b64encode(final).decode()},
        )
    )

    async with open_client(make_settings(), mode="legacy") as client:
        result = await streamed_generate(client)

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    assert Path(entry["path"]).read_bytes() == final
    assert "1 partial image(s) arrived damaged and were skipped; the final image is complete." in text_of(result)
