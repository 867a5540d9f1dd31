"""Conversions: lossless re-encoding, stills from animations and SVG, dall-e-2's square PNG, formats a save_to
name asks for, vision copies."""

from __future__ import annotations

import io
from dataclasses import replace

from PIL import Image

from .info import MIME_BY_FORMAT, SVG_MIME, ImageInfo, NotAnImageError
from .pixel_budget import decoding, exif_orientation
from .probe import check_input, has_transparency
from .svg import probe_svg, rasterize

DALL_E_2_MAX_BYTES = 4 * 1024 * 1024
DALL_E_2_SIDE = 1024
FORMAT_BY_EXTENSION = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".gif": "GIF", ".svg": "SVG"}
MAX_RASTER_SIDE = 4096
"""Longest side an SVG input is rasterized to (larger than any model takes or makes)."""


def encode(image: Image.Image, image_format: str) -> bytes:
    """Encode losslessly where the format allows (PNG, lossless WebP) and at high quality otherwise (JPEG)."""
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.convert("RGB").save(buffer, format="JPEG", quality=95)
    elif image_format == "WEBP":
        image.save(buffer, format="WEBP", lossless=True)
    else:
        image.save(buffer, format=image_format)
    return buffer.getvalue()


def to_png(data: bytes) -> bytes:
    """The same pixels as PNG (alpha kept); for an animated GIF, its first frame."""
    with decoding(data) as image:
        return encode(image.convert("RGBA" if has_transparency(image) else "RGB"), "PNG")


def flatten(data: bytes, info: ImageInfo, shown: str, max_pixels: int) -> tuple[bytes, ImageInfo, str | None]:
    """A still image for an input that is animated (its first frame) or vector (rasterized), with a note saying so.

    Other images come back unchanged with no note. The Images API takes neither animations nor SVG, and the first
    frame is what a viewer shows before the animation starts.
    """
    if info.vector:
        width, height = fit_within(info.width, info.height, max_pixels, MAX_RASTER_SIDE)
        png = rasterize(data, width, height, shown)
        note = f"{shown} is an SVG; it was rasterized to a {width}x{height} PNG first."
        return png, check_input(png, shown, max_pixels), note
    if info.animated:
        note = f"{shown} is an animated GIF ({info.frames} frames); its first frame was used."
        return to_png(data), replace(info, mime_type="image/png", frames=1), note
    return data, info, None


def fit_within(width: int, height: int, max_pixels: int, max_side: int) -> tuple[int, int]:
    """The largest size of the same aspect ratio within both limits (never scaled up)."""
    scale = min(1.0, max_side / max(width, height), (max_pixels / (width * height)) ** 0.5)
    return max(1, int(width * scale)), max(1, int(height * scale))


def square_png(data: bytes, info: ImageInfo, shown: str, *, crop: bool) -> tuple[bytes, list[str]]:
    """A square RGBA PNG under 4 MB, as dall-e-2 requires, and notes on what was changed.

    A non-square image is cropped to its centre square when `crop` is set (variations: the whole point is a
    look-alike), and refused otherwise (edits: cropping would silently change what the user asked to edit).
    """
    with decoding(data) as source:
        return _square_png(source.convert("RGBA"), info, shown, crop=crop)


def _square_png(image: Image.Image, info: ImageInfo, shown: str, *, crop: bool) -> tuple[bytes, list[str]]:
    """square_png's work on the decoded image, done while its pixels are held in the decode budget."""
    notes: list[str] = []
    if image.width != image.height:
        if not crop:
            raise NotAnImageError(
                f"dall-e-2 edits need a square image, and {shown} is {image.width}x{image.height}. Crop it to a "
                "square first, or use a GPT image model (e.g. gpt-image-2.6-flare), which accepts any aspect ratio."
            )
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
        notes.append(f"The input was cropped to its centre {side}x{side} square, as dall-e-2 needs a square image.")
    png = encode(image, "PNG")
    if len(png) > DALL_E_2_MAX_BYTES and image.width > DALL_E_2_SIDE:
        image = image.resize((DALL_E_2_SIDE, DALL_E_2_SIDE), Image.Resampling.LANCZOS)
        png = encode(image, "PNG")
        notes.append(f"The input was scaled to {DALL_E_2_SIDE}x{DALL_E_2_SIDE} to fit dall-e-2's 4 MB limit.")
    if len(png) > DALL_E_2_MAX_BYTES:
        raise NotAnImageError(f"{shown} is still over dall-e-2's 4 MB limit as PNG; use a smaller image.")
    if info.mime_type != "image/png" and not notes:
        notes.append("The input was converted to PNG (lossless), as dall-e-2 needs.")
    return png, notes


def convert_to(data: bytes, mime_type: str, image_format: str) -> bytes:
    """The image in another format, for writing it under a file name whose extension asks for that format.

    An SVG is rasterized at its own size first; an animated GIF gives its first frame; nothing becomes an SVG.
    """
    if MIME_BY_FORMAT[image_format] == mime_type:
        return data
    if image_format == "SVG":
        raise NotAnImageError(f"A {mime_type} image cannot be saved as SVG; name the file .png, .jpg or .webp.")
    if mime_type == SVG_MIME:
        info = probe_svg(data, "the SVG")
        data = rasterize(data, *fit_within(info.width, info.height, info.width * info.height, MAX_RASTER_SIDE))
        if image_format == "PNG":
            return data
    with decoding(data) as image:
        alpha = has_transparency(image) and image_format != "JPEG"
        return encode(image.convert("RGBA" if alpha else "RGB"), image_format)


VISION_MAX_SIDE = 2048
VISION_MAX_BYTES = 20 * 1024 * 1024


def for_vision(data: bytes, info: ImageInfo) -> tuple[bytes, str, bool]:
    """Bytes a vision model takes: the original when small enough, else a copy scaled to a 2048 px long side.

    Returns (bytes, mime type, whether it was downscaled). Larger images gain nothing (vision models tile at
    that size) and cost upload time and tokens.
    """
    if max(info.width, info.height) <= VISION_MAX_SIDE and len(data) <= VISION_MAX_BYTES:
        return data, info.mime_type, False
    with decoding(data, fit=(VISION_MAX_SIDE, VISION_MAX_SIDE)) as source:
        image = source.convert("RGBA" if info.has_alpha else "RGB")
        image.thumbnail((VISION_MAX_SIDE, VISION_MAX_SIDE), Image.Resampling.LANCZOS)
        if info.has_alpha:
            return encode(image, "PNG"), "image/png", True
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=90)
        return buffer.getvalue(), "image/jpeg", True


def upright(data: bytes, info: ImageInfo) -> tuple[bytes, ImageInfo] | None:
    """An input whose EXIF orientation says it is stored turned or mirrored, re-encoded the right way up.

    None when it is stored upright already (the usual case), so its bytes go on untouched. Phone photos are
    often stored sideways with an orientation tag; models and Pillow-based steps would see them sideways. The
    re-encoded copy is lossless for PNG and WebP and JPEG at quality 95, and no longer carries the tag.
    """
    with Image.open(io.BytesIO(data)) as image:
        if exif_orientation(image) == 1:
            return None
        image_format = image.format or "PNG"
    with decoding(data) as turned:
        return encode(turned, image_format), replace(info, width=turned.width, height=turned.height)
