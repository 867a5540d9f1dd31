"""The S3 store's index: what the bucket holds, kept by every instance in an SQLite file in its cache, brought up to
date from a journal of changes in the bucket, so that listing, lookup, search and expiry cost the same at 100,000
images as at 1,000 (one LIST of the journal's new entries, then a query).

The sidecars stay the truth; the index is derived from them. In the bucket:
- `index/journal/<number>.json`: one entry per change an instance made (images stored or shared: their sidecars;
  images deleted: their sidecar names), written with a conditional put (`If-None-Match: *`) like the ledger's
  entries, so exactly one instance gets each number and the numbers have no gap. An instance reads the entries
  after the last it applied with one LIST from that key on (keys sort by number). An entry is written after the
  objects it names, so whoever reads it can read them.
- `index/snapshots/<count>.jsonl.gz`: every sidecar as of the first `count` entries (one per line, gzipped, after a
  header line), written by the sweep every SNAPSHOT_EVERY entries; the entries an older snapshot covers are removed
  then. An instance without a cache starts from the latest snapshot instead of the whole journal.

Images the journal never heard of (stored before it existed, or put in the bucket by another tool) and changes it
missed (an instance that died between writing a sidecar and its entry) are found by a reconciliation: one LIST of
the whole bucket, done when there is no snapshot to start from, when an entry or a snapshot is damaged, and in every
sweep (never on a call); what it finds different is published as an entry, so every instance sees it.

The cache file may be shared by several processes of one machine: a batch of entries is applied only if the file is
still where this process read it from (a compare-and-set on the number applied), so nothing is applied twice or out
of order.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import obstore
from obstore.exceptions import AlreadyExistsError
from obstore.store import S3Store as ObjectStore

from ..errors import ImageServerError
from .base import SIDECAR
from .image_table import Entry, ImageTable
from .records import ImageRecord

log = logging.getLogger(__name__)

JOURNAL_PREFIX = "index/journal/"
SNAPSHOT_PREFIX = "index/snapshots/"
JOURNAL_ENTRY = re.compile(r"^index/journal/(?P<number>\d{12})\.json$")
SNAPSHOT = re.compile(r"^index/snapshots/(?P<count>\d{12})\.jsonl\.gz$")
SNAPSHOT_EVERY = 1000
"""Journal entries after the latest snapshot before the sweep writes a new one."""
APPEND_ATTEMPTS = 50
"""Numbers tried for one entry; each failure means another instance appended in between, and is read first."""
READ_THREADS = 16
"""Objects read in parallel (journal entries, or sidecars in a reconciliation)."""
_APPLIED = "journal"
"""The state row holding the number of the last journal entry applied (-1: none yet)."""
_HEADER_VERSION = 1


@dataclass(frozen=True)
class IndexCache:
    """Where an instance keeps its index of a bucket, and how long it trusts it before asking the journal."""

    file: Path
    ttl: float


def cache_file(folder: Path, endpoint: str | None, bucket: str, prefix: str) -> Path:
    """Where this machine keeps the index of one bucket and prefix (a name that says nothing of either)."""
    digest = hashlib.sha256(f"{endpoint or ''}\n{bucket}\n{prefix.strip('/')}".encode()).hexdigest()[:24]
    return folder / f"{digest}.sqlite3"


def journal_key(number: int) -> str:
    return f"{JOURNAL_PREFIX}{number:012d}.json"


def snapshot_key(count: int) -> str:
    return f"{SNAPSHOT_PREFIX}{count:012d}.jsonl.gz"


def sidecar_text(record: ImageRecord) -> str:
    """A sidecar as the index and the journal keep it: one line of JSON."""
    return json.dumps(record.sidecar())


def encode_snapshot(applied: int, texts: Iterable[str]) -> bytes:
    """A snapshot: a header naming the last entry it covers, then one sidecar per line."""
    header = json.dumps({"version": _HEADER_VERSION, "journal": applied})
    return gzip.compress("\n".join([header, *texts]).encode(), compresslevel=5)


def encode_changes(stored: Iterable[ImageRecord], gone: Iterable[str]) -> bytes:
    """A journal entry: the sidecars of images stored or changed, and the sidecar names of images deleted."""
    return json.dumps({"stored": [record.sidecar() for record in stored], "gone": list(gone)}).encode()


class DamagedError(ValueError):
    """A journal entry or a snapshot that cannot be read."""


class BucketIndex(ImageTable):
    """The index of one bucket (and prefix), cached in `path`."""

    def __init__(
        self,
        client: ObjectStore,
        path: Path,
        locate: Callable[[str], str],
        *,
        errors: Callable[[str], AbstractContextManager[None]],
        ttl: float,
    ) -> None:
        super().__init__(path, locate)
        self._s3 = client
        self._errors = errors
        self._ttl = ttl
        self._catching = threading.RLock()
        self._caught_up_at: float | None = None

    def catch_up(self) -> int:
        """Apply the journal's entries after the last applied (starting from a snapshot, or from a listing, when
        there is nothing to continue from); the number of the last entry applied."""
        with self._catching:
            while True:
                applied = self.state(_APPLIED)
                if applied is None:
                    self._restart(0)
                    continue
                listed = self._journal_after(applied)
                if listed and listed[0][0] != applied + 1:
                    self._restart(listed[0][0])  # the entries it needs were compacted away: a snapshot covers them
                    continue
                if not listed:
                    self._caught_up_at = time.monotonic()
                    return applied
                changes, damaged = self._read_entries(listed)
                if not self._apply_changes(changes, applied, listed[-1][0]):
                    continue  # another process sharing the cache applied some of them first
                self._caught_up_at = time.monotonic()
                if damaged:
                    self.reconcile()
                    return self.catch_up()
                return listed[-1][0]

    def append(self, stored: Iterable[ImageRecord], gone: Iterable[str]) -> None:
        """Publish a change every instance applies: the next free number, by a conditional put."""
        stored, gone = list(stored), list(gone)
        body = encode_changes(stored, gone)
        with self._catching:
            for _ in range(APPEND_ATTEMPTS):
                applied = self.catch_up()
                with self._errors("write the image index"):
                    try:
                        obstore.put(self._s3, journal_key(applied + 1), body, mode="create")
                    except AlreadyExistsError:
                        continue
                self._apply_changes([(_entries(stored), gone)], applied, applied + 1)
                return
        raise ImageServerError(
            f"Could not write the image index: {APPEND_ATTEMPTS} other changes came first. Try again shortly."
        )

    def forget(self, sidecar: str) -> None:
        """Drop an image from this instance's index alone, ahead of the journal entry that drops it everywhere."""
        self._write([], [sidecar], {})

    def reconcile(self) -> int:
        """Compare the index with one LIST of the whole bucket; publish what differs (images added or removed
        behind the journal's back). Returns how many images it found different."""
        with self._catching:
            self.catch_up()
            before = {row[0]: row[1] for row in self._rows("SELECT sidecar, name FROM images")}
        objects = self._listing()
        gone = [sidecar for sidecar, name in before.items() if sidecar not in objects or name not in objects]
        with self._catching:
            self.catch_up()  # an image stored while the bucket was listed has its entry by now: it is no news
            known = {row[0] for row in self._rows("SELECT sidecar FROM images")}
        found = self._read_sidecars([key for key in objects if SIDECAR.match(key) and key not in known], objects)
        if gone or found:
            log.info("reconciled the image index with %s: %d found, %d gone", self._where(), len(found), len(gone))
            self.append(found, gone)
        return len(found) + len(gone)

    def compact(self) -> None:
        """Write a snapshot when the journal has grown by SNAPSHOT_EVERY entries since the latest; then remove the
        entries (and snapshots) the previous snapshot covered: an instance that had not read them yet starts from
        the latest snapshot."""
        applied = self.catch_up()
        snapshots = self._snapshots()
        latest = snapshots[-1] if snapshots else 0
        if applied + 1 - latest < SNAPSHOT_EVERY:
            return
        self._save_snapshot(applied)
        with self._errors("compact the image index"):
            stale = [journal_key(number) for number, _key in self._journal_after(-1) if number < latest]
            stale += [snapshot_key(count) for count in snapshots[:-1]]
            if stale:
                obstore.delete(self._s3, stale)

    def _refresh(self) -> bool:
        if self._caught_up_at is None or time.monotonic() - self._caught_up_at >= self._ttl:
            self.catch_up()
        return True

    def _rebuild(self) -> None:
        """A new, empty cache: start it again from a snapshot or a listing. (Not through `catch_up`: this runs
        under the table's lock, which a catch-up in another thread may be waiting for while holding its own.)"""
        self._restart(0)

    def _restart(self, first: int) -> None:
        """Start the index again from the latest snapshot, when it covers the entries before `first`; else from one
        listing of the bucket."""
        snapshots = self._snapshots()
        if snapshots and snapshots[-1] >= first and self._load_snapshot(snapshots[-1]):
            return
        self._from_listing()

    def _load_snapshot(self, count: int) -> bool:
        """Replace the index by the snapshot; False (warned) when it is damaged."""
        key = snapshot_key(count)
        with self._errors("list the images"):
            raw = read_object(self._s3, key)
        if raw is None:
            return False  # removed since it was listed, by a sweep that wrote a newer one: start from a listing
        try:
            applied, entries = self._decode_snapshot(raw)
        except (DamagedError, OSError, EOFError, ValueError, TypeError, KeyError) as exc:
            log.warning(
                "ignoring a damaged index snapshot %s%s (%s): reconciling with the bucket", self._where(), key, exc
            )
            return False
        expected = self.state(_APPLIED)
        self._write(entries, [], {_APPLIED: applied}, replace_all=True, expect=(_APPLIED, expected))
        return True

    def _decode_snapshot(self, raw: bytes) -> tuple[int, list[Entry]]:
        lines = gzip.decompress(raw).decode().split("\n")
        header = json.loads(lines[0])
        if not isinstance(header, dict) or header.get("version") != _HEADER_VERSION:
            raise DamagedError(f"not a snapshot header: {lines[0][:80]!r}")
        applied = header["journal"]
        if not isinstance(applied, int):
            raise DamagedError("no journal number")
        return applied, _entries(ImageRecord.from_sidecar(json.loads(line), self._locate) for line in lines[1:])

    def _from_listing(self) -> None:
        """Replace the index by what one listing of the bucket finds, as of the journal's last entry before it;
        then save a snapshot of it, so the next instance without a cache starts from that."""
        journal = self._journal_after(-1)
        applied = journal[-1][0] if journal else -1
        objects = self._listing()
        found = self._read_sidecars([key for key in objects if SIDECAR.match(key)], objects)
        log.info("indexed %s from a listing of the bucket: %d images", self._where(), len(found))
        expected = self.state(_APPLIED)
        self._write(_entries(found), [], {_APPLIED: applied}, replace_all=True, expect=(_APPLIED, expected))
        self._save_snapshot(applied)

    def _save_snapshot(self, applied: int) -> None:
        texts = [text for (text,) in self._rows("SELECT record FROM images ORDER BY created, name")]
        with self._errors("write the image index"):
            obstore.put(self._s3, snapshot_key(applied + 1), encode_snapshot(applied, texts))

    def _apply_changes(self, changes: list[tuple[list[Entry], list[str]]], applied: int, last: int) -> bool:
        """Apply entries `applied + 1 .. last` (their changes in order) in one transaction, only if the cache is
        still at `applied`."""
        latest: dict[str, Entry | None] = {}
        for stored, gone in changes:
            latest |= dict.fromkeys(gone) | {entry.sidecar: entry for entry in stored}
        fresh = [entry for entry in latest.values() if entry is not None]
        removed = [sidecar for sidecar, entry in latest.items() if entry is None]
        return self._write(fresh, removed, {_APPLIED: last}, expect=(_APPLIED, applied))

    def _read_entries(self, listed: list[tuple[int, str]]) -> tuple[list[tuple[list[Entry], list[str]]], bool]:
        """The entries' changes, in order; and whether one was damaged (skipped, warned about)."""
        raws = self._get_all([key for _number, key in listed], "list the images")
        changes = []
        damaged = False
        for (_number, key), raw in zip(listed, raws, strict=True):
            try:
                changes.append(self._decode_entry(raw))
            except (DamagedError, ValueError, TypeError, KeyError) as exc:
                log.warning(
                    "ignoring a damaged index entry %s%s (%s): reconciling with the bucket", self._where(), key, exc
                )
                damaged = True
        return changes, damaged

    def _decode_entry(self, raw: bytes | None) -> tuple[list[Entry], list[str]]:
        if raw is None:
            raise DamagedError("gone while it was read")
        data = json.loads(raw)
        gone = data["gone"]
        if not isinstance(gone, list) or not all(isinstance(name, str) and SIDECAR.match(name) for name in gone):
            raise DamagedError("not a list of sidecar names")
        return _entries(ImageRecord.from_sidecar(item, self._locate) for item in data["stored"]), gone

    def _journal_after(self, applied: int) -> list[tuple[int, str]]:
        """The journal's entries numbered above `applied`, in order: one LIST from the key after it."""
        offset = journal_key(applied) if applied >= 0 else None
        with self._errors("list the images"):
            listed = obstore.list(self._s3, prefix=JOURNAL_PREFIX, offset=offset)
            keys = [meta["path"] for batch in listed for meta in batch]
        numbered = [(int(match["number"]), key) for key in keys if (match := JOURNAL_ENTRY.match(key))]
        return sorted(numbered)

    def _snapshots(self) -> list[int]:
        """The counts of the snapshots in the bucket, lowest first."""
        with self._errors("list the images"):
            keys = [meta["path"] for batch in obstore.list(self._s3, prefix=SNAPSHOT_PREFIX) for meta in batch]
        return sorted(int(match["count"]) for key in keys if (match := SNAPSHOT.match(key)))

    def _listing(self) -> set[str]:
        """The names of the objects at the top of the bucket (images and sidecars; not the folders beside them)."""
        with self._errors("list the images"):
            return {meta["path"] for meta in obstore.list_with_delimiter(self._s3)["objects"]}

    def _read_sidecars(self, keys: list[str], objects: set[str]) -> list[ImageRecord]:
        """The records of these sidecars whose image is among `objects`; an unreadable one is skipped (warned)."""
        records = []
        for key, raw in zip(keys, self._get_all(keys, "list the images"), strict=True):
            if raw is None:
                continue  # deleted since the listing
            try:
                record = ImageRecord.from_sidecar(json.loads(raw), self._locate)
            except (ValueError, TypeError, KeyError) as exc:
                log.warning("ignoring unreadable sidecar %s%s: %s", self._where(), key, exc)
                continue
            if record.name in objects and record.sidecar_name == key:
                records.append(record)
        return records

    def _get_all(self, keys: list[str], action: str) -> list[bytes | None]:
        with self._errors(action):
            return read_objects(self._s3, keys)

    def _where(self) -> str:
        return self._locate("")


def read_object(client: ObjectStore, key: str) -> bytes | None:
    """The object's bytes; None when there is none."""
    try:
        return bytes(obstore.get(client, key).bytes())
    except FileNotFoundError:
        return None


def read_objects(client: ObjectStore, keys: list[str]) -> list[bytes | None]:
    """The objects' bytes (None: not found), several read at once: obstore's calls release the GIL."""
    if not keys:
        return []
    with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(keys))) as pool:
        return list(pool.map(read_object, [client] * len(keys), keys))


def _entries(records: Iterable[ImageRecord]) -> list[Entry]:
    return [Entry(record.sidecar_name, record, sidecar_text(record)) for record in records]
