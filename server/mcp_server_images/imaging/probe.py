"""Reading what image bytes are: format, size, real transparency and frames, with the checks every decode goes through.

Answers from the image API and user inputs share this one decode path, so a bomb or a damaged file is refused
the same way wherever it comes from. They differ in one thing: an answer may be an animated GIF or an SVG
(gpt-image-2.6 makes both) and is accepted as such, because an image the user paid for must never be lost;
an input is accepted as one only when the caller flattens it to a still first (edits).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

from PIL import Image, ImageSequence, UnidentifiedImageError

from .info import MIME_BY_FORMAT, ImageInfo, NotAnImageError
from .pixel_budget import DECODE_BUDGET
from .svg import looks_like_svg, probe_svg

UPSTREAM_MAX_PIXELS = 3840 * 2160 * 4
"""Generous above the largest size any catalogued model produces; a larger answer is not an image we asked for."""
MAX_FRAMES = 1000
"""Most frames an animated GIF may have; each is decoded once to check it."""
RASTER_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")


def probe(data: bytes, *, keep: Callable[[Image.Image], None] | None = None) -> ImageInfo:
    """Format, size and transparency of an answer from the image API: a still, an animated GIF or an SVG.

    An opaque still PNG or JPEG is checked without decoding every pixel (see `_check_cheaply`); anything else
    is decoded, and `keep` is then handed the still image's pixels (while they are held in the decode budget),
    so that a preview made later needs no second decode.
    """
    if looks_like_svg(data):
        return probe_svg(data, "the image")
    return _decode(data, "the image", UPSTREAM_MAX_PIXELS, animation=True, keep=keep, cheaply=True)


def check_input(data: bytes, shown: str, max_pixels: int, *, flatten: bool = False) -> ImageInfo:
    """Decode user-supplied bytes fully, refusing what is not a still PNG, JPEG, WebP or GIF within `max_pixels`.

    With `flatten` an animated GIF or an SVG is accepted too; the caller then turns it into a still
    (convert.flatten). The pixel count is read from the header and checked before any pixel is decoded, so a
    small file that claims a huge canvas (a decompression bomb) costs nothing.
    """
    if looks_like_svg(data):
        if not flatten:
            raise NotAnImageError(
                f"{shown} is an SVG (vector) image; this tool needs PNG, JPEG, WebP or a still GIF. "
                "Edit it with edit_image (which rasterizes it), or convert it first."
            )
        return probe_svg(data, shown)
    return _decode(data, shown, max_pixels, animation=flatten)


def _decode(
    data: bytes,
    shown: str,
    max_pixels: int,
    *,
    animation: bool,
    keep: Callable[[Image.Image], None] | None = None,
    cheaply: bool = False,
) -> ImageInfo:
    try:
        with warnings.catch_warnings():
            # Pillow warns about large canvases at open; the explicit limit below decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
        with image:
            if image.format not in RASTER_FORMATS:
                raise NotAnImageError(
                    f"{shown} is a {image.format} image; use PNG, JPEG, WebP or a still GIF (convert it first)."
                )
            if image.width * image.height > max_pixels:
                raise NotAnImageError(
                    f"{shown} is {image.width}x{image.height} = {image.width * image.height:,} pixels; the limit is "
                    f"{max_pixels:,}. Downscale it first."
                )
            mime, (width, height) = MIME_BY_FORMAT[image.format], image.size  # before a reduced decode shrinks it
            if cheaply and _check_cheaply(image):
                return ImageInfo(mime, width, height, has_alpha=False)
            with DECODE_BUDGET.hold(image.width * image.height):
                frames = _check_frames(image, shown, animation=animation)
                info = ImageInfo(
                    MIME_BY_FORMAT[image.format], image.width, image.height, has_transparency(image), frames=frames
                )
                if keep is not None and frames == 1:
                    keep(image)
                return info
    except Image.DecompressionBombError as exc:
        raise NotAnImageError(f"{shown} declares an enormous canvas and was refused as a decompression bomb.") from exc
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise NotAnImageError(f"{shown} is not an image the server can read (PNG, JPEG, WebP or GIF).") from exc
    except (OSError, EOFError) as exc:
        raise NotAnImageError(f"{shown} is truncated or damaged and cannot be decoded ({exc}).") from exc
    except ValueError as exc:
        # How Pillow refuses metadata bombs: a zTXt, iTXt or iCCP chunk inflating past 1 MB, or all text chunks
        # together past 64 MB ("Decompressed data too large ...", "Too much memory used in text chunks").
        raise NotAnImageError(
            f"{shown} cannot be decoded: {exc}. If it carries large compressed metadata (text or a colour "
            "profile), save it again without that metadata."
        ) from exc


def _check_cheaply(image: Image.Image) -> bool:
    """Check an opaque still PNG or JPEG for damage without decoding all its pixels; False if it is not one.

    A PNG's chunks each carry a checksum and the file an end marker, so a byte changed or cut off on the way
    is caught without inflating the pixels (a tenth of a millisecond instead of 10-25). A JPEG is decoded at
    an eighth of its scale, which still reads every byte of its entropy-coded data. Images with an alpha
    channel are decoded in full, because only their pixels say whether they are really transparent.
    """
    if not checked_without_pixels(image):
        return False
    if image.format == "PNG":
        image.verify()
    else:
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    return True


def checked_without_pixels(image: Image.Image) -> bool:
    """Whether the probe checks this opened image without decoding its pixels: an opaque still PNG or JPEG."""
    return image.format in ("PNG", "JPEG") and not has_alpha_channel(image) and getattr(image, "n_frames", 1) == 1


def has_alpha_channel(image: Image.Image) -> bool:
    """Whether the image carries alpha at all (a channel or a transparent palette entry), used or not."""
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _check_frames(image: Image.Image, shown: str, *, animation: bool) -> int:
    """Decode every frame (a damaged later frame is caught here, not by a viewer); return how many there are."""
    frames: int = getattr(image, "n_frames", 1)
    if frames > 1 and not (animation and image.format == "GIF"):
        raise NotAnImageError(f"{shown} is animated ({frames} frames); use a still image.")
    if frames > MAX_FRAMES:
        raise NotAnImageError(f"{shown} has {frames:,} frames; the limit is {MAX_FRAMES:,}.")
    for frame in ImageSequence.Iterator(image):
        frame.load()
    image.seek(0)
    return frames


def has_transparency(image: Image.Image) -> bool:
    """True only when some pixel is not fully opaque; an all-opaque alpha channel does not count."""
    if has_alpha_channel(image):
        low, _high = image.convert("RGBA").getchannel("A").getextrema()
        return isinstance(low, int | float) and low < 255
    return False
