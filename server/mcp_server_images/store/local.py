"""The local store: images in a folder on this machine, the default for one user.

Every image lands as `<UTC time>-<id>.<ext>` with a sidecar `<UTC time>-<id>.json` holding its metadata. Writes
are atomic (temporary file, fsync, rename) and the image is written before its sidecar, so a sidecar always
points at a complete image and a crash never leaves a half image that looks finished; the temporary files such
a crash leaves behind are removed at the next start. Files are private to the user (mode 0600). Ids are 8 hex
characters, unique in the directory, and stay valid across sessions because they live in the file names; a
unique prefix of at least 4 characters finds an image too. Job records and idempotency keys live in hidden folders
beside the images (see local_jobs.py).
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
    SIDECAR,
    JobBoard,
    LedgerEntry,
    checked_month,
    decode_entry,
    encode_entry,
    find,
    job_finals,
    ledger_name,
    month_entries,
    newest,
)
from .files import TEMPORARY_PREFIX, create_exclusive, write_atomic
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
        self._index: dict[str, tuple[int, ImageRecord]] = {}
        """Sidecar name -> (its modification time, its record): every complete image in the folder."""
        self._indexed_folder: int | None = None
        """The folder's modification time when the index was last brought up to date."""
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

    def save(self, data: bytes, info: ImageInfo, meta: NewImage) -> ImageRecord:
        """Write the image, then its sidecar, each atomically; return the record."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            current = self._indexed_folder is not None and self._indexed_folder == _mtime(self.root)
            record = self._new_record(data, info, meta)
        image_id = record.id
        sidecar = self.root / record.sidecar_name
        write_atomic(self.root / record.name, data)
        write_atomic(sidecar, json.dumps(record.sidecar(), indent=2).encode())
        with self._lock:
            self._index[sidecar.name] = (_mtime(sidecar), record)
            if current:
                # Only this write changed the folder since it was indexed, so the index is still complete.
                self._indexed_folder = _mtime(self.root)
        log.info("stored image %s at %s (%d bytes)", image_id, record.location, len(data))
        return record

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_SECONDS) -> int:
        """Delete the temporary files of writes a crash interrupted; return how many there were.

        Their age is taken against the folder's own time (see `_folder_now`), not the wall clock: the file system
        dates them, and a clock that differs from its (a network file system, a moved clock) must not make fresh
        temporaries of another server look stale.
        """
        if not self.root.is_dir():
            return 0
        cutoff = _folder_now(self.root) - older_than
        removed = 0
        with os.scandir(self.root) as entries:
            for entry in entries:
                temporary = entry.name.startswith(TEMPORARY_PREFIX) and entry.is_file(follow_symlinks=False)
                if temporary and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        if removed:
            log.info("removed %d temporary file(s) left in %s by an interrupted write", removed, self.root)
        return removed

    def get(self, image_id: str) -> ImageRecord:
        return find(self._records(), image_id, str(self.root))

    def job_images(self, job_id: str) -> list[ImageRecord]:
        """The final images a job stored, oldest first: how a finished job is found again after a restart."""
        return job_finals(self._records(), job_id)

    def read(self, record: ImageRecord) -> bytes:
        return (self.root / record.name).read_bytes()

    def recent(
        self, *, offset: int = 0, limit: int | None = None, query: str | None = None, user: str | None = None
    ) -> list[ImageRecord]:
        return newest(self._records(), offset=offset, limit=limit, query=query, user=user)

    def link(self, record: ImageRecord) -> str | None:
        return None

    def mark_shared(self, record: ImageRecord, *, shared: bool) -> ImageRecord:
        changed = replace(record, shared=shared)
        sidecar = self.root / record.sidecar_name
        write_atomic(sidecar, json.dumps(changed.sidecar(), indent=2).encode())
        with self._lock:
            self._index[sidecar.name] = (_mtime(sidecar), changed)
        return changed

    def delete(self, record: ImageRecord) -> None:
        """The sidecar first: an image file without one is no longer listed, so a crash in between hides it."""
        (self.root / record.sidecar_name).unlink(missing_ok=True)
        (self.root / record.name).unlink(missing_ok=True)
        with self._lock:
            self._index.pop(record.sidecar_name, None)
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

    def _records(self) -> list[ImageRecord]:
        """Every complete image. The index is read again only when the folder changed behind this store's back."""
        with self._lock:
            try:
                folder = _mtime(self.root)
            except FileNotFoundError:
                return []
            if folder != self._indexed_folder:
                self._reindex()
                self._indexed_folder = folder
            return [record for _mtime_ns, record in self._index.values()]

    def _reindex(self) -> None:
        """Scan the sidecars; one whose modification time is unchanged is not parsed again."""
        fresh: dict[str, tuple[int, ImageRecord]] = {}
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not SIDECAR.match(entry.name):
                    continue
                mtime = entry.stat().st_mtime_ns
                cached = self._index.get(entry.name)
                if cached is None or cached[0] != mtime:
                    record = self._load(Path(entry.path))
                    if record is None:
                        continue
                    cached = (mtime, record)
                fresh[entry.name] = cached
        self._index = fresh

    def _load(self, sidecar: Path) -> ImageRecord | None:
        try:
            record = ImageRecord.from_sidecar(json.loads(sidecar.read_text(encoding="utf-8")), self._locate)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable sidecar %s: %s", sidecar, exc)
            return None
        return record if (self.root / record.name).is_file() else None

    def _new_record(self, data: bytes, info: ImageInfo, meta: NewImage) -> ImageRecord:
        """The record of a new image: an id no indexed image has, and file names nothing in the folder has (the
        lock is held).

        The index is not brought up to date first: while other saves keep changing the folder, that would scan it
        on every save. An image another server stored since the last scan shares the new id only by a one in four
        billion chance (32 random bits), and never its files: a name already taken gets another id.
        """
        taken = {record.id for _mtime_ns, record in self._index.values()}
        while True:
            candidate = secrets.token_hex(ID_LENGTH // 2)
            if candidate in taken:
                continue
            record = new_record(
                meta, info, image_id=candidate, size=len(data), locate=self._locate, now=self._clock.now()
            )
            if not (self.root / record.name).exists() and not (self.root / record.sidecar_name).exists():
                return record


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
