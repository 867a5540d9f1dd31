"""Images the emulator answers with: real encodings of the requested size, format and transparency."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def picture(
    width: int, height: int, *, output_format: str = "png", transparent: bool = False, photo: bool = False
) -> bytes:
    """A gradient with a disc (small to encode), or noise (`photo`: encodes like a detailed photo, several MB)."""
    if photo:
        channels = [Image.effect_noise((width, height), 90).point(lambda v, s=s: (v + s) % 256) for s in (0, 60, 120)]
        image = Image.merge("RGB", channels)
    else:
        gradient = Image.linear_gradient("L").resize((width, height))
        image = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient))
        ImageDraw.Draw(image).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=(240, 180, 40))
    if transparent and output_format != "jpeg":
        image = image.convert("RGBA")
        alpha = Image.new("L", (width, height), 0)
        ImageDraw.Draw(alpha).ellipse((width // 4, height // 4, 3 * width // 4, 3 * height // 4), fill=255)
        image.putalpha(alpha)
    buffer = io.BytesIO()
    image.save(buffer, format=FORMATS[output_format])
    return buffer.getvalue()


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
