"""Issue 28, item 2: a large answer's preview is decoded while the answer arrives, and nothing else changes.

The emulator sends the answer at a pace and keeps its last piece back until the test lets it go: the server is
already decoding the image (its pixels are held in the decode budget) and writing its bytes to a file of the
store's before the last byte, and once the answer is whole the image on disk is the one sent, byte for byte, with
a preview made from it.
"""

from __future__ import annotations

import base64
import io
import threading
from pathlib import Path

import anyio
import pytest
from PIL import Image

from mcp_server_images.imaging import previews
from mcp_server_images.imaging.pixel_budget import DECODE_BUDGET
from tests.fake_openai import Emulator
from tests.support.results import images_in, text_of
from tests.support.servers import SettingsFactory, open_client
from tests.support.waiting import until

pytestmark = pytest.mark.anyio

PACE = 20e6
"""Bytes per second: a good connection (faster ones are read whole before an early decode could gain anything);
the hold on the last piece orders what matters."""


async def test_a_large_image_is_decoded_before_its_last_byte(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    emulator.set(photo_like=True, pace=PACE)
    settings = make_settings()
    async with open_client(settings) as client:
        DECODE_BUDGET.resize(settings.max_decode_pixels)  # the high water from now on: no earlier test's decode
        with emulator.hold("last piece") as last_piece:
            async with anyio.create_task_group() as group:
                results = []

                async def call() -> None:
                    results.append(await client.call_tool("generate_image", {"prompt": "a fox", "size": "1536x1024"}))

                group.start_soon(call)
                await last_piece.until_held()
                await until(
                    lambda: DECODE_BUDGET.high_water >= 1536 * 1024, "the image's decode to start before its last byte"
                )
                await until(
                    lambda: written_ahead(settings.output_dir) > 1_000_000, "its bytes to be written as they arrive"
                )
                last_piece.release()
    [result] = results
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [stored] = result.structured_content["images"]
    assert Path(stored["path"]).read_bytes() == emulator.sent_images[0]
    assert written_ahead(settings.output_dir) == 0, "the file written ahead is the image stored"
    [preview] = images_in(result)
    assert preview.mime_type == "image/jpeg"
    with Image.open(io.BytesIO(base64.b64decode(preview.data))) as shown:
        assert abs(shown.width / shown.height - 1.5) < 0.01, "the preview keeps the aspect ratio"


def written_ahead(output_dir: Path) -> int:
    """Bytes in the store's temporary files: an arriving image's, written as it arrives."""
    return sum(path.stat().st_size for path in output_dir.glob(".index/.partial-*"))


async def test_its_preview_is_made_while_the_answer_is_checked_and_stored(
    make_settings: SettingsFactory, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result's bound is known before the answer arrives: the preview is made on the threads that decode the
    image (as its rows come in, and right after), and rendering the result encodes none."""
    emulator.set(photo_like=True, pace=PACE)
    encoded_on: list[str] = []
    encode = previews._encode

    def recorded(image: Image.Image, quality: int, *, alpha: bool) -> tuple[bytes, str]:
        encoded_on.append(threading.current_thread().name)
        return encode(image, quality, alpha=alpha)

    monkeypatch.setattr(previews, "_encode", recorded)
    async with open_client(make_settings()) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox", "size": "1536x1024"})

    assert not result.is_error, text_of(result)
    assert encoded_on, "a preview was encoded"
    assert {name.split("_")[0] for name in encoded_on} == {"early-preview"}
    [preview] = images_in(result)
    with Image.open(io.BytesIO(base64.b64decode(preview.data))) as shown:
        assert shown.format == "JPEG"
        assert abs(shown.width / shown.height - 1.5) < 0.01, "the preview keeps the aspect ratio"
