"""The emulator itself: it behaves like the API where the server's tests rely on it, and its contract check bites."""

from __future__ import annotations

import base64
import io

import anyio
import httpx2
import pytest
from PIL import Image

from tests.fake_openai import Emulator, Fault
from tests.fake_openai.app import SWITCHES, EmulatorState
from tests.fake_openai.contract import multipart_body, violations
from tests.support.images import png_bytes
from tests.support.upstream import post


def test_the_contract_check_accepts_valid_and_flags_invalid_bodies() -> None:
    assert violations("/v1/images/generations", {"prompt": "x", "model": "gpt-image-2", "n": 2}) == []
    assert violations("/v1/images/generations", {"prompt": "x", "n": "two"}) == [
        "/v1/images/generations: n: 'two' is not valid under any of the given schemas"
    ]
    assert violations("/v1/images/generations", {"prompt": "x", "quality": "ultra"}) != []
    assert violations("/v1/images/generations", {"prompt": "x", "colour": "red"}) == [
        "/v1/images/generations: unknown parameter 'colour'"
    ]
    edit = multipart_body({"prompt": ["x"], "n": ["2"]}, {"image[]": [b"a", b"b"], "mask": [b"m"]})
    assert violations("/v1/images/edits", edit) == []
    assert violations("/v1/images/edits", multipart_body({"n": ["1"]}, {"image": [b"a"]})) == [
        "/v1/images/edits: (body): 'prompt' is a required property"
    ]
    chat = {"model": "m", "messages": [{"role": "robot", "content": "x"}]}
    assert violations("/v1/chat/completions", chat) != []


def test_requests_are_checked_and_recorded(emulator: Emulator) -> None:
    response = post(emulator, "/images/generations", json={"prompt": "x", "model": "gpt-image-2", "size": "huge"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "size"
    assert response.headers["x-request-id"].startswith("req_")
    post(emulator, "/images/generations", json={"prompt": "x", "n": "two"})
    assert emulator.contract_violations == [
        "/v1/images/generations: n: 'two' is not valid under any of the given schemas"
    ]
    emulator.reset()


def test_auth_and_answers(emulator: Emulator) -> None:
    denied = httpx2.post(f"{emulator.base_url}/images/generations", json={"prompt": "x"}, timeout=10)
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "invalid_api_key"

    gpt = post(emulator, "/images/generations", json={"prompt": "x", "model": "gpt-image-2", "output_format": "webp"})
    image = Image.open(io.BytesIO(base64.b64decode(gpt.json()["data"][0]["b64_json"])))
    assert (image.format, image.size) == ("WEBP", (1024, 1024))
    assert gpt.json()["usage"]["total_tokens"] > 0

    emulator.set(serves_retired=True)  # dall-e-2 answers with URLs, where a gateway still serves it
    url_answer = post(emulator, "/images/generations", json={"prompt": "x", "model": "dall-e-2", "size": "256x256"})
    downloaded = httpx2.get(url_answer.json()["data"][0]["url"], timeout=10)
    assert Image.open(io.BytesIO(downloaded.content)).size == (256, 256)

    rejected = post(
        emulator, "/images/generations", json={"prompt": "x", "model": "gpt-image-2", "response_format": "url"}
    )
    assert rejected.json()["error"]["code"] == "unknown_parameter"


def test_faults_are_consumed_once(emulator: Emulator) -> None:
    emulator.enqueue(Fault(status=429, headers={"retry-after": "1"}, path="/v1/images/generations"))
    first = post(emulator, "/images/generations", json={"prompt": "x", "model": "gpt-image-2"})
    second = post(emulator, "/images/generations", json={"prompt": "x", "model": "gpt-image-2"})
    assert (first.status_code, first.headers["retry-after"]) == (429, "1")
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    assert second.status_code == 200


def test_edits_check_mimetypes_and_masks(emulator: Emulator) -> None:
    image = png_bytes((64, 64))
    untyped = post(
        emulator,
        "/images/edits",
        data={"prompt": "x", "model": "gpt-image-2"},
        files=[("image", ("a.png", image, "application/octet-stream"))],
    )
    assert untyped.json()["error"]["code"] == "unsupported_file_mimetype"
    no_alpha = post(
        emulator,
        "/images/edits",
        data={"prompt": "x", "model": "gpt-image-2"},
        files=[("image", ("a.png", image, "image/png")), ("mask", ("m.png", image, "image/png"))],
    )
    assert no_alpha.json()["error"]["message"] == "Invalid mask image format - mask image missing alpha channel"


def test_vision_reports_what_it_received(emulator: Emulator) -> None:
    red = base64.b64encode(png_bytes((40, 30), (255, 0, 0))).decode()
    url = emulator.serve_file("blue.png", png_bytes((20, 10), (0, 0, 255)), "image/png")
    content = [
        {"type": "text", "text": "what?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{red}", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    answer = post(
        emulator, "/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}]}
    )
    assert answer.json()["choices"][0]["message"]["content"] == (
        "image 1: 40x30 png dominant #f80808 detail=low\nimage 2: 20x10 png dominant #0808f8 detail=auto"
    )


@pytest.mark.anyio
async def test_a_hold_keeps_requests_until_released(emulator: Emulator) -> None:
    statuses: list[int] = []

    async def generate() -> None:
        async with httpx2.AsyncClient(timeout=30) as http:
            response = await http.post(
                f"{emulator.base_url}/images/generations",
                headers={"authorization": f"Bearer {emulator.api_key}"},
                json={"prompt": "x", "model": "gpt-image-2.6-flare"},
            )
        statuses.append(response.status_code)

    with emulator.hold("/images/generations") as upstream:
        async with anyio.create_task_group() as group:
            group.start_soon(generate)
            await upstream.until_held()
            assert statuses == [], "a held request is not answered"
            upstream.release()
    assert statuses == [200]


@pytest.mark.anyio
async def test_a_held_stream_pauses_after_the_partial_images_asked_for(emulator: Emulator) -> None:
    body = {"prompt": "x", "model": "gpt-image-2.6-flare", "stream": True, "partial_images": 2}
    headers = {"authorization": f"Bearer {emulator.api_key}"}
    events: list[str] = []
    with emulator.hold("/images/generations", after_partials=1) as upstream:
        async with (
            httpx2.AsyncClient(timeout=30) as http,
            http.stream("POST", f"{emulator.base_url}/images/generations", json=body, headers=headers) as response,
        ):
            lines = response.aiter_lines()
            async for line in lines:
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                    break
            await upstream.until_held()
            upstream.release()
            events += [line.removeprefix("event: ") async for line in lines if line.startswith("event: ")]
    assert events == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]


def test_a_switch_the_emulator_lacks_is_refused(emulator: Emulator) -> None:
    """A test that sets a switch the emulator does not have (or no longer has) fails instead of testing nothing."""
    with pytest.raises(
        TypeError, match=r"^The emulator has no switch stream_interval; its switches are also_serves, answer_urls, "
    ):
        emulator.set(stream_interval=0.05)  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        emulator.stream_interval = 0.05  # type: ignore[attr-defined]


def test_every_switch_is_state_the_emulator_resets() -> None:
    assert set(SWITCHES) <= set(vars(EmulatorState("sk-test")))
