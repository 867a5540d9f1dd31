"""Preview pixels decoded while an answer is still arriving.

At a good connection's pace a large answer takes a few hundred milliseconds to arrive; decoding its image only
once the last byte is in adds the whole decode (about 30 ms for a 4.7 MB PNG) to what the user waits for. Here
each image's bytes, handed on as the upstream client decodes them from the arriving base64, feed Pillow's own
decoder in a thread, through a file whose reads wait for bytes not yet arrived. Only what the probe checks
without decoding pixels (an opaque still PNG or JPEG) is decoded early, and only one that will likely be
previewed: everything else is decoded by the probe or needs no pixels.

The same bytes go to a file of the store's (when it keeps images in files) as they arrive, so that storing the
image once it is checked is a rename, not a write and a sync of megabytes. When the result's bound is known, the
preview is made as the rows are decoded (a PNG's, see `GrowingPreview`), else right after the decode.

Nothing here is trusted: once the answer is read whole and its image checked, the early pixels and the file are
taken only when the image is byte for byte (by SHA-256) the one that arrived here; otherwise they are dropped,
the image decoded from its bytes and written as before.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from PIL import Image, ImageFile

from .pixel_budget import decoding
from .previews import (
    LIKELY_PREVIEWED_BYTES,
    PREVIEW_MAX_SIDE,
    UNDECODABLE,
    Decoded,
    GrowingPreview,
    PreviewBound,
    decode_ahead,
    fit_preview,
    pixels_for_preview,
)

if TYPE_CHECKING:
    from ..store.files import ArrivingFile

log = logging.getLogger(__name__)

EARLY_BELOW_RATE = 100e6
"""Bytes per second under which an answer is decoded as it arrives. Faster (a provider on the same host, the
loopback), the whole answer is in before an early decode could gain anything, and decoding beside the arrival
only takes a core from reading it."""
EARLY_DECODES = 4
"""Images decoded early at once; a further one is decoded after its last byte, as before. The threads are few and
kept: a thread made per image would get a C heap of its own, which keeps the image's freed memory."""
_DECODERS = ThreadPoolExecutor(max_workers=EARLY_DECODES, thread_name_prefix="early-preview")
_FREE = threading.BoundedSemaphore(EARLY_DECODES)


class FilesAhead(Protocol):
    """Where an image's bytes may be written while they arrive (the store)."""

    def arriving_file(self) -> ArrivingFile | None: ...


class EarlyPreviews:
    """The images of one upstream request as they arrive (every attempt's), each decoding early when worth it,
    and, given the `bound` its result will likely show them within, making its preview right after its decode,
    while the answer is checked and stored.

    Used as a context manager: leaving it ends every image still arriving, so no decoding thread outlives the
    request.
    """

    def __init__(self, bound: PreviewBound | None = None, files: FilesAhead | None = None) -> None:
        self._images: list[ArrivingImage] = []
        self._lock = threading.Lock()
        self._bound = bound
        self._files = files

    def arriving(self) -> ArrivingImage:
        image = ArrivingImage(self._bound, self._files)
        with self._lock:
            self._images.append(image)
        return image

    def arrived(self, data: bytes) -> ArrivingImage | None:
        """The image that arrived whole as exactly `data` and was decoded early (its pixels, and its file, are
        those of `data`); None when none did. Takes the digest of `data`: call it in a worker thread."""
        with self._lock:
            decoded_early = [image for image in self._images if image.decoding]
        if not decoded_early:
            return None  # the usual case of an answer read at once: no digest to take
        digest = hashlib.sha256(data).digest()
        return next((image for image in decoded_early if image.holds(len(data), digest)), None)

    def __enter__(self) -> EarlyPreviews:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with self._lock:
            images = list(self._images)
        for image in images:
            image.end(whole=False)
            if image.file is not None:
                image.file.discard()  # unless the store moved it into place


