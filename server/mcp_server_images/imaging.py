"""Pixel work with Pillow: reading what an image is, and making previews that fit a byte budget.

Previews exist because MCP clients reject large results (Claude Desktop fails past 1 MiB of JSON); the full
image always stays on disk untouched. A preview keeps the aspect ratio and, when the source really has
transparent pixels, its transparency.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from .errors import ImageServerError

MIME_BY_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSION_BY_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
PREVIEW_MAX_SIDE = 1568
"""The long side Anthropic's vision models use; larger previews only cost bytes."""
MIN_PREVIEW_SIDE = 16
UPSTREAM_MAX_PIXELS = 3840 * 2160 * 4
"""Generous above the largest size any catalogued model produces; a larger answer is not an image we asked for."""


class NotAnImageError(ImageServerError):
    """Bytes that Pillow cannot read as PNG, JPEG, WebP or GIF."""


@dataclass(frozen=True)
class ImageInfo:
    mime_type: str
    width: int
    height: int
    has_alpha: bool

    @property
    def extension(self) -> str:
        return EXTENSION_BY_MIME[self.mime_type]


@dataclass(frozen=True)
class Preview:
    data: bytes
    mime_type: str
    width: int
    height: int


def probe(data: bytes) -> ImageInfo:
    """Format, size and real transparency of image bytes the API answered with (same checks as inputs)."""
    return check_input(data, "the image", max_pixels=UPSTREAM_MAX_PIXELS)


def check_input(data: bytes, shown: str, max_pixels: int) -> ImageInfo:
    """Decode user-supplied bytes fully, refusing what is not a still PNG, JPEG, WebP or GIF within `max_pixels`.

    The pixel count is read from the header and checked before any pixel is decoded, so a small file that
    claims a huge canvas (a decompression bomb) costs nothing.
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns about large canvases at open; the explicit limit below decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            if image.format not in MIME_BY_FORMAT:
                raise NotAnImageError(
                    f"{shown} is a {image.format} image; use PNG, JPEG, WebP or a still GIF (convert it first)."
                )
            if image.width * image.height > max_pixels:
                raise NotAnImageError(
                    f"{shown} is {image.width}x{image.height} = {image.width * image.height:,} pixels; the limit is "
                    f"{max_pixels:,}. Downscale it first."
                )
            frames: int = getattr(image, "n_frames", 1)
            if frames > 1:
                raise NotAnImageError(f"{shown} is animated ({frames} frames); use a still image.")
            image.load()
            return ImageInfo(MIME_BY_FORMAT[image.format], image.width, image.height, _has_transparency(image))
    except Image.DecompressionBombError as exc:
        raise NotAnImageError(f"{shown} declares an enormous canvas and was refused as a decompression bomb.") from exc
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise NotAnImageError(f"{shown} is not an image the server can read (PNG, JPEG, WebP or GIF).") from exc
    except OSError as exc:
        raise NotAnImageError(f"{shown} is truncated or damaged and cannot be decoded ({exc}).") from exc


def _has_transparency(image: Image.Image) -> bool:
    """True only when some pixel is not fully opaque; an all-opaque alpha channel does not count."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        low, _high = image.convert("RGBA").getchannel("A").getextrema()
        return isinstance(low, int) and low < 255
    return False


def fit_preview(data: bytes, max_bytes: int, max_side: int = PREVIEW_MAX_SIDE) -> Preview:
    """A downscaled copy whose encoded size is at most `max_bytes`.

    Opaque images become JPEG; images with transparency become WebP, which keeps alpha at a fraction of PNG's
    size. The scale shrinks until the encoding fits; the result never goes below a 16 px side.
    """
    with Image.open(io.BytesIO(data)) as source:
        alpha = _has_transparency(source)
        image = source.convert("RGBA" if alpha else "RGB")
    scale = min(1.0, max_side / max(image.width, image.height))
    quality = 85
    while True:
        width = max(MIN_PREVIEW_SIDE, round(image.width * scale))
        height = max(MIN_PREVIEW_SIDE, round(image.height * scale))
        resized = image if (width, height) == image.size else image.resize((width, height), Image.Resampling.LANCZOS)
        encoded, mime = _encode(resized, alpha, quality)
        smallest = width == MIN_PREVIEW_SIDE or height == MIN_PREVIEW_SIDE
        if len(encoded) <= max_bytes or smallest:
            return Preview(encoded, mime, width, height)
        # Encoded size grows roughly with the pixel count, so shrink both sides by the square root of the overshoot.
        scale *= min(0.9, (max_bytes / len(encoded)) ** 0.5)
        quality = max(60, quality - 5)


def _encode(image: Image.Image, alpha: bool, quality: int) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if alpha:
        image.save(buffer, format="WEBP", quality=quality, method=4)
        return buffer.getvalue(), "image/webp"
    image.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue(), "image/jpeg"


DALL_E_2_MAX_BYTES = 4 * 1024 * 1024
DALL_E_2_SIDE = 1024
FORMAT_BY_EXTENSION = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


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
    """The same pixels as PNG (alpha kept)."""
    with Image.open(io.BytesIO(data)) as image:
        return encode(image.convert("RGBA" if _has_transparency(image) else "RGB"), "PNG")


def square_png(data: bytes, info: ImageInfo, shown: str, *, crop: bool) -> tuple[bytes, list[str]]:
    """A square RGBA PNG under 4 MB, as dall-e-2 requires, and notes on what was changed.

    A non-square image is cropped to its centre square when `crop` is set (variations: the whole point is a
    look-alike), and refused otherwise (edits: cropping would silently change what the user asked to edit).
    """
    notes: list[str] = []
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGBA")
    if image.width != image.height:
        if not crop:
            raise NotAnImageError(
                f"dall-e-2 edits need a square image, and {shown} is {image.width}x{image.height}. Crop it to a "
                "square first, or use a GPT image model (e.g. gpt-image-1), which accepts any aspect ratio."
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
    """The image in another format, for writing it under a file name whose extension asks for that format."""
    if MIME_BY_FORMAT[image_format] == mime_type:
        return data
    with Image.open(io.BytesIO(data)) as image:
        alpha = _has_transparency(image) and image_format != "JPEG"
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
    with Image.open(io.BytesIO(data)) as source:
        image = source.convert("RGBA" if info.has_alpha else "RGB")
    image.thumbnail((VISION_MAX_SIDE, VISION_MAX_SIDE), Image.Resampling.LANCZOS)
    if info.has_alpha:
        return encode(image, "PNG"), "image/png", True
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), "image/jpeg", True
