"""Issue 21, item 2: every good image of an answer is kept, on every path an answer can take.

Each path (the Images API's answer read with its base64 lifted or parsed whole, or arriving at a pace with large
images decoded for their previews before the last byte, URL answers, native variations,
edits through the Images and the Responses API, chat image output, the Responses API, and the streamed finals of
the three) gets an answer of two images whose
second is bad in one way (base64 that does not decode, bytes that are no image, an image cut in half, no image
field, a canvas too large, a URL that does not answer). The first image is stored and returned; the second is
named in the result; nothing else is lost. Every provider path (tests/support/provider_paths.py) gets an answer
whose second image is not an image; where a provider makes one image per request, one of the two requests does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fake_openai import Emulator, Fault, Switches
from tests.support.images import write_png
from tests.support.progress import ProgressLog
from tests.support.provider_paths import PROVIDER_PATHS
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client
from tests.support.upstream import b64_answer

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class AnswerPath:
    """One way an answer reaches the server: the call that takes it and how the emulator is set up for it."""

    tool: str
    arguments: dict[str, Any]
    switches: Switches = field(default_factory=Switches)
    settings: dict[str, Any] = field(default_factory=dict)
    streamed: bool = False
    missing: str = "no image data"
    """How this path names an item without any image field."""


CHAT = {"prompt": "a fox", "model": "gemini-nano-banana-2.1"}
PATHS = {
    "images-lifted": AnswerPath("generate_image", {"prompt": "a fox", "n": 2}),
    "images-arriving": AnswerPath(
        "generate_image", {"prompt": "a fox", "n": 2, "size": "1536x1024"}, {"pace": 40e6, "photo_like": True}
    ),
    "images-whole": AnswerPath("generate_image", {"prompt": "a fox", "n": 2}, {"escape_slashes": True}),
    "images-url": AnswerPath("generate_image", {"prompt": "a fox", "n": 2}, {"answer_urls": True}),
    "variations": AnswerPath("create_image_variation", {"n": 2}, {"serves_retired": True}),
    "edits": AnswerPath("edit_image", {"prompt": "add a hat", "n": 2}),
    "edits-responses": AnswerPath("edit_image", {"prompt": "add a hat", "api": "responses"}),
    "chat": AnswerPath("generate_image", CHAT, settings={"provider": "gateway"}, missing="no image URL"),
    "responses": AnswerPath("generate_image", {"prompt": "a fox", "api": "responses"}),
    "images-streamed": AnswerPath("generate_image", {"prompt": "a fox", "n": 2}, streamed=True),
    "chat-streamed": AnswerPath(
        "generate_image", CHAT, settings={"provider": "gateway"}, streamed=True, missing="no image URL"
    ),
    "responses-streamed": AnswerPath("generate_image", {"prompt": "a fox", "api": "responses"}, streamed=True),
}
FAULTS = {
    "bad_base64": "not valid base64",
    "not_image": "the image is not an image the server can read",
    "truncated": "the image is truncated or damaged",
    "missing": None,  # the path's own wording
    "oversized": "the image declares an enormous canvas and was refused as a decompression bomb",
    "url_fails": "its URL was not downloaded",
}
URL_FAULTS = ("not_image", "truncated", "missing", "oversized", "url_fails")
"""A URL answer carries no base64: its item faults are about what the URL serves."""


def faults_of(path: str) -> tuple[str, ...]:
    return URL_FAULTS if path == "images-url" else tuple(fault for fault in FAULTS if fault != "url_fails")


CASES = [pytest.param(path, fault, id=f"{path}-{fault}") for path in PATHS for fault in faults_of(path)]


@pytest.mark.parametrize(("path", "fault"), CASES)
async def test_a_bad_item_is_named_and_the_good_one_kept(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path, home: Path, path: str, fault: str
) -> None:
    way = PATHS[path]
    emulator.set(**way.switches)
    emulator.set(item_faults=[None, fault])
    settings = {key: emulator.base_url if value == "gateway" else value for key, value in way.settings.items()}
    arguments = dict(way.arguments)
    if way.tool == "create_image_variation":
        arguments["image"] = str(write_png(home / "cat.png", (256, 256)))
    if way.tool == "edit_image":
        arguments["images"] = [str(write_png(home / "cat.png", (256, 256)))]
    progress = ProgressLog()

    async with open_client(make_settings(**settings), mode="legacy") as client:
        result = await client.call_tool(
            way.tool, arguments, progress_callback=progress.record if way.streamed else None
        )

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [kept] = result.structured_content["images"]
    assert Path(kept["path"]).read_bytes() == emulator.sent_images[0], "the good image, byte for byte"
    assert sorted(path.suffix for path in output_dir.iterdir() if not path.name.startswith(".")) == [".json", ".png"]
    problem = FAULTS[fault] or way.missing
    assert f"1 of 2 images was kept; image 2: {problem}" in text_of(result)
    if way.streamed:
        assert progress.messages, "the answer came as a stream"


@pytest.mark.parametrize("name", list(PROVIDER_PATHS))
async def test_on_every_provider_a_bad_item_is_named_and_the_good_one_kept(
    make_settings: SettingsFactory, emulator: Emulator, home: Path, tmp_path: Path, name: str
) -> None:
    path = PROVIDER_PATHS[name]
    emulator.set(**path.switches)
    if path.one_per_request:  # two requests of one image each: the first to arrive is answered with a bad one
        emulator.enqueue(Fault(status=200, path=path.upstream, body=b64_answer(b"this is not an image")))
    else:
        emulator.set(item_faults=[None, "not_image"])

    async with open_client(make_settings(**path.settings(emulator, tmp_path))) as client:
        result = await client.call_tool(path.tool, path.call(home, **path.two_images()))

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [kept] = result.structured_content["images"]
    assert Path(kept["path"]).read_bytes() == emulator.sent_images[0], "the good image, byte for byte"
    bad = 1 if path.one_per_request else 2
    assert f"1 of 2 images was kept; image {bad}: {FAULTS['not_image']}" in text_of(result)
