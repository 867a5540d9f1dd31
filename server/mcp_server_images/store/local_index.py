"""The local store's index: one row per stored image in an SQLite file beside the images, so that listing, lookup
and search cost the same at 100,000 images as at 1,000.

The sidecars stay the truth; the index is derived from them and can always be rebuilt. The store updates it on
its own writes. Other processes write the folder too (a second server, a person copying files in): the folder's
modification time, kept in the index, tells that it changed since the index was last brought up to date; then
the folder is listed and only the sidecars that are new or were rewritten (their modification time differs) are
read, and rows whose sidecar or image went are dropped.

The file lives in a hidden folder (`.index/images.sqlite3`), not beside the images themselves: SQLite creates and
removes journal files next to its database, and those must not change the image folder's modification time.
A missing, unreadable or older-layout index is rebuilt from the sidecars with one warning; when the file cannot be
used at all (held locked by another process past the busy timeout, a folder that cannot be written), this store
keeps its index in memory instead. sqlite3 is imported at the first use: a session that never reads the store
does not load it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from .base import SIDECAR
from .records import ImageRecord

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger(__name__)

INDEX_FOLDER = ".index"
INDEX_FILE = "images.sqlite3"
LAYOUT = 1
"""The layout of the index's tables (SQLite's `user_version`): an index of any other layout is rebuilt."""
BUSY_SECONDS = 5.0
"""How long a write waits for another process's write to the index before giving up (and falling back)."""

_SCHEMA = """
CREATE TABLE images (
    sidecar TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    user TEXT,
    job_id TEXT,
    partial INTEGER NOT NULL,
    shared INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX images_id ON images (id);
CREATE INDEX images_newest ON images (created, name, user, prompt);
CREATE INDEX images_user ON images (user, created, name);
CREATE INDEX images_job ON images (job_id, created, name);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_FILTERS = {
    (False, False): "",
    (True, False): " WHERE user = ?",
    (False, True): " WHERE instr(prompt, ?) > 0",
    (True, True): " WHERE user = ? AND instr(prompt, ?) > 0",
}
"""The WHERE clause of a listing, by whether it is of one user and whether it searches prompts (the prompt column
holds the prompt lowercased, so a lowercased query finds it whatever its case)."""
_SYNCED = "folder_mtime_ns"
"""The state row holding the folder's modification time the index was last brought up to date at."""


class _Entry(NamedTuple):
    """An image as the index keeps it: its sidecar's name, its record, the sidecar's text and modification time."""

    sidecar: str
    record: ImageRecord
    text: str
    mtime_ns: int


