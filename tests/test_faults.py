"""Fault paths as a user meets them: what the tool answers when the upstream, the network or the store misbehaves,
and which images are on disk afterwards.

Faults are scripted in the emulator (one answer replaced, a held request, a stream cut halfway, a redirect loop),
so every test is deterministic; nothing here waits on a clock except the retry backoff under test.
"""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult

from mcp_server_images.store import ImageRecord, Operation
from tests.fake_openai import Emulator, Fault
from tests.support.clock import FROZEN_AT
from tests.support.images import png_bytes
from tests.support.results import entries, stored_images, text_of
from tests.support.servers import SettingsFactory, free_port, open_client
from tests.support.upstream import b64_answer
from tests.support.waiting import patiently

pytestmark = pytest.mark.anyio

GENERATIONS = "/v1/images/generations"


# --- fan-out ---------------------------------------------------------------------------------------------------


async def test_a_fan_out_keeps_the_images_of_the_requests_that_worked(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.set(serves_retired=True)  # a gateway that still routes dall-e-3, which makes one image per request
    emulator.enqueue(Fault(status=500, path=GENERATIONS))
    async with open_client(make_settings(max_retries=0)) as client:
        result = await client.call_tool("generate_image", {"prompt": "three owls", "model": "dall-e-3", "n": 3})

    assert not result.is_error, text_of(result)
    kept = entries(result)
    assert len(kept) == 2
    assert sorted(Path(entry["path"]) for entry in kept) == stored_images(output_dir)
    assert len(emulator.requests_to("/images/generations")) == 3
    assert (
        "Note: 1 of 3 requests failed: The image API failed (HTTP 500): The server had an error while "
        "processing your request. Sorry about that! The provider had a problem answering; try again in a while. "
        "(request id req_"
    ) in text_of(result)


# --- answers that are not images ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            Fault(status=200, body="<html>Sign in</html>", headers={"content-type": "text/html"}, path=GENERATIONS),
            "The image API answered /images/generations with something that is not a JSON object (content type "
            "text/html). (request id req_",
        ),
        (
            Fault(status=200, body={"created": 1, "data": []}, path=GENERATIONS),
            "The image API answered without any image data. (request id req_",
        ),
        (
            Fault(status=200, body={"created": 1, "data": [{"b64_json": "this is not base64!"}]}, path=GENERATIONS),
            "The image API answered without a usable image (image 1: not valid base64). (request id req_",
        ),
        (
            Fault(status=200, body={"created": 1, "data": [{"revised_prompt": "a calm sea"}]}, path=GENERATIONS),
            "The image API answered without a usable image (image 1: no image data). (request id req_",
        ),
    ],
    ids=["non-json", "empty-data", "bad-base64", "no-image-field"],
)
async def test_an_answer_without_a_usable_image_is_a_readable_error(
    client: Client, emulator: Emulator, output_dir: Path, fault: Fault, message: str
) -> None:
    emulator.enqueue(fault)

    result = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    assert result.is_error
    assert text_of(result).startswith(message)
    assert len(emulator.requests_to("/images/generations")) == 1, "a 200 is not sent again"
    assert stored_images(output_dir) == []


# --- streams ----------------------------------------------------------------------------------------------------


async def test_a_stream_dropped_halfway_keeps_the_last_partial(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.set(stream_drop=True)
    partials: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message and message.startswith("partial image"):
            partials.append(message)

    async with open_client(make_settings(), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "cut off"}, progress_callback=on_progress)

    assert result.is_error
    text = text_of(result)
    assert text.startswith(
        "The connection to the image API broke while answering /images/generations (RemoteProtocolError). "
        "The last partial image was kept as "
    )
    assert len(partials) == 2
    [kept] = stored_images(output_dir)
    assert str(kept) in text
    sidecar = json.loads(kept.with_suffix(".json").read_text())
    assert (sidecar["operation"], sidecar["partial"]) == ("generate", True)
    assert len(emulator.requests_to("/images/generations")) == 1, "a paid stream is not sent again"


# --- the network ------------------------------------------------------------------------------------------------


