"""Reading what image bytes are: format, size and real transparency, with the checks every decode goes through.

Answers from the image API and user inputs share this one decode path, so a bomb, an animation or a damaged
file is refused the same way wherever it comes from.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from ..errors import ImageServerError
from .budget import DECODE_BUDGET

MIME_BY_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSION_BY_MIME = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
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
            with DECODE_BUDGET.hold(image.width * image.height):
                image.load()
                return ImageInfo(MIME_BY_FORMAT[image.format], image.width, image.height, has_transparency(image))
    except Image.DecompressionBombError as exc:
        raise NotAnImageError(f"{shown} declares an enormous canvas and was refused as a decompression bomb.") from exc
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise NotAnImageError(f"{shown} is not an image the server can read (PNG, JPEG, WebP or GIF).") from exc
    except OSError as exc:
        raise NotAnImageError(f"{shown} is truncated or damaged and cannot be decoded ({exc}).") from exc
    except ValueError as exc:
        # How Pillow refuses metadata bombs: a zTXt, iTXt or iCCP chunk inflating past 1 MB, or all text chunks
        # together past 64 MB ("Decompressed data too large ...", "Too much memory used in text chunks").
        raise NotAnImageError(
            f"{shown} cannot be decoded: {exc}. If it carries large compressed metadata (text or a colour "
            "profile), save it again without that metadata."
        ) from exc


def has_transparency(image: Image.Image) -> bool:
    """True only when some pixel is not fully opaque; an all-opaque alpha channel does not count."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        low, _high = image.convert("RGBA").getchannel("A").getextrema()
        return isinstance(low, int) and low < 255
    return False