class LocalIndex:
    """The index of one folder's images. Thread-safe: one connection, used under this object's lock."""

    def __init__(self, root: Path, locate: Callable[[str], str]) -> None:
        self._root = root
        self._locate = locate
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    @property
    def path(self) -> Path:
        return self._root / INDEX_FOLDER / INDEX_FILE

    def newest(self, *, offset: int, limit: int | None, query: str | None, user: str | None) -> list[ImageRecord]:
        """Newest first (by created, then name), filtered by prompt text (case-insensitive) and by who made them."""
        clause = _filter(user, query)
        sql = f"SELECT record FROM images{clause} ORDER BY created DESC, name DESC LIMIT ? OFFSET ?"  # noqa: S608
        return self._records(sql, (*_filtered_by(user, query), -1 if limit is None else limit, offset))

    def count(self, *, query: str | None, user: str | None) -> int:
        """How many images `newest` lists with these filters, without building their records."""
        if not self._root.is_dir():
            return 0
        self.bring_up_to_date()
        sql = f"SELECT count(*) FROM images{_filter(user, query)}"  # noqa: S608 (a constant clause, values bound)
        return int(self._rows(sql, _filtered_by(user, query))[0][0])

    def with_prefix(self, prefix: str, most: int) -> list[ImageRecord]:
        """At most `most` images whose id starts with `prefix` (lowercase hex, checked by the caller)."""
        return self._records("SELECT record FROM images WHERE id GLOB ? ORDER BY id LIMIT ?", (f"{prefix}*", most))

    def job_finals(self, job_id: str) -> list[ImageRecord]:
        """The final images of a job, oldest first."""
        sql = "SELECT record FROM images WHERE job_id = ? AND partial = 0 ORDER BY created, name"
        return self._records(sql, (_storable(job_id),))

    def has_id(self, image_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM images WHERE id = ? LIMIT 1", (image_id,)))

    def synced_at(self) -> int | None:
        """The folder's modification time when the index was last brought up to date; None when never."""
        rows = self._rows("SELECT value FROM state WHERE key = ?", (_SYNCED,))
        return int(rows[0][0]) if rows else None

    def put(self, record: ImageRecord, text: str, mtime_ns: int, *, synced: int | None) -> None:
        """Add or replace an image's row (`text`: its sidecar as written); `synced`: the folder's new modification
        time, when this write was the only change since the index was up to date (else None: the next read brings
        it up to date)."""
        self._write([_Entry(record.sidecar_name, record, text, mtime_ns)], [], synced)

    def drop(self, sidecar: str, *, synced: int | None) -> None:
        self._write([], [sidecar], synced)

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
        fresh: list[_Entry] = []
        for sidecar, entry in sidecars.items():
            try:
                mtime = entry.stat().st_mtime_ns
            except FileNotFoundError:
                continue  # deleted since it was listed: its row (if any) goes with the others
            if sidecar in known and known[sidecar][0] == mtime:
                continue
            loaded = self._load(Path(entry.path), names)
            if loaded is not None:
                fresh.append(_Entry(sidecar, *loaded, mtime))
            elif sidecar in known:
                gone.append(sidecar)
        self._write(fresh, gone, folder)

    def _load(self, sidecar: Path, names: set[str]) -> tuple[ImageRecord, str] | None:
        """The sidecar's record and text, when it is one and its image (among the folder's `names`) is there."""
        try:
            text = sidecar.read_text(encoding="utf-8")
            record = ImageRecord.from_sidecar(json.loads(text), self._locate)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable sidecar %s: %s", sidecar, exc)
            return None
        return (record, text) if record.name in names else None

    def _records(self, sql: str, values: Sequence[object]) -> list[ImageRecord]:
        if not self._root.is_dir():
            return []
        self.bring_up_to_date()
        return [ImageRecord.from_sidecar(json.loads(raw), self._locate) for (raw,) in self._rows(sql, values)]

    def _rows(self, sql: str, values: Sequence[object] = ()) -> list[Any]:
        """Run a query; an index that turns out unusable is replaced (and brought up to date) and it runs again."""
        import sqlite3

        with self._lock:
            try:
                return self._connection().execute(sql, values).fetchall()
            except (sqlite3.DatabaseError, OSError) as exc:
                self._recover(exc)
                return self._connection().execute(sql, values).fetchall()

    def _write(self, fresh: Iterable[_Entry], gone: Iterable[str], synced: int | None) -> None:
        """One transaction: drop the rows of `gone`, add or replace those of `fresh`, note the folder's time."""
        rows = [_row(entry) for entry in fresh]
        dropped = [(sidecar,) for sidecar in gone]
        import sqlite3

        with self._lock:
            try:
                self._apply(rows, dropped, synced)
            except (sqlite3.DatabaseError, OSError) as exc:
                self._recover(exc)
                self._apply(rows, dropped, synced)

    def _apply(self, rows: list[tuple[object, ...]], dropped: list[tuple[str]], synced: int | None) -> None:
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("DELETE FROM images WHERE sidecar = ?", dropped)
            db.executemany("INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            if synced is not None:
                db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (_SYNCED, synced))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = self._open()
        return self._db

    def _open(self) -> sqlite3.Connection:
        """The index file, made (or remade, when of another layout) as needed."""
        import sqlite3

        self.path.parent.mkdir(exist_ok=True)
        existed = self.path.exists()
        db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        weakref.finalize(self, db.close)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != LAYOUT:
                if existed:
                    log.warning("the image index %s has an older layout: rebuilding it from the sidecars", self.path)
                else:
                    log.info("building the image index %s from the sidecars", self.path)
                _create(db)
        except BaseException:
            db.close()
            raise
        return db

    def _recover(self, error: Exception) -> None:
        """Replace an index that failed: a damaged file by a new one, one that cannot be used (locked, not
        writable) by one in memory; then bring the new one up to date from the sidecars."""
        import sqlite3

        if self._db is not None:
            self._db.close()
            self._db = None
        damaged = isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError)
        if damaged:
            log.warning("the image index %s is damaged (%s): rebuilding it from the sidecars", self.path, error)
            try:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)  # Windows: not while another process has it
                self._db = self._open()
            except (sqlite3.DatabaseError, OSError) as again:
                error = again
        if self._db is None:
            log.warning(
                "the image index %s cannot be used (%s): this server keeps it in memory, read from the sidecars",
                self.path,
                error,
            )
            self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            weakref.finalize(self, self._db.close)
            _create(self._db)
        self._reconcile(os.stat(self._root).st_mtime_ns)


def _create(db: sqlite3.Connection) -> None:
    """Make the tables of this layout, dropping whatever an index of another layout had; once, whoever races."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != LAYOUT:
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            for (table,) in tables.fetchall():
                db.execute(f'DROP TABLE "{table}"')
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {LAYOUT}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _filter(user: str | None, query: str | None) -> str:
    """One of `_FILTERS`' constant clauses: what a user or a query holds is always bound, never in the SQL."""
    return _FILTERS[user is not None, bool(query)]


def _filtered_by(user: str | None, query: str | None) -> list[str]:
    """The values `_filter`'s clause takes, in its order."""
    return ([] if user is None else [_storable(user)]) + ([_storable(query.lower())] if query else [])


def _row(entry: _Entry) -> tuple[object, ...]:
    """An image's row: the columns reads select and order by, and the sidecar's text to build its record from."""
    record = entry.record
    return (
        entry.sidecar,
        _storable(record.id),
        _storable(record.name),
        _storable(record.created),
        _storable(record.user),
        _storable(record.job_id),
        int(record.partial),
        int(record.shared),
        _storable((record.prompt or "").lower()),
        entry.mtime_ns,
        entry.text,
    )


@overload
def _storable(text: str) -> str: ...
@overload
def _storable(text: None) -> None: ...
def _storable(text: str | None) -> str | None:
    """Text SQLite can hold: a lone surrogate (JSON allows one) becomes U+FFFD, in stored values and queries alike."""
    return None if text is None else text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
