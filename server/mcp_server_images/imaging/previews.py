"""Previews that fit a byte budget, and what a result shows of an image: the image itself, or a preview.

Previews exist because MCP clients reject large results (Claude Desktop fails past 1 MiB of JSON); the full
image always stays on disk untouched. A preview keeps the aspect ratio and, when the source really has
transparent pixels, its transparency. An SVG is only ever shown rasterized (its text is never handed to a
client as an image to render), and an animated GIF is shown moving when it fits the budget, else as its first
frame; `Preview.shows` says which, so the result's text can tell the user.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from enum import StrEnum

from PIL import Image

from .info import SVG_MIME, ImageInfo, NotAnImageError
from .pixel_budget import decoding, upright_image
from .probe import UPSTREAM_MAX_PIXELS, checked_without_pixels, has_transparency, probe
from .svg import looks_like_svg, probe_svg, rasterize

log = logging.getLogger(__name__)

PREVIEW_MAX_SIDE = 1568
"""The long side Anthropic's vision models use; larger previews only cost bytes."""
MIN_PREVIEW_SIDE = 16


class Shown(StrEnum):
    """What an inline image is, relative to the stored one (the values read as text: "shows the first frame")."""

    ORIGINAL = "the image itself"
    PREVIEW = "a smaller preview"
    ANIMATION = "the animation itself"
    FIRST_FRAME = "the first frame of the animation"
    RASTERIZED = "a PNG rendering of the SVG"


@dataclass(frozen=True)
class Preview:
    data: bytes
    mime_type: str
    width: int
    height: int
    shows: Shown = Shown.PREVIEW


def inline_image(data: bytes, mime_type: str, size: tuple[int, int], max_bytes: int, *, full: bool = False) -> Preview:
    """What a tool result carries for a stored image within `max_bytes` (decoding it if a preview is needed).

    The stored bytes themselves when they fit and are no larger than a preview would be (or `full` asks for the
    original): an animated GIF that fits is shown moving, whatever its size. Otherwise a still preview: the
    first frame of an animation, a rendering of an SVG, a smaller copy of anything else.
    """
    preview = Inlinable(data, mime_type, size).inline(max_bytes, full=full)
    if preview is None:
        raise NotAnImageError("The image's pixels do not decode, so it cannot be shown.")
    return preview


@dataclass
class Inlinable:
    """A stored image about to be shown within a budget; decoded at most once however often the budget is retried."""

    data: bytes
    mime_type: str
    size: tuple[int, int]
    _decoded: Decoded | None = None
    undecodable: bool = False
    """Set when the stored bytes passed the probe's checks but their pixels do not decode: no preview then."""

    def inline(self, max_bytes: int, *, full: bool = False, max_side: int | None = None) -> Preview | None:
        """The image itself when it fits, else a preview; `max_side` bounds either (a host's limit)."""
        width, height = self.size
        within = max_side is None or max(width, height) <= max_side
        if self.mime_type != SVG_MIME and len(self.data) <= max_bytes and within:
            if self.mime_type == "image/gif" and _frames(self.data) > 1:
                return Preview(self.data, self.mime_type, width, height, Shown.ANIMATION)
            if full or max(width, height) <= PREVIEW_MAX_SIDE:
                return Preview(self.data, self.mime_type, width, height, Shown.ORIGINAL)
        if self._decoded is None and not self.undecodable:
            try:
                self._decoded = decode_for_preview(self.data)
            except (OSError, ValueError):
                self.undecodable = True
        side = preview_side(max_side)
        if self._decoded is None:
            return None
        return self._decoded.ready_preview(max_bytes, side) or fit_preview(self._decoded, max_bytes, side)


def preview_side(max_side: int | None) -> int:
    """The long side a preview is made within: a host's bound (None: none), never above PREVIEW_MAX_SIDE."""
    return PREVIEW_MAX_SIDE if max_side is None else min(max_side, PREVIEW_MAX_SIDE)


@dataclass(frozen=True)
class PreviewBound:
    """What a result will likely allow each image's preview: so many bytes, so many pixels on the long side. Known
    before the answer arrives, so a preview can be made the moment the image's pixels are decoded."""

    max_bytes: int
    max_side: int = PREVIEW_MAX_SIDE


READY_SLACK = 16_384
"""A preview made for a budget up to this many bytes below the one a result has looks the same as one made for
that budget (the scale differs by a percent or two), so the result takes it rather than make another."""


