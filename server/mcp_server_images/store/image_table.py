"""One row per stored image in an SQLite file, so that listing, lookup, search and expiry cost the same at 100,000
images as at 1,000: the table both stores keep their index in.

The local store keeps it beside its images (local_index.py) and brings it up to date from the folder; the S3 store
keeps it in this machine's cache and brings it up to date from the bucket's journal of changes (s3_index.py).
Either way the table is derived and can always be rebuilt: a subclass says how (`_refresh` before a read, `_rebuild`
after the file had to be replaced). A prompt search reads the images its query's rarest trigrams name, through
the search's tables beside the rows (image_search.py).

A damaged or older-layout file is replaced with one warning; when the file cannot be used at all (held locked by
another process past the busy timeout, a folder that cannot be written), the index lives in memory instead.
sqlite3 is imported at the first use: a session that never reads the store does not load it.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from . import image_search
from .base import find, id_prefix
from .records import ImageRecord

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger(__name__)

LAYOUT = 2
"""The layout of the index's tables (SQLite's `user_version`): an index of any other layout is rebuilt (layout 2
added the prompt search's tables, image_search.py)."""
BUSY_SECONDS = 5.0
"""How long a write waits for another process's write to the index before giving up (and falling back)."""

_SCHEMA = (
    """CREATE TABLE images (
    number INTEGER PRIMARY KEY,
    sidecar TEXT NOT NULL UNIQUE,
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
)""",
    "CREATE INDEX images_id ON images (id)",
    "CREATE INDEX images_newest ON images (created, name, user, prompt)",
    "CREATE INDEX images_user ON images (user, created, name)",
    "CREATE INDEX images_job ON images (job_id, created, name)",
    "CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
"""The index's tables. `sidecar` names the image's sidecar (its file in the folder, its key in the bucket);
`number` is the row's lasting id, which the search's table refers to (image_search.py); the prompt column holds
the prompt lowercased, so a lowercased query finds it whatever its case."""
_COLUMNS = ("sidecar", "id", "name", "created", "user", "job_id", "partial", "shared", "prompt", "mtime_ns", "record")
"""The columns `_row` gives values for, in its order (`number` is SQLite's to give)."""
_INSERT = f"INSERT INTO images ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"  # noqa: S608
_PROMPT = _COLUMNS.index("prompt")
_NEWEST = " ORDER BY images.created DESC, images.name DESC"
_PREFIX = {
    False: "SELECT record FROM images WHERE id GLOB ? ORDER BY id LIMIT ?",
    True: "SELECT record FROM images WHERE id GLOB ? AND user = ? ORDER BY id LIMIT ?",
}


class Entry(NamedTuple):
    """An image as the index keeps it: its sidecar's name, its record, the sidecar's text and a version of it (the
    local store: the sidecar's modification time; the S3 store: 0, its journal says what changed)."""

    sidecar: str
    record: ImageRecord
    text: str
    mtime_ns: int = 0


class ImageTable:
    """The index of one store's images. Thread-safe: one connection, used under this object's lock."""

    def __init__(self, path: Path, locate: Callable[[str], str]) -> None:
        self.path = path
        self._locate = locate
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._searching = False
        """Whether the index in use has the search's tables."""

    def newest(self, *, offset: int, limit: int | None, query: str | None, user: str | None) -> list[ImageRecord]:
        """Newest first (by created, then name), filtered by prompt text (case-insensitive) and by who made them."""
        if not self._refresh():
            return []
        source, values = self._filtered(user, query, None if limit is None else offset + limit)
        sql = f"SELECT images.record FROM {source}{_NEWEST} LIMIT ? OFFSET ?"  # noqa: S608 (constant parts)
        return self._records(sql, (*values, -1 if limit is None else limit, offset))

    def count(self, *, query: str | None, user: str | None) -> int:
        """How many images `newest` lists with these filters, without building their records."""
        if not self._refresh():
            return 0
        source, values = self._filtered(user, query, None)
        return int(self._rows(f"SELECT count(*) FROM {source}", values)[0][0])  # noqa: S608 (constant parts)

    def find(self, image_id: str, user: str | None, where: str) -> ImageRecord:
        """The image with this id or unique id prefix (with `user`, among that user's images): five candidates at
        most, enough to tell a unique prefix from an ambiguous one and to name some."""
        return find(self.with_prefix(id_prefix(image_id), 5, user), image_id, where)

    def with_prefix(self, prefix: str, most: int, user: str | None = None) -> list[ImageRecord]:
        """At most `most` images whose id starts with `prefix` (lowercase hex, checked by the caller); with `user`,
        only images that user made."""
        if not self._refresh():
            return []
        values = (f"{prefix}*", most) if user is None else (f"{prefix}*", _storable(user), most)
        return self._records(_PREFIX[user is not None], values)

    def made_before(self, created: str, most: int) -> list[ImageRecord]:
        """At most `most` images whose `created` sorts before `created` (the same ISO form), oldest first."""
        if not self._refresh():
            return []
        sql = "SELECT record FROM images WHERE created < ? ORDER BY created, name LIMIT ?"
        return self._records(sql, (created, most))

    def job_finals(self, job_id: str) -> list[ImageRecord]:
        """The final images of a job, oldest first."""
        if not self._refresh():
            return []
        sql = "SELECT record FROM images WHERE job_id = ? AND partial = 0 ORDER BY created, name"
        return self._records(sql, (_storable(job_id),))

    def has_id(self, image_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM images WHERE id = ? LIMIT 1", (image_id,)))

    def state(self, key: str) -> int | None:
        """A number the subclass keeps beside the rows (how far the index is up to date); None when never set."""
        rows = self._rows("SELECT value FROM state WHERE key = ?", (key,))
        return int(rows[0][0]) if rows else None

    def _refresh(self) -> bool:
        """Bring the index up to date before a read; False when the store holds nothing yet (no read needed)."""
        raise NotImplementedError

    def _rebuild(self) -> None:
        """Fill a new, empty index (one that replaced a file that failed) from the store itself."""
        raise NotImplementedError

    def _filtered(self, user: str | None, query: str | None, wanted: int | None) -> tuple[str, list[str]]:
        """The rows a listing reads (`images` or the search's candidates joined to it) and its WHERE clause, all of
        constant text, and the values they take; `wanted`: how many images, from the newest, are asked for."""
        needle = _storable(query.lower()) if query else None
        conditions: list[str] = []
        values: list[str] = []
        source = "images"
        if needle is not None:
            matching = self._candidates(needle, wanted)
            if matching is not None:
                source = image_search.SEARCHED
                conditions.append(image_search.CANDIDATES)
                values.append(matching)
            conditions.append("instr(images.prompt, ?) > 0")
            values.append(needle)
        if user is not None:
            conditions.append("images.user = ?")
            values.append(_storable(user))
        return source + "".join(f" {'AND' if n else 'WHERE'} {c}" for n, c in enumerate(conditions)), values

    def _candidates(self, needle: str, wanted: int | None) -> str | None:
        """The search's FTS5 query for `needle`, or None when it reads newest first (see image_search.py)."""
        if not self._searching:
            return None
        counts = {gram: self._images_with(gram) for gram in image_search.trigrams(needle)}
        return image_search.candidates(counts, self._images_with(image_search.EVERY), wanted)

    def _images_with(self, gram: str) -> int:
        """How many images' prompts hold the trigram, by the search's count."""
        found = self._rows("SELECT images FROM trigrams WHERE gram = ?", (gram,))
        return int(found[0][0]) if found else 0

    def _records(self, sql: str, values: Sequence[object]) -> list[ImageRecord]:
        """The records of the rows a query selects (their sidecars' text); the caller brought the index up to date."""
        return [ImageRecord.from_sidecar(json.loads(raw), self._locate) for (raw,) in self._rows(sql, values)]

    def _rows(self, sql: str, values: Sequence[object] = ()) -> list[Any]:
        """Run a query; an index that turns out unusable is replaced (and rebuilt) and it runs again."""
        import sqlite3

        with self._lock:
            try:
                return self._connection().execute(sql, values).fetchall()
            except (sqlite3.DatabaseError, OSError) as exc:
                self._recover(exc)
                return self._connection().execute(sql, values).fetchall()

    def _write(
        self,
        fresh: Iterable[Entry],
        gone: Iterable[str],
        state: dict[str, int],
        *,
        replace_all: bool = False,
        expect: tuple[str, int | None] | None = None,
    ) -> bool:
        """One transaction: drop the rows of `gone` (every row, with `replace_all`), add or replace those of
        `fresh`, set the `state` numbers. With `expect` (a state key and its value), only if that state still has
        that value (another process sharing the file may have moved it): False when it had not."""
        rows = list({entry.sidecar: _row(entry) for entry in fresh}.values())  # one row a sidecar: the last
        dropped = [(sidecar,) for sidecar in gone]
        import sqlite3

        with self._lock:
            try:
                return self._apply(rows, dropped, state, replace_all=replace_all, expect=expect)
            except (sqlite3.DatabaseError, OSError) as exc:
                self._recover(exc)
                return self._apply(rows, dropped, state, replace_all=replace_all, expect=expect)

    def _apply(
        self,
        rows: list[tuple[object, ...]],
        dropped: list[tuple[str]],
        state: dict[str, int],
        *,
        replace_all: bool,
        expect: tuple[str, int | None] | None,
    ) -> bool:
        """`_write`'s transaction. A row replaced is dropped and added again; the search's tables follow every row
        dropped and added (image_search.py)."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            if expect is not None:
                found = db.execute("SELECT value FROM state WHERE key = ?", (expect[0],)).fetchone()
                if (None if found is None else int(found[0])) != expect[1]:
                    db.execute("ROLLBACK")
                    return False
            if replace_all:
                self._drop_all(db)
            leaving = dropped + [(str(row[0]),) for row in rows]
            left = image_search.take_out(db, leaving) if self._searching else []
            db.executemany("DELETE FROM images WHERE sidecar = ?", leaving)
            first = db.execute("SELECT coalesce(max(number), 0) + 1 FROM images").fetchone()[0]
            db.executemany(_INSERT, rows)
            if self._searching:
                image_search.put_in(db, first)
                image_search.count_changes(db, left, [str(row[_PROMPT]) for row in rows])
            db.executemany("INSERT OR REPLACE INTO state VALUES (?, ?)", state.items())
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return True

    def _drop_all(self, db: sqlite3.Connection) -> None:
        """Delete every row, and empty the search's tables with them."""
        if self._searching:
            image_search.empty(db)
        db.execute("DELETE FROM images")

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            return self._use(self._open())
        return self._db

    def _use(self, db: sqlite3.Connection) -> sqlite3.Connection:
        """Read and write through `db` from now on (and through its search's tables, when it has them)."""
        self._db = db
        self._searching = image_search.available() and image_search.has_search(db)
        return db

    def _open(self) -> sqlite3.Connection:
        """The index file, made (or remade, when of another layout) as needed."""
        import sqlite3

        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        weakref.finalize(self, db.close)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if db.execute("PRAGMA user_version").fetchone()[0] != LAYOUT:
                if existed:
                    log.warning("the image index %s has an older layout: rebuilding it", self.path)
                else:
                    log.info("building the image index %s", self.path)
                _create(db)
        except BaseException:
            db.close()
            raise
        return db

    def _recover(self, error: Exception) -> None:
        """Replace an index that failed: a damaged file by a new one, one that cannot be used (locked, not
        writable) by one in memory; then rebuild the new one from the store."""
        import sqlite3

        if self._db is not None:
            self._db.close()
            self._db = None
        damaged = isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.OperationalError)
        if damaged:
            log.warning("the image index %s is damaged (%s): rebuilding it", self.path, error)
            try:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)  # Windows: not while another process has it
                self._use(self._open())
            except (sqlite3.DatabaseError, OSError) as again:
                error = again
        if self._db is None:
            log.warning("the image index %s cannot be used (%s): this server keeps it in memory", self.path, error)
            memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            weakref.finalize(self, memory.close)
            _create(memory)
            self._use(memory)
        self._rebuild()


def _create(db: sqlite3.Connection) -> None:
    """Make the tables of this layout, dropping whatever an index of another layout had; once, whoever races."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != LAYOUT:
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            for (table,) in tables.fetchall():
                db.execute(f'DROP TABLE IF EXISTS "{table}"')  # a search table's own tables go with it
            for statement in _SCHEMA + (image_search.SEARCH_SCHEMA if image_search.available() else ()):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {LAYOUT}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _row(entry: Entry) -> tuple[object, ...]:
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
    """Text SQLite can hold: a lone surrogate (JSON allows one) becomes U+FFFD, and so does a NUL character (FTS5
    ends a prompt, and its query syntax a string, there), in stored values and queries alike."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").replace("\x00", "\ufffd")