class ArrivingImage:
    """One image's bytes so far. At LIKELY_PREVIEWED_BYTES it is judged: an opaque still PNG or JPEG arriving
    slowly enough is decoded in a thread as the rest arrives, and its bytes are hashed from then on, to be matched
    with the checked image; any other image is let go (its bytes are neither kept nor hashed, and the stream is
    told it may stop decoding them)."""

    def __init__(self, bound: PreviewBound | None = None, files: FilesAhead | None = None) -> None:
        self._bound = bound
        self._files = files
        self.file: ArrivingFile | None = None
        """The file its bytes are written to as they arrive, once it is decoded early and the store keeps files."""
        self._received = bytearray()
        self._base = 0
        """Where `_received` begins in the image: bytes the decoder has read go, once it reads forward only."""
        self._size = 0
        """Bytes received in all."""
        self._digest = hashlib.sha256()
        self._changed = threading.Condition()
        self._ended = False
        self._whole = False
        self._judged = False
        """Whether the image was judged for an early decode."""
        self._decoding: Future[None] | None = None
        self._decoded: Decoded | None = None
        self._wanted = True
        """Whether its bytes still matter: until it is judged, then while its early decode may yet succeed."""
        self._keeping = True
        """Whether the bytes are kept: until it is judged, then while the decode reads them."""
        self._awaited = 0
        """How many bytes the reader waits for."""
        self._first: float | None = None
        """When the first bytes came (time.monotonic())."""

    @property
    def decoding(self) -> bool:
        """Whether an early decode of this image was started."""
        return self._decoding is not None

    def more(self, data: bytes) -> bool:
        """Take the next bytes; False once they no longer matter (the image is not decoded early, or its decode
        failed), so the caller may stop decoding them."""
        with self._changed:
            if self._ended or not self._wanted:
                return False
            self._first = time.monotonic() if self._first is None else self._first
            self._size += len(data)
            if self._judged:
                self._digest.update(data)
                if self.file is not None:
                    self.file.write(data)
            if self._keeping:
                self._received += data
            if self._size >= self._awaited:
                self._changed.notify_all()  # only when the reader's bytes are in: a wake-up per piece costs the loop
            judge = not self._judged and self._size > LIKELY_PREVIEWED_BYTES
            self._judged = self._judged or judge
        if judge:
            self._judge()
        return self._wanted

    def end(self, *, whole: bool) -> None:
        with self._changed:
            if not self._ended:
                self._ended, self._whole = True, whole
                self._changed.notify_all()

    def holds(self, size: int, digest: bytes) -> bool:
        """Whether this image arrived whole as exactly these bytes, all of them hashed."""
        with self._changed:
            hashed = self._wanted and self._decoding is not None
            return hashed and self._whole and self._size == size and self._digest.digest() == digest

    def decoded(self) -> Decoded | None:
        if self._decoding is not None:
            self._decoding.result()
        return self._decoded

    def _judge(self) -> None:
        if self._arriving_slowly() and self._worth_decoding() and _FREE.acquire(blocking=False):
            file = self._file_ahead()
            with self._changed:
                so_far = bytes(self._received)  # all of it so far: nothing was read or dropped yet
                self._digest.update(so_far)
                if file is not None:
                    file.write(so_far)
                self.file = file
            self._decoding = _DECODERS.submit(self._decode)
        else:
            self._let_go()

    def _file_ahead(self) -> ArrivingFile | None:
        """A file of the store's for the bytes as they arrive; None when it keeps none, or cannot make one now (the
        image is then written at its save, which says what is wrong)."""
        try:
            return self._files.arriving_file() if self._files is not None else None
        except OSError as exc:
            log.info("an arriving image is written once whole: %s", exc)
            return None

    def _arriving_slowly(self) -> bool:
        with self._changed:
            elapsed = time.monotonic() - (self._first or 0.0)
            return self._size < EARLY_BELOW_RATE * elapsed

    def _worth_decoding(self) -> bool:
        """What would be decoded ahead of the probe once whole (`decode_ahead`), judged on the bytes so far."""
        with self._changed:
            head = bytes(self._received)
        return decode_ahead(head)

    def _decode(self) -> None:
        reader = _Arriving(self)
        try:
            with decoding(reader, fit=(PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE)) as source:
                growing = self._growing(source, reader)
                reader.forward_only()  # opened: Pillow now reads the pixel data from front to back
                decoded = pixels_for_preview(source)
            self._decoded = decoded if self._bound is None else self._previewed(decoded, self._bound, growing)
        except UNDECODABLE:
            self._let_go()  # decoded again from the stored bytes, which say what is wrong
        finally:
            with self._changed:
                self._keeping = False  # the pixels are all a preview needs; the digest goes on
                self._received = bytearray()
            _FREE.release()

    def _growing(self, source: Image.Image, reader: _Arriving) -> GrowingPreview | None:
        """A preview made as the rows are decoded, for a non-interlaced 8-bit RGB PNG (the rows come in order, and
        `_PngRows` can count them) when the result's bound is known; the reader tells it of each row decoded."""
        if self._bound is None or not isinstance(source, ImageFile.ImageFile) or source.format != "PNG":
            return None
        if source.info.get("interlace") or len(source.tile) != 1:
            return None
        codec, _box, offset, rawmode = source.tile[0][:4]
        if codec != "zip" or rawmode != "RGB" or source.mode != "RGB":
            return None
        header = self.read_at(offset - 8, 8)  # the first IDAT chunk's length and type, read by the opening
        if header[4:] != b"IDAT":
            return None
        growing = GrowingPreview(source, self._bound)
        reader.watch(_PngRows(int.from_bytes(header[:4], "big"), 1 + 3 * source.width), growing)
        return growing

    @staticmethod
    def _previewed(decoded: Decoded, bound: PreviewBound, growing: GrowingPreview | None) -> Decoded:
        """The pixels, with their preview being finished on another of the decoding threads: the image is checked
        and stored meanwhile, and its result waits for the preview only when it is written."""
        if growing is not None:
            making = _DECODERS.submit(growing.finish, decoded)
        else:
            making = _DECODERS.submit(fit_preview, decoded, bound.max_bytes, bound.max_side)
        return replace(decoded, ready=(bound, making))

    def _let_go(self) -> None:
        """Nothing more to do with this image's bytes: neither kept nor hashed."""
        with self._changed:
            self._wanted = self._keeping = False
            self._received = bytearray()

    def read_at(self, position: int, size: int) -> bytes:
        """Bytes from `position`, waiting until `size` of them arrived or the image ended (then fewer)."""
        with self._changed:
            if position < self._base:
                raise OSError("an arriving image is read forward only once its decode is under way")
            self._awaited = position + size
            self._changed.wait_for(lambda: self._ended or self._size >= position + size)
            start = position - self._base
            return bytes(self._received[start : start + size])

    def forget_before(self, position: int) -> None:
        """Bytes before `position` are read: they go (deleting from the front of a bytearray moves no memory)."""
        with self._changed:
            if position > self._base:
                del self._received[: position - self._base]
                self._base = position

    def final_size(self) -> int:
        """The whole length, once the image ended."""
        with self._changed:
            self._changed.wait_for(lambda: self._ended)
            return self._size