@dataclass(frozen=True)
class Decoded:
    """Pixels decoded once for previews: RGB, or RGBA when some pixel is really transparent."""

    image: Image.Image
    alpha: bool
    shows: Shown = Shown.PREVIEW
    rendering: bytes | None = None
    """For an SVG: its PNG rendering at the preview's largest size, shown as it is when it fits."""
    ready: tuple[PreviewBound, Future[Preview]] | None = None
    """A preview being made (or made) of these pixels, and the bound it is made for."""

    def ready_preview(self, max_bytes: int, max_side: int) -> Preview | None:
        """The preview made ahead, once made, when it is the one `fit_preview` would make within these bounds,
        near enough: made for the same long side, for a budget at most READY_SLACK below this one, and within
        this one. None when there is none, it is not that one, or making it failed (it is made again then)."""
        if self.ready is None:
            return None
        bound, making = self.ready
        if bound.max_side != max_side or bound.max_bytes < max_bytes - READY_SLACK:
            return None
        try:
            preview = making.result()
        except Exception:  # a preview made ahead never costs the result its preview
            log.exception("a preview made ahead failed; it is made again")
            return None
        return preview if len(preview.data) <= max_bytes else None


def probe_keeping_pixels(data: bytes) -> tuple[ImageInfo, Decoded | None]:
    """Probe an answer and keep the pixels the probe decoded, when a preview will likely need them.

    The probe decodes only what it cannot check otherwise (an image with alpha, a WebP, an animation); keeping
    those pixels spares the preview a second decode. An opaque PNG or JPEG is checked without its pixels, and
    `likely_previewed` tells the caller whether to decode it for a preview (which it can do while storing).
    """
    kept: list[Decoded] = []

    def keep(image: Image.Image) -> None:
        if likely_previewed(len(data), image.size):
            kept.append(pixels_for_preview(upright_image(image)))

    info = probe(data, keep=keep)
    return info, kept[0] if kept else None


def likely_previewed(size_in_bytes: int, size: tuple[int, int]) -> bool:
    """Whether a preview is likely: many bytes, or more pixels on a side than a preview has."""
    return size_in_bytes > LIKELY_PREVIEWED_BYTES or max(size) > PREVIEW_MAX_SIDE


def decode_ahead(data: bytes) -> bool:
    """Whether to decode an answer's preview pixels before it is even probed: an opaque still PNG or JPEG (which
    the probe checks without its pixels) of so many bytes that it will be previewed, within the pixels the probe
    accepts of an answer. Reads only the header (`data` may be the first bytes of an image still arriving)."""
    if len(data) <= LIKELY_PREVIEWED_BYTES:
        return False
    try:
        with Image.open(io.BytesIO(data)) as image:
            return checked_without_pixels(image) and image.width * image.height <= UPSTREAM_MAX_PIXELS
    except UNDECODABLE:
        return False  # the probe says what is wrong with it


UNDECODABLE = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)
"""What Pillow raises for bytes that are not a decodable image."""
LIKELY_PREVIEWED_BYTES = 400_000
"""Above this an answer rarely fits a result beside its text and siblings, so it gets a preview."""


def decode_for_preview(data: bytes, max_side: int = PREVIEW_MAX_SIDE) -> Decoded:
    """The still picture a preview is made from: the image, an animation's first frame, or an SVG rendered."""
    if looks_like_svg(data):
        info = probe_svg(data, "the SVG")
        scale = min(1.0, max_side / max(info.width, info.height))
        png = rasterize(data, max(1, round(info.width * scale)), max(1, round(info.height * scale)))
        with Image.open(io.BytesIO(png)) as source:
            return replace(pixels_for_preview(source), shows=Shown.RASTERIZED, rendering=png)
    with decoding(data, fit=(max_side, max_side)) as source:
        decoded = pixels_for_preview(source)
        return replace(decoded, shows=Shown.FIRST_FRAME) if getattr(source, "n_frames", 1) > 1 else decoded


def pixels_for_preview(source: Image.Image) -> Decoded:
    """The pixels a preview is made from (the current frame; RGB, or RGBA when alpha is used): the decoded image
    itself when it already has that mode (a copy would double the memory a large image holds), else a copy."""
    alpha = has_transparency(source)
    mode = "RGBA" if alpha else "RGB"
    if source.mode != mode:
        return Decoded(source.convert(mode), alpha)
    source.load()  # closing the file later leaves loaded pixels usable
    return Decoded(source, alpha)


def fit_preview(source: Decoded | bytes, max_bytes: int, max_side: int = PREVIEW_MAX_SIDE) -> Preview:
    """A still, downscaled copy whose encoded size is at most `max_bytes`, usually encoded once.

    An SVG's PNG rendering is kept as it is when it fits (flat drawings stay crisp). Opaque images become JPEG;
    images with transparency become WebP, which keeps alpha at a fraction of PNG's size. The scale is chosen
    before encoding, from how densely a small crop of the image encodes; should the estimate miss, it shrinks by
    the square root of the overshoot, until the encoding fits or the short side is down to 16 px.
    """
    decoded = decode_for_preview(source, max_side) if isinstance(source, bytes) else source
    image = decoded.image
    unscaled = max_side >= max(image.width, image.height)
    if decoded.rendering is not None and unscaled and len(decoded.rendering) <= max_bytes:
        return Preview(decoded.rendering, "image/png", image.width, image.height, decoded.shows)
    scale, floor = _planned(decoded, max_bytes, max_side)
    return _fitted(decoded, scale, floor, max_bytes)


