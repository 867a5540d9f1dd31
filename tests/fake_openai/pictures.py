"""Images the emulator answers with: real encodings of the requested size, format and transparency."""

from __future__ import annotations

import base64
import io
from functools import lru_cache

from PIL import Image, ImageDraw

from tests.support.images import pixel_bomb

FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@lru_cache(maxsize=32)  # the same request gets the same bytes; encoding noise costs the emulator 100s of ms
def picture(
    width: int,
    height: int,
    *,
    output_format: str = "png",
    transparent: bool = False,
    photo: bool = False,
    seed: int | None = None,
) -> bytes:
    """A gradient with a disc (small to encode), or noise (`photo`: encodes like a detailed photo, several MB).

    `gif` gives a real animation (a disc moving over the gradient) and `svg` a real vector drawing, as
    gpt-image-2.6 answers them; both still come as b64_json. A `seed` picks the disc's colour, so the same seed
    gives the same image and another seed another one, as seeded models do.
    """
    if output_format == "gif":
        return animation(width, height)
    if output_format == "svg":
        return vector(width, height)
    if photo:
        channels = [Image.effect_noise((width, height), 90).point(lambda v, s=s: (v + s) % 256) for s in (0, 60, 120)]
        image = Image.merge("RGB", channels)
    else:
        gradient = Image.linear_gradient("L").resize((width, height))
        image = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient))
        disc = (240, 180, 40) if seed is None else (seed % 256, seed // 256 % 256, seed // 65536 % 256)
        ImageDraw.Draw(image).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=disc)
    if transparent and output_format != "jpeg":
        image = image.convert("RGBA")
        alpha = Image.new("L", (width, height), 0)
        ImageDraw.Draw(alpha).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=255)
        image.putalpha(alpha)
    buffer = io.BytesIO()
    image.save(buffer, format=FORMATS[output_format])
    return buffer.getvalue()


def animation(width: int, height: int, frames: int = 4) -> bytes:
    """An animated GIF: the disc moves right frame by frame (palette colours, so it stays small)."""
    images = []
    for index in range(frames):
        frame = Image.new("RGB", (width, height), (30, 60, 120))
        offset = index * width // (2 * frames)
        box = (width // 4 + offset, height // 4, width // 2 + offset, height // 2)
        ImageDraw.Draw(frame).ellipse(box, fill=(240, 180, 40))
        images.append(frame)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=120, loop=0)
    return buffer.getvalue()


def vector(width: int, height: int) -> bytes:
    """An SVG drawing of the same scene, with its size given as width, height and viewBox."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="#1e3c78"/>'
        f'<circle cx="{width // 2}" cy="{height // 2}" r="{min(width, height) // 4}" fill="#f0b428"/>'
        "</svg>"
    ).encode()


def describe(data: bytes) -> tuple[int, int, str, str]:
    """(width, height, format, dominant colour as #rrggbb) of an image, as the vision emulation reports it."""
    with Image.open(io.BytesIO(data)) as image:
        image_format = (image.format or "?").lower()
        width, height = image.size
        small = image.convert("RGB").resize((64, 64))
    raw = small.tobytes()
    pixels = zip(raw[0::3], raw[1::3], raw[2::3], strict=True)
    quantised = [(r // 16 * 16 + 8, g // 16 * 16 + 8, b // 16 * 16 + 8) for r, g, b in pixels]
    r, g, b = max(set(quantised), key=quantised.count)
    return width, height, image_format, f"#{r:02x}{g:02x}{b:02x}"


ITEM_FAULTS = ("bad_base64", "not_image", "truncated", "missing", "oversized", "url_fails")
"""How one item of an answer can be bad (`item_faults`): base64 that does not decode, bytes that are no image, an
image cut in half, no image field at all, a canvas too large to be one we asked for, or (URL answers) a URL that
does not answer."""


def item_base64(fault: str | None, data: bytes) -> str | None:
    """An answer item's base64 with `fault` applied (None: the field is missing)."""
    if fault == "missing":
        return None
    if fault == "bad_base64":
        return "%%%"
    return base64.b64encode(item_bytes(fault, data)).decode()


def item_bytes(fault: str | None, data: bytes) -> bytes:
    """An answer item's image bytes with a content fault applied (as served from a URL, or base64-encoded)."""
    if fault == "not_image":
        return b"this is not an image"
    if fault == "truncated":
        return data[: len(data) // 2]
    if fault == "oversized":
        return pixel_bomb(30_000, 30_000)
    return data
