"""generate_image end to end: each model family, fan-out, b64 and url answers, files on disk, result shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from mcp import Client
from PIL import Image

from tests.fake_openai import Emulator, Fault
from tests.support.images import decode_image
from tests.support.results import images_in, links_in, stored_images, text_of
from tests.support.servers import SettingsFactory, open_client
from tests.support.upstream import b64_answer

pytestmark = pytest.mark.anyio

IMAGE_KEYS = {"id", "uri", "path", "mime_type", "width", "height", "bytes", "revised_prompt", "provenance"}


async def test_default_model_generates_a_png_on_disk(client: Client, emulator: Emulator, output_dir: Path) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a red fox in snow"})

    assert not result.is_error, text_of(result)
    structured = result.structured_content
    assert structured is not None
    assert set(structured) == {"images", "model", "usage", "cost"}
    assert structured["model"] == "gpt-image-2.6-flare"
    [entry] = structured["images"]
    assert set(entry) == IMAGE_KEYS
    path = Path(entry["path"])
    assert path.parent == output_dir
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert (image.width, image.height) == (entry["width"], entry["height"]) == (1024, 1024)
    assert entry["bytes"] == path.stat().st_size
    assert entry["uri"] == f"images://{entry['id']}"
    assert structured["usage"]["total_tokens"] > 0

    [request] = emulator.requests_to("/images/generations")
    assert request.json == {"model": "gpt-image-2.6-flare", "prompt": "a red fox in snow", "n": 1}

    [link] = links_in(result)
    assert str(link.uri) == entry["uri"] and link.mime_type == "image/png"
    [block] = images_in(result)
    assert decode_image(block.data).size == (1024, 1024)
    text = text_of(result)
    assert entry["id"] in text and str(path) in text and "full resolution" in text

    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["prompt"] == "a red fox in snow"
    assert sidecar["model"] == "gpt-image-2.6-flare"
    assert sidecar["usage"] == structured["usage"]


@pytest.mark.parametrize(
    ("model", "arguments", "expected_size", "expected_format"),
    [
        ("gpt-image-2.6-flare", {"quality": "xhigh"}, (1024, 1024), "PNG"),
        ("gpt-image-2.6-sunburst", {"size": "2048x1152", "quality": "max"}, (2048, 1152), "PNG"),
        (
            "gpt-image-2.5-flare",
            {"background": "transparent", "output_format": "webp", "moderation": "low"},
            (1024, 1024),
            "WEBP",
        ),
        ("gpt-image-2", {"size": "1536x864", "quality": "low"}, (1536, 864), "PNG"),
        (
            "gpt-image-1.5",
            {"size": "1024x1536", "background": "transparent", "output_format": "webp"},
            (1024, 1536),
            "WEBP",
        ),
        (
            "gpt-image-1-mini",
            {"output_format": "jpeg", "output_compression": 40, "moderation": "low"},
            (1024, 1024),
            "JPEG",
        ),
        ("dall-e-3", {"size": "1792x1024", "quality": "hd", "style": "natural"}, (1792, 1024), "PNG"),
        ("dall-e-2", {"size": "512x512"}, (512, 512), "PNG"),
    ],
)
async def test_each_model_family(
    client: Client,
    emulator: Emulator,
    model: str,
    arguments: dict[str, object],
    expected_size: tuple[int, int],
    expected_format: str,
) -> None:
    emulator.set(serves_retired=model.startswith("dall-e"))  # a gateway that still serves them
    result = await client.call_tool("generate_image", {"prompt": "a lighthouse at dusk", "model": model, **arguments})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    with Image.open(entry["path"]) as image:
        assert image.size == expected_size
        assert image.format == expected_format
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None
    sent = request.json
    assert sent["model"] == model
    for name, value in arguments.items():
        assert sent[name] == value
    if model.startswith("dall-e"):
        assert sent["response_format"] == "b64_json"
    else:
        assert "response_format" not in sent
    if model == "dall-e-3":
        assert entry["revised_prompt"]
        assert entry["revised_prompt"] in text_of(result)


async def test_transparent_background_keeps_alpha_on_disk(client: Client) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a sticker of a cat", "background": "transparent"})

    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    with Image.open(entry["path"]) as image:
        assert image.mode == "RGBA"
        assert image.getchannel("A").getextrema()[0] == 0


async def test_dall_e_3_fans_out_n_requests_with_n_1(client: Client, emulator: Emulator, output_dir: Path) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-3
    result = await client.call_tool("generate_image", {"prompt": "three owls", "model": "dall-e-3", "n": 3})

    assert not result.is_error, text_of(result)
    requests = emulator.requests_to("/images/generations")
    assert len(requests) == 3
    assert all(r.json is not None and r.json["n"] == 1 for r in requests)
    assert result.structured_content is not None
    entries = result.structured_content["images"]
    assert len(entries) == 3
    assert len({e["id"] for e in entries}) == 3
    assert len(stored_images(output_dir)) == 3
    assert len(images_in(result)) == 3 and len(links_in(result)) == 3
    assert "3 requests were sent concurrently" in text_of(result)


async def test_gpt_models_ask_for_n_in_one_request(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": "tiles", "n": 4, "quality": "low"})

    assert result.structured_content is not None
    assert len(result.structured_content["images"]) == 4
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["n"] == 4


async def test_a_url_answer_is_downloaded_and_stored(make_settings: SettingsFactory, emulator: Emulator) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (10, 200, 30)).save(buffer, format="PNG")
    emulator.set(serves_retired=True)  # a gateway that still routes dall-e-2, which answers with URLs
    url = emulator.serve_file("green.png", buffer.getvalue(), "image/png")
    emulator.enqueue(Fault(status=200, path="/v1/images/generations", body={"created": 1, "data": [{"url": url}]}))

    # The emulator's files are on loopback, which answer URLs may reach only as user URLs may: when allowed.
    async with open_client(make_settings(allow_private_urls=True)) as client:
        result = await client.call_tool("generate_image", {"prompt": "green", "model": "dall-e-2", "size": "256x256"})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    assert Path(entry["path"]).read_bytes() == buffer.getvalue()
    download = [r for r in emulator.requests if r.path == "/files/green.png"]
    assert len(download) == 1
    assert "authorization" not in download[0].headers, "the key must not travel to the image URL's host"


async def test_a_b64_answer_is_stored_byte_for_byte(client: Client, emulator: Emulator) -> None:
    payload = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 0, 0)).save(payload, format="PNG")
    body = b64_answer(payload.getvalue())
    emulator.set(served_models=["some-gateway-model"])  # a gateway's own model, unknown to the catalog
    emulator.enqueue(Fault(status=200, path="/v1/images/generations", body=body))

    result = await client.call_tool("generate_image", {"prompt": "red", "model": "some-gateway-model"})

    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    assert Path(entry["path"]).read_bytes() == payload.getvalue()
    assert (entry["width"], entry["height"]) == (64, 48)


async def test_dedalus_gets_prefixed_names_from_either_spelling(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    async with open_client(make_settings(provider="dedalus")) as session:
        for typed in ("gpt-image-2", "openai/gpt-image-2"):
            result = await session.call_tool("generate_image", {"prompt": "a kite", "model": typed})
            assert not result.is_error, text_of(result)
            assert result.structured_content is not None
            assert result.structured_content["model"] == "openai/gpt-image-2"
    sent = [r.json["model"] for r in emulator.requests_to("/images/generations") if r.json]
    assert sent == ["openai/gpt-image-2", "openai/gpt-image-2"]
    assert all(r.headers["authorization"] == f"Bearer {emulator.api_key}" for r in emulator.requests_to("/images/"))


async def test_openai_gets_bare_names_when_typed_with_prefix(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("generate_image", {"prompt": "a kite", "model": "openai/gpt-image-2.5-sunburst"})

    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["model"] == "gpt-image-2.5-sunburst"


async def test_default_model_is_configurable(make_settings: SettingsFactory, emulator: Emulator) -> None:
    # gpt-image-1-mini, configured here before, shuts down within 30 days of the frozen date, so calls move on to
    # its replacement (test_moving_defaults.py); a model with no shutdown stays the default.
    async with open_client(make_settings(default_model="gpt-image-2.5-sunburst")) as session:
        result = await session.call_tool("generate_image", {"prompt": "a boat"})
    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["model"] == "gpt-image-2.5-sunburst"