def _planned(decoded: Decoded, max_bytes: int, max_side: int) -> tuple[float, float]:
    """The scale a preview is first made at (within `max_side`, and as the budget estimate says), and the
    smallest it may take: the short side at 16 px, or as it is when it is shorter already. Scaling both sides
    alike at the floor too keeps the aspect ratio: an icon is never enlarged nor a banner stretched."""
    image = decoded.image
    scale = min(1.0, max_side / max(image.width, image.height))
    floor = min(scale, MIN_PREVIEW_SIDE / min(image.width, image.height))
    return max(floor, min(scale, _scale_for_budget(decoded, scale, max_bytes))), floor


def _fitted(decoded: Decoded, scale: float, floor: float, max_bytes: int, first: Image.Image | None = None) -> Preview:
    """Encode the image at `scale`, smaller until it fits; `first`: the image already resized to that scale."""
    image = decoded.image
    quality = QUALITY
    while True:
        width, height = _size_at(image.size, scale)
        resized = first if first is not None else _resized(image, (width, height))
        first = None
        encoded, mime = _encode(resized, quality, alpha=decoded.alpha)
        if len(encoded) <= max_bytes or scale <= floor:
            return Preview(encoded, mime, width, height, decoded.shows)
        scale = max(floor, scale * min(0.9, (max_bytes / len(encoded)) ** 0.5))
        quality = max(60, quality - 5)


