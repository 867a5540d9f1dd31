"""The image store: the only code that touches the output directory.

Every image lands as `<UTC time>-<id>.<ext>` with a sidecar `<UTC time>-<id>.json` holding its metadata. Writes
are atomic (temporary file, fsync, rename) and the image is written before its sidecar, so a sidecar always
points at a complete image and a crash never leaves a half image that looks finished; the temporary files such
a crash leaves behind are removed at the next start. Files are private to the user (mode 0600). Ids are 8 hex
characters, unique in the directory, and stay valid across sessions because they live in the file names; a
unique prefix of at least 4 characters finds an image too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ImageServerError
from ..imaging.info import ImageInfo
from .records import ImageRecord, NewImage

log = logging.getLogger(__name__)

ID_LENGTH = 8
MIN_PREFIX = 4
TEMPORARY_PREFIX = ".partial-"
STALE_TEMPORARY_SECONDS = 300.0
"""A temporary file this old is left from a crash: writes take seconds, even by another server on the folder."""
_SIDECAR = re.compile(r"^\d{8}-\d{6}-(?P<id>[0-9a-f]{8})\.json$")


class ImageNotFoundError(ImageServerError):
    """No stored image has the id (or prefix) asked for."""


class ImageStore:
    """Stored images on disk. Methods block on file I/O; async callers run them in a worker thread."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._index: dict[str, tuple[int, ImageRecord]] = {}
        """Sidecar name -> (its modification time, its record): every complete image in the folder."""
        self._indexed_folder: int | None = None
        """The folder's modification time when the index was last brought up to date."""

    def save(self, data: bytes, info: ImageInfo, meta: NewImage) -> ImageRecord:
        """Write the image, then its sidecar, each atomically; return the record."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._records()  # bring the index up to date, so the new id is checked against every stored one
        now = datetime.now(UTC)
        with self._lock:
            current = self._indexed_folder is not None and self._indexed_folder == _mtime(self.root)
            image_id = self._new_id()
        stem = f"{now:%Y%m%d-%H%M%S}-{image_id}"
        record = ImageRecord(
            **{f.name: getattr(meta, f.name) for f in fields(NewImage)},
            id=image_id,
            path=self.root / f"{stem}.{info.extension}",
            mime_type=info.mime_type,
            width=info.width,
            height=info.height,
            bytes=len(data),
            created=now.isoformat(timespec="microseconds"),
        )
        sidecar = self.root / f"{stem}.json"
        write_atomic(record.path, data)
        write_atomic(sidecar, json.dumps(record.sidecar(), indent=2).encode())
        with self._lock:
            self._index[sidecar.name] = (_mtime(sidecar), record)
            if current:
                # Only this write changed the folder since it was indexed, so the index is still complete.
                self._indexed_folder = _mtime(self.root)
        log.info("stored image %s at %s (%d bytes)", image_id, record.path, len(data))
        return record

    def remove_stale_temporaries(self, older_than: float = STALE_TEMPORARY_SECONDS) -> int:
        """Delete the temporary files of writes a crash interrupted; return how many there were."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than
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
        """The image with this id, or with this unique id prefix (at least 4 characters)."""
        wanted = image_id.strip().lower()
        if len(wanted) < MIN_PREFIX or not re.fullmatch(r"[0-9a-f]+", wanted):
            raise ImageNotFoundError(f"{image_id!r} is not an image id (ids are {ID_LENGTH} hex characters).")
        matches = [record for record in self._records() if record.id.startswith(wanted)]
        if not matches:
            raise ImageNotFoundError(
                f"No stored image has id {image_id!r} in {self.root}. Call list_images to see the stored ids."
            )
        if len(matches) > 1:
            ids = ", ".join(record.id for record in matches[:5])
            raise ImageNotFoundError(f"Id prefix {image_id!r} matches several images ({ids}); give more characters.")
        return matches[0]

    def job_images(self, job_id: str) -> list[ImageRecord]:
        """The final images a job stored, oldest first: how a finished job is found again after a restart.

        A partial image kept from a stream that broke off is not a result, so it does not count.
        """
        finals = (r for r in self._records() if r.job_id == job_id and not r.partial)
        return sorted(finals, key=lambda r: (r.created, r.path.name))

    def read(self, record: ImageRecord) -> bytes:
        return record.path.read_bytes()

    def recent(self, *, offset: int = 0, limit: int | None = None, query: str | None = None) -> list[ImageRecord]:
        """Stored images, newest first, optionally those whose prompt contains `query` (case-insensitive)."""
        records = sorted(self._records(), key=lambda r: (r.created, r.path.name), reverse=True)
        if query:
            needle = query.lower()
            records = [r for r in records if needle in (r.prompt or "").lower()]
        end = None if limit is None else offset + limit
        return records[offset:end]

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
                if not _SIDECAR.match(entry.name):
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
            record = ImageRecord.from_sidecar(json.loads(sidecar.read_text(encoding="utf-8")), sidecar.parent)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable sidecar %s: %s", sidecar, exc)
            return None
        return record if record.path.is_file() else None

    def _new_id(self) -> str:
        """An id no indexed image has (the lock is held); 32 random bits keep other writers' ids apart too."""
        taken = {record.id for _mtime_ns, record in self._index.values()}
        while True:
            candidate = secrets.token_hex(ID_LENGTH // 2)
            if candidate not in taken:
                return candidate


def _mtime(path: Path) -> int:
    return os.stat(path).st_mtime_ns


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder, fsync, then rename: readers never see half a file."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
