"""Images that were paid for are kept: a damaged item or a damaged partial image never costs the good ones."""

from __future__ import annotations

import errno
import gzip
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from mcp import Client
from PIL import Image

from mcp_server_images.imaging.previews import LIKELY_PREVIEWED_BYTES
from mcp_server_images.store import LocalStore
from tests.fake_openai import Emulator, Fault
from tests.support.images import png_bytes
from tests.support.progress import ProgressLog
from tests.support.results import stored_images, text_of
from tests.support.servers import SettingsFactory, open_client
from tests.support.upstream import b64_answer

pytestmark = pytest.mark.anyio

GENERATIONS = "/v1/images/generations"
USAGE = {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}


async def test_one_damaged_item_keeps_the_good_images(client: Client, emulator: Emulator, output_dir: Path) -> None:
    good = png_bytes((40, 30), (10, 200, 10))
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=b64_answer(good, b"garbage", good, usage=USAGE)))

    result = await client.call_tool("generate_image", {"prompt": "three frogs", "n": 3})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert len(result.structured_content["images"]) == 2
    assert len(stored_images(output_dir)) == 2
    assert all(Path(e["path"]).read_bytes() == good for e in result.structured_content["images"])
    text = text_of(result)
    assert "2 of 3 images were kept; image 2: the image is not an image the server can read" in text


async def test_an_answer_with_no_image_at_all_is_a_clear_error(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=b64_answer(b"garbage", usage=USAGE)))

    result = await client.call_tool("generate_image", {"prompt": "a frog"})

    assert result.is_error
    assert text_of(result).startswith("The image API answered without a usable image (image 1:")
    assert stored_images(output_dir) == []


async def test_a_damaged_partial_image_is_skipped_and_the_final_image_kept(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    emulator.set(stream_bad_partial=True)
    progress = ProgressLog()
    async with open_client(make_settings(), mode="legacy") as client:
        result = await client.call_tool("generate_image", {"prompt": "a slow lake"}, progress_callback=progress.record)

    assert not result.is_error, text_of(result)
    assert "partial image 1 was damaged and is skipped" in progress.messages
    assert progress.count("partial image 2 of 2 received") == 1
    assert len(stored_images(output_dir)) == 1


def with_idat_damaged(png: bytes) -> bytes:
    """The PNG with a byte of its compressed pixels changed and the chunk's checksum made to match again."""
    start = png.index(b"IDAT") - 4
    length = struct.unpack(">I", png[start : start + 4])[0]
    body = bytearray(png[start + 8 : start + 8 + length])
    body[len(body) // 2] ^= 0xFF
    crc = struct.pack(">I", zlib.crc32(b"IDAT" + bytes(body)))
    return png[: start + 8] + bytes(body) + crc + png[start + 12 + length :]


def noisy_png(size: tuple[int, int]) -> bytes:
    """An opaque PNG of noise: megabytes for a large size, like a detailed photo."""
    buffer = io.BytesIO()
    Image.effect_noise(size, 60).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
@pytest.mark.parametrize("cut", ["truncated", "changed byte"])
async def test_an_answer_damaged_on_the_way_is_refused(
    client: Client, emulator: Emulator, output_dir: Path, cut: str, large: bool
) -> None:
    """Opaque PNGs are checked by their chunk checksums rather than decoded: a cut or changed byte still shows.
    A large one is decoded for its preview while it is checked; the check still decides."""
    good = noisy_png((900, 700)) if large else png_bytes((300, 200), (10, 200, 10))
    assert (len(good) > LIKELY_PREVIEWED_BYTES) is large
    damaged = good[: len(good) - 20] if cut == "truncated" else good[:60] + bytes([good[60] ^ 0xFF]) + good[61:]
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=b64_answer(damaged, usage=USAGE)))

    result = await client.call_tool("generate_image", {"prompt": "a frog"})

    assert result.is_error
    assert text_of(result).startswith("The image API answered without a usable image (image 1:")
    assert stored_images(output_dir) == []


async def test_an_answer_whose_pixels_do_not_decode_is_kept_and_said_so(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    """Checksums intact but pixels broken (an encoder's bug): stored as sent, not shown, and the text says why."""
    broken = with_idat_damaged(noisy_png((1800, 1000)))
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=b64_answer(broken, usage=USAGE)))

    result = await client.call_tool("generate_image", {"prompt": "static"})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    assert Path(entry["path"]).read_bytes() == broken
    assert (entry["width"], entry["height"]) == (1800, 1000)
    assert "Not shown: its pixels do not decode, though the file is stored as the API sent it." in text_of(result)
    assert [block.type for block in result.content] == ["text", "resource_link"]


async def test_an_answer_whose_json_escapes_slashes_is_kept_byte_identical(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    """Some JSON encoders (PHP's, and gateways built on it) write every `/` as `\\/`: still valid JSON, and the
    image is the one sent."""
    image = noisy_png((640, 480))
    body = json.dumps(b64_answer(image, usage=USAGE)).replace("/", "\\/")
    assert "\\/" in body
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=body, headers={"content-type": "application/json"}))

    result = await client.call_tool("generate_image", {"prompt": "static"})

    assert not result.is_error, text_of(result)
    assert [path.read_bytes() for path in stored_images(output_dir)] == [image]


async def test_a_compressed_answer_is_read_whole(client: Client, emulator: Emulator, output_dir: Path) -> None:
    """A gzip answer declares its compressed length; the body read is the longer decompressed JSON."""
    images = [noisy_png((300, 200)), png_bytes((40, 30), (10, 200, 10))]
    body = gzip.compress(json.dumps(b64_answer(*images, usage=USAGE)).encode())
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=body, headers=headers))

    result = await client.call_tool("generate_image", {"prompt": "two frogs", "n": 2})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert [Path(entry["path"]).read_bytes() for entry in result.structured_content["images"]] == images


@pytest.mark.parametrize("large", [False, True], ids=["small", "large"])
async def test_a_store_that_cannot_write_says_why(
    client: Client, emulator: Emulator, monkeypatch: pytest.MonkeyPatch, large: bool
) -> None:
    """A full disk reads as itself, whether or not a preview was being decoded beside the write."""

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(LocalStore, "save", full)
    image = noisy_png((900, 700)) if large else png_bytes((300, 200), (10, 200, 10))
    emulator.enqueue(Fault(status=200, path=GENERATIONS, body=b64_answer(image, usage=USAGE)))

    result = await client.call_tool("generate_image", {"prompt": "a frog"})

    assert result.is_error
    assert "No space left on device" in text_of(result)
    assert "ExceptionGroup" not in text_of(result)