async def test_connection_refused_until_the_retries_run_out(make_settings: SettingsFactory, output_dir: Path) -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    async with open_client(make_settings(base_url=base_url, max_retries=1)) as client:
        result = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    assert result.is_error
    text = text_of(result)
    assert text.startswith(f"Could not reach the image API at {base_url} after 2 attempts (ConnectError: ")
    assert text.endswith("). Check the network and the base URL.")
    assert stored_images(output_dir) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "3600"},
        {"retry-after-ms": "3600000"},
        {"retry-after": format_datetime(FROZEN_AT + timedelta(hours=2), usegmt=True)},
    ],
    ids=["seconds", "milliseconds", "http-date"],
)
async def test_a_retry_after_beyond_the_cap_falls_back_to_backoff(
    client: Client, emulator: Emulator, headers: dict[str, str]
) -> None:
    scripted = png_bytes((40, 24), (9, 99, 199))
    emulator.enqueue(
        Fault(status=429, path=GENERATIONS, headers=headers),
        Fault(status=200, path=GENERATIONS, body=b64_answer(scripted)),
    )

    with patiently("the retry to back off instead of waiting as long as the server asked"):
        result = await client.call_tool("generate_image", {"prompt": "a calm sea"})

    assert not result.is_error, text_of(result)
    [entry] = entries(result)
    assert Path(entry["path"]).read_bytes() == scripted, "the call ended with the scripted second answer"
    assert len(emulator.requests_to("/images/generations")) == 2


async def test_more_than_five_redirects_are_refused(make_settings: SettingsFactory, emulator: Emulator) -> None:
    url = emulator.redirect_loop("cat.png")
    async with open_client(make_settings(allow_private_urls=True)) as client:
        result = await client.call_tool("edit_image", {"images": [url], "prompt": "add a hat"})

    assert result.is_error
    assert text_of(result) == f"{url} redirected more than 5 times."
    assert len(emulator.requests_to("/loop/")) == 6, "the first request and five redirects"
    assert emulator.requests_to("/images/") == []


async def test_an_answer_url_that_redirects_forever_is_a_readable_error(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.set(serves_retired=True)  # dall-e-2 answers with URLs
    url = emulator.redirect_loop("answer.png")
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body={"created": 1, "data": [{"url": url}]}))

    async with open_client(make_settings(allow_private_urls=True)) as client:  # the emulator is on loopback
        arguments = {"prompt": "a cat", "model": "dall-e-2", "size": "256x256"}
        result = await client.call_tool("generate_image", arguments)

    assert result.is_error
    text = text_of(result)
    assert text.startswith("The image API answered without a usable image (image 1: its URL was not downloaded ("), text
    assert "redirect" in text
    assert stored_images(output_dir) == []


# --- the store --------------------------------------------------------------------------------------------------


