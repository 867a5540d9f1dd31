"""Small image files for tests, made with Pillow on the fly (never checked in); images stored through the store;
and reading images back: decoded bytes, the mask the emulator received."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from mcp_server_images.imaging.probe import probe
from mcp_server_images.store import LocalStore, NewImage, Operation
from tests.support.clock import FrozenClock

if TYPE_CHECKING:
    from tests.fake_openai import Emulator


def png_bytes(size: tuple[int, int] = (64, 48), color: tuple[int, ...] = (220, 30, 30), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def encoded(size: tuple[int, int], color: tuple[int, int, int], image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=image_format)
    return buffer.getvalue()


def write_png(path: Path, size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (220, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(size, color))
    return path


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), color) for color in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def pixel_bomb(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge canvas; decoding it would need gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def sideways_jpeg(size: tuple[int, int] = (60, 40)) -> bytes:
    """A JPEG stored as a phone stores a portrait photo: landscape pixels plus EXIF orientation 6 (turn 90° right).

    The stored pixels are red on the left half and blue on the right, so the upright picture is red on top.
    """
    width, height = size
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes(), quality=95)
    return buffer.getvalue()


def png_with_chunk(kind: bytes, payload: bytes) -> bytes:
    """A small valid PNG with one extra ancillary chunk (e.g. zTXt or iCCP) right after its header."""
    plain = png_bytes((16, 16))
    header_end = 8 + 25  # signature, then the IHDR chunk: length, type, 13 bytes of data, CRC
    extra = struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    return plain[:header_end] + extra + plain[header_end:]


def seed(output_dir: Path, count: int) -> list[str]:
    """Store `count` small images through the store itself, oldest first; return their ids."""
    store = LocalStore(output_dir, FrozenClock())
    ids = []
    for index in range(count):
        data = png_bytes((32, 16), (index, 0, 0))
        meta = NewImage(prompt=f"seed {index}", model="gpt-image-1", operation=Operation.GENERATE, parameters={})
        ids.append(store.save(data, probe(data), meta).id)
    return ids


def decode_image(data: bytes | str) -> Image.Image:
    """A loaded Pillow image from bytes or base64 text."""
    raw = base64.b64decode(data) if isinstance(data, str) else data
    image = Image.open(io.BytesIO(raw))
    image.load()
    return image


def received_mask(emulator: Emulator) -> Image.Image:
    """The mask of the one edit request the emulator received, checked to be an RGBA PNG upload."""
    [request] = emulator.requests_to("/images/edits")
    [mask] = request.files["mask"]
    assert mask.filename and mask.content_type == "image/png"
    image = decode_image(mask.data)
    assert image.mode == "RGBA"
    return image


def alpha_at(mask: Image.Image, x: float, y: float) -> int:
    """Alpha at a point given in fractions of the mask size."""
    value = mask.getchannel("A").getpixel((int(x * (mask.width - 1)), int(y * (mask.height - 1))))
    assert isinstance(value, int | float)
    return int(value)
