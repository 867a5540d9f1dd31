"""The local store: images in a folder on this machine, the default for one user.

Every image lands as `<UTC time>-<id>.<ext>` with a sidecar `<UTC time>-<id>.json` holding its metadata. Writes
are atomic (temporary file, fsync, rename) and the image is written before its sidecar, so a sidecar always
points at a complete image and a crash never leaves a half image that looks finished; the temporary files such
a crash leaves behind are removed at the next start. Files are private to the user (mode 0600). Ids are 8 hex
characters, unique in the directory, and stay valid across sessions because they live in the file names; a
unique prefix of at least 4 characters finds an image too. Listings, lookups and search read an index kept in a
hidden folder beside the images (see local_index.py); job records and idempotency keys live in hidden folders
too (see local_jobs.py).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

from ..clock import Clock
from ..errors import ImageServerError
from ..imaging.info import ImageInfo
from .base import (
    ID_LENGTH,
    LEDGER_CHECKPOINT,
    JobBoard,
    LedgerEntry,
    checked_month,
    created_text,
    decode_entry,
    encode_entry,
    ledger_name,
    month_entries,
    stored_before,
)
from .files import TEMPORARY_PREFIX, ArrivingFile, create_exclusive, write_atomic
from .local_index import INDEX_FOLDER, LocalIndex
from .local_jobs import LocalJobBoard
from .records import ImageRecord, NewImage, new_record

log = logging.getLogger(__name__)

LEDGER_FOLDER = ".ledger"
"""The spend ledger, one folder per month and one file per entry; hidden, so no image path can name it."""
STALE_TEMPORARY_SECONDS = 300.0
"""A temporary file this old is left from a crash: writes take seconds, even by another server on the folder."""


class LocalStore:
    """Stored images on disk. Methods block on file I/O; async callers run them in a worker thread."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self.root = root
        self._clock = clock
        self._lock = threading.Lock()
        self._index = LocalIndex(root, self._locate)
        self._ledger: dict[tuple[str, int], LedgerEntry] = {}
        """Ledger entries read so far; an entry never changes once written."""
        self._board = LocalJobBoard(root)

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def folder(self) -> Path:
        return self.root

    @property
    def jobs(self) -> JobBoard:
        return self._board

    @property
    def _hidden(self) -> Path:
        """The index's hidden folder, where the image and sidecar writes keep their temporaries: there, a start's
        sweep finds what a crash left without listing every image, and a write in progress changes the image
        folder's modification time only when its file is renamed into place."""
        return self.root / INDEX_FOLDER

    def save(self, data: bytes, info: ImageInfo, meta: NewImage, *, arrived: ArrivingFile | None = None) -> ImageRecord:
        """Write the image (or move the file it arrived into in place), then its sidecar, each atomically; return
        the record."""
        self._hidden.mkdir(parents=True, exist_ok=True)
        with self._lock:
            current = self._index_current()
            record = self._new_record(data, info, meta)
        image_id = record.id
        sidecar = self.root / record.sidecar_name
        text = json.dumps(record.sidecar(), indent=2)
        if arrived is None or not arrived.place(self.root / record.name, len(data)):
            write_atomic(self.root / record.name, data, temporaries=self._hidden)
        write_atomic(sidecar, text.encode(), temporaries=self._hidden)
        with self._lock:
            self._index.put(record, text, _mtime(sidecar), synced=_mtime(self.root) if current else None)
        log.info("stored image %s at %s (%d bytes)", image_id, record.location, len(data))
        return record

    def arriving_file(self) -> ArrivingFile:
        self._hidden.mkdir(parents=True, exist_ok=True)
        return ArrivingFile(self._hidden)

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_SECONDS) -> int:
        """Delete the temporary files of writes a crash interrupted; return how many there were.

        Their age is taken against the folder's own time (see `_folder_now`), not the wall clock: the file system
        dates them, and a clock that differs from its (a network file system, a moved clock) must not make fresh
        temporaries of another server look stale. That time is taken in the index's hidden folder: a file made and
        removed among the images would change their folder's time, and the first listing would then look the whole
        folder over for changes.

        Writes keep their temporaries in that hidden folder, so it is the one looked through at every start. The
        image folder itself is looked through only when it changed since the index last read it: a temporary made
        there (by an older version of this server, or by a save_to copy into it) changed its time, and a folder
        that did not change holds none that was not there when it was last swept. Listing 100,000 images took
        100 ms at every start.
        """
        if not self.root.is_dir():
            return 0
        self._hidden.mkdir(exist_ok=True)
        cutoff = _folder_now(self._hidden) - older_than
        removed = _remove_older(self._hidden, cutoff)
        if self._index.synced_at() != _mtime(self.root):
            removed += _remove_older(self.root, cutoff)
        if removed:
            log.info("removed %d temporary file(s) left in %s by an interrupted write", removed, self.root)
        return removed

    def get(self, image_id: str, *, user: str | None = None) -> ImageRecord:
        return self._index.find(image_id, user, str(self.root))

    def ids_starting(self, prefix: str, most: int, *, user: str | None = None) -> list[str]:
        return [record.id for record in self._index.with_prefix(prefix, most, user)]

    def job_images(self, job_id: str) -> list[ImageRecord]:
        """The final images a job stored, oldest first: how a finished job is found again after a restart."""
        return self._index.job_finals(job_id)

    def made_before(self, before: float, limit: int) -> list[ImageRecord]:
        return stored_before(self._index.made_before(created_text(before), limit), before)

    def read(self, record: ImageRecord) -> bytes:
        return (self.root / record.name).read_bytes()

    def recent(
        self, *, offset: int = 0, limit: int | None = None, query: str | None = None, user: str | None = None
    ) -> list[ImageRecord]:
        return self._index.newest(offset=offset, limit=limit, query=query, user=user)

    def count(self, *, query: str | None = None, user: str | None = None) -> int:
        return self._index.count(query=query, user=user)

    def link(self, record: ImageRecord) -> str | None:
        return None

    def mark_shared(self, record: ImageRecord, *, shared: bool) -> ImageRecord:
        changed = replace(record, shared=shared)
        sidecar = self.root / record.sidecar_name
        with self._lock:
            current = self._index_current()
            text = json.dumps(changed.sidecar(), indent=2)
            write_atomic(sidecar, text.encode(), temporaries=self._hidden)
            self._index.put(changed, text, _mtime(sidecar), synced=_mtime(self.root) if current else None)
        return changed

    def delete(self, record: ImageRecord) -> None:
        """The sidecar first: an image file without one is no longer listed, so a crash in between hides it."""
        with self._lock:
            current = self._index_current()
            (self.root / record.sidecar_name).unlink(missing_ok=True)
            (self.root / record.name).unlink(missing_ok=True)
            self._index.drop(record.sidecar_name, synced=_mtime(self.root) if current else None)
        log.info("deleted image %s (%s)", record.id, record.location)

    def ping(self) -> None:
        """The folder (or the nearest folder above it, where it is made at the first image) is writable."""
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not (folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)):
            raise ImageServerError(f"The image folder {self.root} cannot be written to (check it and its rights).")

    def compact(self, before: float) -> int:
        return 0  # ids live in the file names: there is no bookkeeping of them to compact

    def ledger(self, month: str, after: int = -1) -> dict[int, LedgerEntry]:
        """The month's entries above `after`; only files not read before are parsed. The whole month is listed;
        after a given number, entries are opened by number until one is missing (numbers are taken in order, each
        only once the one before it exists, so there is no gap to miss)."""
        folder = self._ledger_folder(month)
        if after < 0:
            if not folder.is_dir():
                return {}
            with os.scandir(folder) as found:
                listed = ((item.name, item.path) for item in found)
                return month_entries(month, listed, self._ledger, _read_entry)
        names = []
        number = after + 1
        while (month, number) in self._ledger or (folder / ledger_name(number)).exists():
            names.append((ledger_name(number), str(folder / ledger_name(number))))
            number += 1
        return month_entries(month, names, self._ledger, _read_entry)

    def ledger_checkpoint(self, month: str) -> bytes | None:
        try:
            return (self._ledger_folder(month) / LEDGER_CHECKPOINT).read_bytes()
        except FileNotFoundError:
            return None

    def save_ledger_checkpoint(self, month: str, data: bytes) -> None:
        write_atomic(self._ledger_folder(month) / LEDGER_CHECKPOINT, data)

    def append_ledger(self, month: str, number: int, entry: LedgerEntry) -> bool:
        """Write the entry complete under a temporary name, then hard-link it to its number: the link fails when
        another process (or thread) took the number first, and nobody ever sees a half-written entry.

        Every entry, of every kind, is on disk before this returns: the file is synced, then the folders that name
        it, so a power failure can lose no reservation, settle or release that a caller was told is written.
        """
        folder = self._ledger_folder(month)
        folder.mkdir(parents=True, exist_ok=True)
        if not create_exclusive(folder / ledger_name(number), encode_entry(entry), sync=True):
            return False
        sync_folder(folder)
        sync_folder(folder.parent)
        self._ledger[(month, number)] = entry
        return True

    def _ledger_folder(self, month: str) -> Path:
        return self.root / LEDGER_FOLDER / checked_month(month)

    def _locate(self, name: str) -> str:
        return str(self.root / name)

    def _index_current(self) -> bool:
        """Whether the index holds every image in the folder: then the index stays so through this store's own
        write, by noting the folder's time after it (else the next read brings the index up to date)."""
        try:
            return self._index.synced_at() == _mtime(self.root)
        except FileNotFoundError:
            return False

    def _new_record(self, data: bytes, info: ImageInfo, meta: NewImage) -> ImageRecord:
        """The record of a new image: an id no indexed image has, and file names nothing in the folder has (the
        lock is held).

        The index is not brought up to date first: while other saves keep changing the folder, that would scan it
        on every save. An image another server stored since the last scan shares the new id only by a one in four
        billion chance (32 random bits), and never its files: a name already taken gets another id.
        """
        while True:
            candidate = secrets.token_hex(ID_LENGTH // 2)
            if self._index.has_id(candidate):
                continue
            record = new_record(
                meta, info, image_id=candidate, size=len(data), locate=self._locate, now=self._clock.now()
            )
            if not (self.root / record.name).exists() and not (self.root / record.sidecar_name).exists():
                return record


def _remove_older(folder: Path, cutoff: float) -> int:
    """Delete the temporary files in `folder` last changed before `cutoff`; return how many there were."""
    removed = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            temporary = entry.name.startswith(TEMPORARY_PREFIX) and entry.is_file(follow_symlinks=False)
            if temporary and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed


def _folder_now(folder: Path) -> float:
    """The folder's idea of the current time: the modification time of a file created in it now. The file is a
    temporary, so should this process die before deleting it, the next start removes it with the rest."""
    with tempfile.NamedTemporaryFile(dir=folder, prefix=TEMPORARY_PREFIX) as probe:
        return os.fstat(probe.fileno()).st_mtime


def sync_folder(folder: Path) -> None:
    """Make a folder's entries durable (a new name in it survives a power failure). Windows has no such call: its
    file system journals names by itself."""
    if os.name == "nt":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _mtime(path: Path) -> int:
    return os.stat(path).st_mtime_ns


def _read_entry(path: str) -> LedgerEntry | None:
    return decode_entry(Path(path).read_bytes(), path)
