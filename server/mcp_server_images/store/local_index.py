"""The local store's index: one row per stored image in an SQLite file beside the images, so that listing, lookup
and search cost the same at 100,000 images as at 1,000.

The sidecars stay the truth; the index is derived from them and can always be rebuilt. The store updates it on
its own writes. Other processes write the folder too (a second server, a person copying files in): the folder's
modification time, kept in the index, tells that it changed since the index was last brought up to date; then
the folder is listed and only the sidecars that are new or were rewritten (their modification time differs) are
read, and rows whose sidecar or image went are dropped.

The file lives in a hidden folder (`.index/images.sqlite3`), not beside the images themselves: SQLite creates and
removes journal files next to its database, and those must not change the image folder's modification time.
A missing, unreadable or older-layout index is rebuilt from the sidecars with one warning (the table and its
fallbacks are image_table.py's).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

from .base import SIDECAR
from .image_table import Entry, ImageTable
from .records import ImageRecord

log = logging.getLogger(__name__)

INDEX_FOLDER = ".index"
INDEX_FILE = "images.sqlite3"
_SYNCED = "folder_mtime_ns"
"""The state row holding the folder's modification time the index was last brought up to date at."""


class LocalIndex(ImageTable):
    """The index of one folder's images."""

    def __init__(self, root: Path, locate: Callable[[str], str]) -> None:
        super().__init__(root / INDEX_FOLDER / INDEX_FILE, locate)
        self._root = root

    def synced_at(self) -> int | None:
        """The folder's modification time when the index was last brought up to date; None when never."""
        return self.state(_SYNCED)

    def put(self, record: ImageRecord, text: str, mtime_ns: int, *, synced: int | None) -> None:
        """Add or replace an image's row (`text`: its sidecar as written); `synced`: the folder's new modification
        time, when this write was the only change since the index was up to date (else None: the next read brings
        it up to date)."""
        self._write([Entry(record.sidecar_name, record, text, mtime_ns)], [], _synced(synced))

    def drop(self, sidecar: str, *, synced: int | None) -> None:
        self._write([], [sidecar], _synced(synced))

    def bring_up_to_date(self) -> None:
        """Read what changed in the folder since the index was last brought up to date, if anything did."""
        with self._lock:
            synced = self.synced_at()
            try:
                folder = os.stat(self._root).st_mtime_ns
            except FileNotFoundError:
                return
            if folder != synced:
                self._reconcile(folder)

    def _refresh(self) -> bool:
        if not self._root.is_dir():
            return False
        self.bring_up_to_date()
        return True

    def _rebuild(self) -> None:
        self._reconcile(os.stat(self._root).st_mtime_ns)

    def _reconcile(self, folder: int) -> None:
        """List the folder: read the sidecars that are new or rewritten, drop rows whose sidecar or image went."""
        names: set[str] = set()
        sidecars: dict[str, os.DirEntry[str]] = {}
        with os.scandir(self._root) as entries:
            for entry in entries:
                names.add(entry.name)
                if SIDECAR.match(entry.name):
                    sidecars[entry.name] = entry
        known = {row[0]: (row[1], row[2]) for row in self._rows("SELECT sidecar, mtime_ns, name FROM images")}
        gone = [sidecar for sidecar, (_mtime, name) in known.items() if sidecar not in sidecars or name not in names]
        fresh: list[Entry] = []
        for sidecar, entry in sidecars.items():
            try:
                mtime = entry.stat().st_mtime_ns
            except FileNotFoundError:
                continue  # deleted since it was listed: its row (if any) goes with the others
            if sidecar in known and known[sidecar][0] == mtime:
                continue
            loaded = self._load(Path(entry.path), names)
            if loaded is not None:
                fresh.append(Entry(sidecar, *loaded, mtime))
            elif sidecar in known:
                gone.append(sidecar)
        self._write(fresh, gone, {_SYNCED: folder})

    def _load(self, sidecar: Path, names: set[str]) -> tuple[ImageRecord, str] | None:
        """The sidecar's record and text, when it is one and its image (among the folder's `names`) is there."""
        try:
            text = sidecar.read_text(encoding="utf-8")
            record = ImageRecord.from_sidecar(json.loads(text), self._locate)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable sidecar %s: %s", sidecar, exc)
            return None
        return (record, text) if record.name in names else None


def _synced(folder: int | None) -> dict[str, int]:
    return {} if folder is None else {_SYNCED: folder}