def store_as(output_dir: Path, image_id: str, **fields: Any) -> ImageRecord:
    """An image as an earlier session left it: file and sidecar under the store's naming scheme."""
    data = png_bytes((32, 32), (len(image_id), 0, 0))
    record = ImageRecord(
        id=image_id,
        name=f"20260101-000000-{image_id}.png",
        location=str(output_dir / f"20260101-000000-{image_id}.png"),
        mime_type="image/png",
        width=32,
        height=32,
        bytes=len(data),
        created=f"2026-01-01T00:00:00.{len(fields):06d}+00:00",
        prompt=f"seeded {image_id}",
        model="gpt-image-1",
        operation=Operation.GENERATE,
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    Path(record.location).write_bytes(data)
    Path(record.location).with_suffix(".json").write_text(json.dumps(record.sidecar() | fields))
    return record


async def test_an_ambiguous_id_prefix_names_the_candidates(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    first, second = store_as(output_dir, "abcd0001"), store_as(output_dir, "abcd0002")

    refused = await client.call_tool("edit_image", {"images": ["abcd"], "prompt": "add a hat"})
    with pytest.raises(MCPError) as unreadable:
        await client.read_resource("images://abcd")
    chosen = await client.call_tool("edit_image", {"images": ["abcd0002"], "prompt": "add a hat"})

    assert refused.is_error
    text = text_of(refused)
    assert text.startswith("Id prefix 'abcd' matches several images (")
    assert text.endswith("); give more characters.")
    assert first.id in text and second.id in text
    assert str(unreadable.value) == text
    assert not chosen.is_error, text_of(chosen)
    [request] = emulator.requests_to("/images/edits")
    assert [part.data for part in request.files["image"]] == [Path(second.location).read_bytes()]


@pytest.mark.parametrize("cursor", ["next", "-50", "1e3", ""])
async def test_a_bad_resource_cursor_is_an_invalid_params_error(client: Client, output_dir: Path, cursor: str) -> None:
    store_as(output_dir, "abcd0001")

    with pytest.raises(MCPError) as refused:
        await client.list_resources(cursor=cursor)

    assert str(refused.value) == f"invalid cursor {cursor!r}"


async def test_a_cursor_past_the_end_is_an_empty_last_page(client: Client, output_dir: Path) -> None:
    store_as(output_dir, "abcd0001")

    page = await client.list_resources(cursor="1000")

    assert page.resources == []
    assert page.next_cursor is None


CORRUPTIONS: dict[str, bytes] = {
    "truncated": b'{"id": "0bad0bad", "path": "20260101-000000-0bad',
    "not-an-object": b"[1, 2, 3]",
    "not-utf8": b"\xff\xfe\x00\x01",
    "missing-fields": b'{"id": "0bad0bad"}',
}


@pytest.mark.parametrize("damage", list(CORRUPTIONS))
async def test_a_corrupt_sidecar_hides_only_its_image(
    client: Client, emulator: Emulator, output_dir: Path, damage: str
) -> None:
    good = store_as(output_dir, "600d600d")
    bad = store_as(output_dir, "0bad0bad")
    Path(bad.location).with_suffix(".json").write_bytes(CORRUPTIONS[damage])

    await assert_only_good_is_listed(client, output_dir, good, bad)


@pytest.mark.parametrize(
    "fields",
    [{"created": 20260101}, {"width": "wide"}, {"parameters": "n=1"}, {"path": "../../elsewhere.png"}],
    ids=["created", "width", "parameters", "path"],
)
async def test_a_sidecar_with_wrong_types_hides_only_its_image(
    client: Client, emulator: Emulator, output_dir: Path, fields: dict[str, Any]
) -> None:
    good = store_as(output_dir, "600d600d")
    bad = store_as(output_dir, "0bad0bad", **fields)

    await assert_only_good_is_listed(client, output_dir, good, bad)


async def test_a_sidecar_from_a_newer_version_is_still_read(client: Client, output_dir: Path) -> None:
    newer = store_as(output_dir, "4e3e4e3e", cost_usd=0.04, tags=["sea"])

    listing = await client.call_tool("list_images", {})

    assert [entry["id"] for entry in entries(listing)] == [newer.id]


async def assert_only_good_is_listed(client: Client, output_dir: Path, good: ImageRecord, bad: ImageRecord) -> None:
    """list_images, resources/list and reads all carry on without the damaged image; no file is removed."""
    listing = await client.call_tool("list_images", {})
    resources = await client.list_resources()
    missing = await client.call_tool("edit_image", {"images": [bad.id], "prompt": "add a hat"})
    made = await client.call_tool("generate_image", {"prompt": "still works"})

    assert not listing.is_error, text_of(listing)
    assert [entry["id"] for entry in entries(listing)] == [good.id]
    assert [str(resource.uri) for resource in resources.resources] == [good.uri]
    assert missing.is_error
    assert text_of(missing).startswith(f"No stored image has id '{bad.id}' in {output_dir}.")
    assert not made.is_error, text_of(made)
    assert Path(bad.location).exists() and Path(bad.location).with_suffix(".json").exists(), "nothing is deleted"


async def test_save_to_failing_after_the_image_was_stored_keeps_the_image(
    make_settings: SettingsFactory, emulator: Emulator, home: Path
) -> None:
    emulator.set(serves_retired=True)
    destination = home / "out" / "cat.png"
    scripted = png_bytes((48, 32), (9, 8, 7))
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=b64_answer(scripted)))
    results: list[CallToolResult] = []

    async def call(client: Client) -> None:
        arguments = {"prompt": "a cat", "model": "dall-e-3", "save_to": str(destination)}
        results.append(await client.call_tool("generate_image", arguments))

    async with open_client(make_settings(), mode="legacy") as client:
        with emulator.hold(GENERATIONS) as upstream:
            async with anyio.create_task_group() as group:
                group.start_soon(call, client)
                await upstream.until_held()  # save_to was checked and found free; the upstream answer is held
                destination.parent.mkdir()
                destination.write_bytes(b"someone else's file")
                upstream.release()

    [result] = results
    assert not result.is_error, text_of(result)
    [entry] = entries(result)
    assert Path(entry["path"]).read_bytes() == scripted, "the image is in the store"
    assert destination.read_bytes() == b"someone else's file", "nothing was overwritten"
    assert result.structured_content is not None and "saved_to" not in result.structured_content
    assert (
        f"Note: save_to failed, the images are still in the store: {destination} appeared meanwhile; nothing was "
        "overwritten."
    ) in text_of(result)
