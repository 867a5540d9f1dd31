"""Small image files for tests: made with Pillow on the fly, never checked in."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image


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
