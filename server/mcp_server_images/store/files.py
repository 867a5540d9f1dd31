"""Writing files so that readers never see half of one: the local store's images, sidecars and records, and
save_to's copies; and an image's file written while its answer is still arriving."""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

TEMPORARY_PREFIX = ".partial-"
"""Temporary files of writes in progress; the local store removes old ones a crash left behind."""


def write_atomic(path: Path, data: bytes, *, temporaries: Path | None = None) -> None:
    """Write through a temporary file, fsync, then rename: readers never see half a file. The temporary is made in
    `temporaries` when given (a folder on the same file system, so the rename stays atomic), else beside `path`."""
    folder = path.parent if temporaries is None else temporaries
    handle, temp_name = tempfile.mkstemp(dir=folder, prefix=TEMPORARY_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def create_exclusive(path: Path, data: bytes, *, sync: bool = False) -> bool:
    """Write the file complete under a temporary name, then hard-link it to `path`: False (nothing written) when
    `path` exists already, whoever (another process, another thread) created it; nobody ever sees half of it."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            if sync:
                os.fsync(temp.fileno())
        try:
            os.link(temp_name, path)
        except FileExistsError:
            return False
    finally:
        Path(temp_name).unlink(missing_ok=True)
    return True


SYNC_EVERY = 1 << 20
"""Bytes of an arriving image written between two syncs to disk: the last sync, once the image is whole, then
has at most this much to do."""
_sync_data = getattr(os, "fdatasync", os.fsync)
"""Syncs a file's bytes (without its times, where the system can: Linux); fsync elsewhere."""
_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arriving-files")
"""Writes and syncs the files of arriving images, in the order they were handed over, off the event loop."""


class ArrivingFile:
    """An image's bytes written to a temporary file while they arrive, and synced to disk as they go: keeping the
    image once its answer is whole and checked then costs a last short sync and a rename, not a write and a sync
    of all its bytes. The caller checks that the bytes handed over are those of the image stored (`place` checks
    only their length). Writing and removing never block the caller: they run on the writer thread, in order."""

    def __init__(self, folder: Path) -> None:
        self._handle, self._name = tempfile.mkstemp(dir=folder, prefix=TEMPORARY_PREFIX)
        self._written = 0
        self._synced = 0
        self._last: Future[None] | None = None
        self._failure: OSError | None = None
        self._closed = False
        self._placed = False
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        """Hand on the next bytes; they are written (and every SYNC_EVERY of them synced) on the writer thread."""
        self._last = _WRITER.submit(self._write_out, data)

    def place(self, path: Path, size: int) -> bool:
        """Move the file to `path` once all its bytes are on disk: False (and the file removed) when it does not
        hold `size` bytes or a write failed; the caller then writes the image as usual (and meets the failure
        itself). Blocks until the bytes handed on are written."""
        if self._last is not None:
            self._last.result()
        with self._lock:
            if self._closed or self._failure is not None or self._written != size:
                self._remove()
                return False
            try:
                os.fsync(self._handle)
                os.close(self._handle)
                self._closed = True
                os.replace(self._name, path)
            except OSError:
                self._remove()
                return False
            self._placed = True
            return True

    def discard(self) -> None:
        """Remove the file, once the bytes handed on are written, unless it was placed."""
        _WRITER.submit(self._discarded)

    def _discarded(self) -> None:
        with self._lock:
            if not self._placed:
                self._remove()

    def _remove(self) -> None:
        if not self._closed:
            os.close(self._handle)
            self._closed = True
        Path(self._name).unlink(missing_ok=True)

    def _write_out(self, data: bytes) -> None:
        with self._lock:
            if self._failure is not None or self._closed:
                return
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._handle, view) :]
                self._written += len(data)
                if self._written - self._synced >= SYNC_EVERY:
                    _sync_data(self._handle)
                    self._synced = self._written
            except OSError as exc:
                self._failure = exc  # the image is written whole at its save instead
