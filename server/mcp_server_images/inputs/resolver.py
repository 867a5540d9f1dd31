"""One resolver for every tool that takes an image: a reference in, checked image bytes out.

Whatever the form, the result is bytes that decode as a still image within the limits, plus where they came
from; nothing that fails these checks is ever sent upstream. Callers that can use an animated GIF or an SVG as a
still (edits) ask to `flatten` them: the first frame, or a rasterized copy, with a note saying so. An image whose
EXIF orientation says it is stored turned or mirrored (phone photos) is re-encoded the right way up here, so every
later step, and the model, sees it as a person does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio

from ..imaging.convert import flatten as flatten_image
from ..imaging.convert import upright
from ..imaging.info import ImageInfo
from ..imaging.probe import check_input
from ..store import ImageNotFoundError, ImageRecord, Store
from ..store.base import IMAGE_FILE
from .fetch import UrlFetcher
from .paths import existing, on_this_system, read_file
from .refs import InlineRef, PathRef, RefError, StoredRef, UrlRef, parse_ref, short


@dataclass(frozen=True)
class InputImage:
    ref: str
    """The reference as the caller gave it (shortened), for messages and metadata."""
    data: bytes
    info: ImageInfo
    stored_id: str | None = None
    path: Path | None = None
    note: str | None = None
    """What was done to make it usable (first frame of an animation, SVG rasterized), for the result's text."""
    response_id: str | None = None
    """A stored image made through the Responses API: the answer whose conversation an edit continues."""

    @property
    def source(self) -> str:
        """How the sidecar names this input: its stored id, else its path, else the reference."""
        return self.stored_id or (str(self.path) if self.path else self.ref)


class ImageResolver:
    def __init__(
        self,
        *,
        store: Store,
        fetcher: UrlFetcher,
        extra_roots: Sequence[Path],
        max_bytes: int,
        max_pixels: int,
    ) -> None:
        self._store = store
        self._fetcher = fetcher
        self._extra_roots = list(extra_roots)
        self._max_bytes = max_bytes
        self._max_pixels = max_pixels

    def seen_by(self, store: Store) -> ImageResolver:
        """The same resolver reading stored images through `store` (a user's owner-scoped view)."""
        return ImageResolver(
            store=store,
            fetcher=self._fetcher,
            extra_roots=self._extra_roots,
            max_bytes=self._max_bytes,
            max_pixels=self._max_pixels,
        )

    def roots(self, client_roots: Sequence[Path] = ()) -> list[Path]:
        """Folders local paths may be read from: output folder (if local), home, the client's roots, extras."""
        return [*self._store_folder(), Path.home(), *client_roots, *self._extra_roots]

    def _store_folder(self) -> list[Path]:
        folder = self._store.folder
        return [] if folder is None else [folder]

    async def resolve(self, ref: str, client_roots: Sequence[Path] = (), *, flatten: bool = False) -> InputImage:
        """The checked image a reference names; with `flatten`, animations and SVG become stills instead of errors."""
        shown = repr(short(ref))
        parsed = parse_ref(ref, windows=os.name == "nt")
        stored_id: str | None = None
        response_id: str | None = None
        path: Path | None = None
        match parsed:
            case StoredRef(image_id):
                record = await anyio.to_thread.run_sync(self._store.get, image_id)
                data = await anyio.to_thread.run_sync(self._store.read, record)
                stored_id, response_id = record.id, record.response_id
            case PathRef(written, windows):
                on_this_system(shown, windows=windows)
                path = existing(written, [*client_roots, Path.cwd(), *self._store_folder()], shown)
                named = await anyio.to_thread.run_sync(self._stored_file, path)
                if named is not None:
                    data = await anyio.to_thread.run_sync(self._store.read, named)
                    stored_id, response_id = named.id, named.response_id
                else:
                    roots = self.roots(client_roots)
                    data = await anyio.to_thread.run_sync(read_file, path, roots, shown, self._max_bytes)
            case UrlRef(url):
                data = await self._fetcher.fetch(url)
            case InlineRef(inline, kind):
                if len(inline) > self._max_bytes:
                    raise RefError(
                        f"The {kind} image {shown} is {len(inline):,} bytes; the limit is {self._max_bytes:,}."
                    )
                data = inline
        info = await anyio.to_thread.run_sync(partial(check_input, data, shown, self._max_pixels, flatten=flatten))
        note = None
        if flatten:
            data, info, note = await anyio.to_thread.run_sync(flatten_image, data, info, shown, self._max_pixels)
        turned = await anyio.to_thread.run_sync(upright, data, info)
        if turned is not None:
            data, info = turned
        return InputImage(short(ref), data, info, stored_id, path, note, response_id)

    def _stored_file(self, path: Path) -> ImageRecord | None:
        """The stored image a path in the store's folder names, read through the store: a path is one more way to
        name it, so it opens the image for exactly those who may read it by id. None for any other path."""
        folder = self._store.folder
        match = IMAGE_FILE.match(path.name)
        if folder is None or match is None or path.resolve().parent != folder.resolve():
            return None
        record = self._store.get(match["id"])
        if record.name != path.name:
            raise ImageNotFoundError(f"No stored image is named {path.name} in {folder}.")
        return record

    async def resolve_all(
        self, refs: Sequence[str], client_roots: Sequence[Path] = (), *, flatten: bool = False
    ) -> list[InputImage]:
        return [await self.resolve(ref, client_roots, flatten=flatten) for ref in refs]