class _Arriving(io.RawIOBase):
    """The image's bytes as a file for Pillow: a read waits for bytes not yet arrived, and is short only at the
    end (a cut-off image then fails to decode as a truncated file does)."""

    def __init__(self, image: ArrivingImage) -> None:
        super().__init__()
        self._image = image
        self._position = 0
        self._forward = False
        self._rows: _PngRows | None = None
        self._growing: GrowingPreview | None = None
        self._handed = b""
        """The bytes of the last read: decoded by the time Pillow reads again."""

    def watch(self, rows: _PngRows, growing: GrowingPreview) -> None:
        """From now on (the position is at the first IDAT chunk's data), count the rows decoded from what Pillow
        reads, and tell `growing` of them."""
        self._rows, self._growing, self._handed = rows, growing, b""

    def forward_only(self) -> None:
        """From now on bytes behind the position are forgotten, so the image is never held whole twice."""
        self._forward = True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._grow()
        if size is None or size < 0:
            size = self._image.final_size() - self._position
        data = self._image.read_at(self._position, size)
        self._position += len(data)
        if self._forward:
            self._image.forget_before(self._position)
        self._handed = data
        return data

    def _grow(self) -> None:
        """Pillow reads again once it decoded what it read before: those rows are in, and go to the preview. Should
        that fail, the preview is made once the image is decoded, as it would have been."""
        if self._rows is None or self._growing is None:
            return
        try:
            self._rows.read(self._handed)
            self._growing.decoded_to(self._rows.rows)
        except Exception:
            log.exception("a preview made while its image arrived failed; it is made once the image is decoded")
            self._rows = self._growing = None

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence == io.SEEK_END:
            offset += self._image.final_size()
        self._position = max(0, offset)
        return self._position

    def tell(self) -> int:
        return self._position


class _PngRows:
    """How many rows of a non-interlaced PNG its decoder has been handed the data of, from the bytes it read from
    the first IDAT chunk's data on: each IDAT chunk's data is inflated again, only to count its bytes (a row is a
    filter byte and its pixels); the CRCs and chunk headers between them are skipped."""

    HEADER = 12
    """A chunk's CRC, then the next one's length and type."""
    PIECE = 1 << 20
    """The most bytes inflated at once, so a flat image's few bytes never inflate to its megabytes in one go."""

    def __init__(self, first_chunk: int, row_bytes: int) -> None:
        self._inflate = zlib.decompressobj()
        self._left = first_chunk
        """Bytes of the current IDAT chunk's data still to come."""
        self._header = bytearray()
        self._row_bytes = row_bytes
        self._inflated = 0
        self._ended = False

    @property
    def rows(self) -> int:
        return self._inflated // self._row_bytes

    def read(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self._ended:
            if self._left:
                piece, view = view[: self._left], view[self._left :]
                self._left -= len(piece)
                self._count(piece)
                continue
            taken = self.HEADER - len(self._header)
            self._header += view[:taken]
            view = view[taken:]
            if len(self._header) == self.HEADER:
                self._ended = self._header[8:] != b"IDAT"
                self._left = int.from_bytes(self._header[4:8], "big")
                self._header.clear()

    def _count(self, piece: memoryview) -> None:
        pending: bytes | memoryview = piece
        while pending and not self._inflate.eof:
            self._inflated += len(self._inflate.decompress(pending, self.PIECE))
            pending = self._inflate.unconsumed_tail
