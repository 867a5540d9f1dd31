"""A shared budget of pixels decoded at once, so concurrent calls cannot multiply peak memory.

A decoded image costs about 4 bytes a pixel, and conversions copy it; six calls each decoding a 64-megapixel
input at the same moment need gigabytes. Every decode in this package holds its pixel count in one budget for
the process: a decode that would overdraw it waits until earlier ones are done (an image larger than the whole
budget is decoded alone). When the last decode of a large image or of a burst ends, freed memory is handed back
to the operating system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, cast

from PIL import Image, ImageOps

DEFAULT_PIXELS = 64_000_000
TRIM_AFTER_PIXELS = 4_000_000
"""Decodes holding at least this many pixels at once (one large image, or a burst of calls) leave enough freed
memory behind to be worth returning to the system when the last of them ends. Fewer are left to the allocator,
which keeps their buffers for the next call: fresh memory costs time (each new page is faulted in)."""
ORIENTATION_TAG = 0x0112


class PixelBudget:
    """Pixels being decoded right now across threads; `hold` waits while the budget is spent."""

    def __init__(self, pixels: int) -> None:
        self._limit = pixels
        self._in_use = 0
        self._changed = threading.Condition()
        self.high_water = 0
        """The most pixels held at once since the last `resize`, for tests and diagnostics."""
        self.waiting = 0
        """Decodes waiting for their turn right now."""
        self._busiest = 0
        """The most pixels held at once since the budget was last idle."""

    def resize(self, pixels: int) -> None:
        with self._changed:
            self._limit = pixels
            self.high_water = self._in_use
            self._changed.notify_all()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        with self._changed:
            self.waiting += 1
            try:
                self._changed.wait_for(lambda: self._in_use == 0 or self._in_use + pixels <= self._limit)
            finally:
                self.waiting -= 1
            self._in_use += pixels
            self.high_water = max(self.high_water, self._in_use)
            self._busiest = max(self._busiest, self._in_use)
        try:
            yield
        finally:
            with self._changed:
                self._in_use -= pixels
                busiest = self._busiest if self._in_use == 0 else 0
                if busiest:
                    self._busiest = 0
                self._changed.notify_all()
            if busiest >= TRIM_AFTER_PIXELS:
                _return_freed_memory()


DECODE_BUDGET = PixelBudget(DEFAULT_PIXELS)
"""The process's budget; the server sizes it from MCP_IMAGES_MAX_DECODE_PIXELS when it starts."""


@contextmanager
def decoding(data: bytes | io.RawIOBase, *, fit: tuple[int, int] | None = None) -> Iterator[Image.Image]:
    """Image bytes (or a file of them) opened for pixel work within the budget, turned the right way up by their
    EXIF orientation.

    With `fit` (a box the result will be shrunk into), JPEG decodes at a reduced scale that still covers it.
    """
    # Pillow reads any file object with read, seek and tell; its annotation names only IO[bytes].
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else cast(IO[bytes], data)) as image:
        if fit is not None and image.format == "JPEG":
            image.draft(image.mode, _covering(image.size, fit))
        with DECODE_BUDGET.hold(image.width * image.height):
            yield upright_image(image)


def exif_orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8) as read at open, without decoding pixels; 1 when absent or unreadable."""
    raw = image.info.get("exif")
    if not isinstance(raw, bytes):
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
    except (SyntaxError, ValueError, OSError):
        return 1
    value = exif.get(ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright_image(image: Image.Image) -> Image.Image:
    """The image as it is meant to be seen: rotated or mirrored as its EXIF orientation says (else itself)."""
    if exif_orientation(image) == 1:
        return image
    return ImageOps.exif_transpose(image)


def _covering(size: tuple[int, int], fit: tuple[int, int]) -> tuple[int, int]:
    """The size, scaled to fit inside `fit` keeping its aspect ratio: the least a reduced decode must deliver."""
    scale = min(1.0, fit[0] / size[0], fit[1] / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, where there is one: the C heap keeps freed image memory otherwise. Looked up at the
    first decode, not at import: finding the C library runs `ldconfig`."""
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def _return_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