def _size_at(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


class GrowingPreview:
    """The preview of an opaque image still being decoded from top to bottom, made band by band as its rows come
    in: the very pixels `fit_preview` makes of the whole image (a mild shrink of many pixels is made in the same
    bands, see `_Bands`), so that once the last row is decoded only the last bands and the encoding are left.

    It starts once the rows of the centre crop that sets the scale (`_scale_for_budget`) are decoded. Where the
    first size tried is no banded shrink, nothing is made ahead and `finish` is `fit_preview`. The image being
    decoded is only read, through an image of its own over the same pixels (asking the image that is loading
    for its pixels would load it again).
    """

    def __init__(self, decoding: Image.Image, bound: PreviewBound) -> None:
        self._decoding = decoding
        self._bound = bound
        self._plan: tuple[float, float] | None = None
        """The scale and the floor, once the centre crop is decoded."""
        self._target: Image.Image | None = None
        self._made = 0
        """Rows of the target made."""

    def decoded_to(self, rows: int) -> None:
        """The image's rows [0, rows) are decoded: make the bands they complete."""
        image = self._decoding
        if self._plan is None:
            if rows < image.height * 5 // 8:
                return
            bound = self._bound
            self._plan = _planned(Decoded(self._pixels(), alpha=False), bound.max_bytes, bound.max_side)
            size = _size_at(image.size, self._plan[0])
            self._target = Image.new(image.mode, size) if _banded(image.size, size) else None
        if self._target is not None:
            self._make_bands(rows)

    def finish(self, decoded: Decoded) -> Preview:
        """The preview, once the whole image is decoded (`decoded`: its pixels for previews)."""
        bound = self._bound
        if self._plan is None or decoded.image is not self._decoding or decoded.alpha:
            return fit_preview(decoded, bound.max_bytes, bound.max_side)
        if self._target is not None:
            self._make_bands(self._decoding.height)
        scale, floor = self._plan
        return _fitted(decoded, scale, floor, bound.max_bytes, first=self._target)

    def _make_bands(self, rows: int) -> None:
        target = self._target
        assert target is not None
        source = self._pixels()
        scale = source.height / target.height
        while self._made < target.height:
            bottom = min(self._made + BAND_ROWS, target.height)
            # BILINEAR reaches a source row past the band's last centre, `scale` rows when it shrinks.
            if rows < source.height and rows < math.ceil((bottom + 0.5) * scale) + 2:
                return
            _band(source, target, self._made)
            self._made = bottom

    def _pixels(self) -> Image.Image:
        return self._decoding._new(self._decoding.im)


def _frames(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return int(getattr(image, "n_frames", 1))


QUALITY = 85
ESTIMATE_MARGIN = 0.9
"""Aim this far under the budget, so that an estimate a little short still fits at the first encode."""


def _scale_for_budget(decoded: Decoded, scale: float, max_bytes: int) -> float:
    """The largest scale whose encoding the estimate puts within the budget.

    A centre crop of a sixteenth of the image, scaled like the preview would be, is encoded to learn the bytes
    per pixel of this content (noise costs ten times what a gradient does); cheap next to encoding the whole.
    """
    image = decoded.image
    crop = image.crop((image.width * 3 // 8, image.height * 3 // 8, image.width * 5 // 8, image.height * 5 // 8))
    if min(crop.size) < MIN_PREVIEW_SIDE:
        return scale  # too small to sample; encoding the whole costs no more
    sample_size = (max(8, round(crop.width * scale)), max(8, round(crop.height * scale)))
    sample, _mime = _encode(_resized(crop, sample_size), QUALITY, alpha=decoded.alpha)
    per_pixel = len(sample) / (sample_size[0] * sample_size[1])
    estimate = per_pixel * image.width * image.height * scale * scale
    if estimate <= max_bytes * ESTIMATE_MARGIN:
        return scale
    return float(scale * (max_bytes * ESTIMATE_MARGIN / estimate) ** 0.5)


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The cheapest filter that looks right for the factor: a mild shrink takes BILINEAR (Pillow widens its
    triangle to the factor, so it antialiases: on fine diagonal lines it matches BICUBIC where BOX shows moire,
    at 60% of BICUBIC's cost), in bands on two cores when it is large; a strong one an integer reduce() first,
    then a short LANCZOS."""
    if size == image.size:
        return image
    if size[0] < image.width / 2:
        return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    if not _banded(image.size, size):
        return image.resize(size, Image.Resampling.BILINEAR)
    return _Bands(image, Image.new(image.mode, size)).resize()


def _banded(source: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether `_resized` makes this size in bands: a mild shrink to many pixels."""
    mild = size != source and size[0] >= source[0] / 2
    return mild and size[0] * size[1] >= BANDED_PIXELS


BANDED_PIXELS = 250_000
"""From this many preview pixels a mild shrink is split into bands, which two threads share (Pillow lets go of
the interpreter lock while it resamples and pastes); below it, handing over costs more than it saves."""
BAND_ROWS = 128
"""Rows of the preview per band: a band's working memory is small next to the preview it fills."""
_HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview-bands")


class _Bands:
    """A mild shrink by BILINEAR, band by band, shared between the calling thread and one helper thread.

    Each band is made by `_band`. The caller never waits for the helper to start: when the helper is busy with
    another preview, the caller takes every band itself.
    """

    def __init__(self, image: Image.Image, resized: Image.Image) -> None:
        self._source: Image.Image | None = image
        self._target: Image.Image | None = resized
        self._tops = iter(range(0, resized.height, BAND_ROWS))
        self._left = len(range(0, resized.height, BAND_ROWS))
        self._changed = threading.Condition()
        self._failure: BaseException | None = None

    def resize(self) -> Image.Image:
        target = self._target
        assert target is not None
        _HELPER.submit(self._work)
        self._work()
        with self._changed:
            self._changed.wait_for(lambda: self._left == 0)
            self._source = self._target = None  # a helper that starts late holds no pixels
        if self._failure is not None:
            raise self._failure
        return target

    def _work(self) -> None:
        while (band := self._take()) is not None:
            top, source, target = band
            try:
                _band(source, target, top)
            except BaseException as exc:  # handed to the caller, which re-raises it
                self._failure = self._failure or exc
            finally:
                with self._changed:
                    self._left -= 1
                    self._changed.notify_all()

    def _take(self) -> tuple[int, Image.Image, Image.Image] | None:
        with self._changed:
            top = next(self._tops, None)
            if top is None or self._source is None or self._target is None:
                return None
            return top, self._source, self._target


def _band(source: Image.Image, target: Image.Image, top: int) -> None:
    """Fill the target's BAND_ROWS rows from `top` with the source shrunk by BILINEAR: the pixels a resize of the
    whole gives them, within one level (the filter reaches past the band's source rows into its neighbours',
    `box` only places it)."""
    bottom = min(top + BAND_ROWS, target.height)
    scale = source.height / target.height
    box = (0.0, top * scale, float(source.width), bottom * scale)
    target.paste(source.resize((target.width, bottom - top), Image.Resampling.BILINEAR, box=box), (0, top))


def _encode(image: Image.Image, quality: int, *, alpha: bool) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if alpha:
        image.save(buffer, format="WEBP", quality=quality, method=4)
        return buffer.getvalue(), "image/webp"
    image.save(buffer, format="JPEG", quality=quality)  # optimize=True costs 4x the time for ~5% of the bytes
    return buffer.getvalue(), "image/jpeg"
