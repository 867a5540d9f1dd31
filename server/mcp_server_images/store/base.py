"""The store seam: what the rest of the server asks of wherever images live, and the choices both stores share.

Two stores implement it: `LocalStore` (a folder, the default) and `S3Store` (an S3-compatible bucket shared by
several server instances). Methods block on I/O; async callers run them in a worker thread.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import TypeAdapter

from ..clock import recorded_moment
from ..errors import ImageServerError
from ..imaging.info import ImageInfo
from .files import ArrivingFile
from .records import ImageRecord, NewImage, Operation

log = logging.getLogger(__name__)

ID_LENGTH = 8
MIN_PREFIX = 4
SIDECAR = re.compile(r"^\d{8}-\d{6}-(?P<id>[0-9a-f]{8})\.json$")
"""A sidecar's file name, `<UTC time>-<id>.json`."""
IMAGE_FILE = re.compile(r"^\d{8}-\d{6}-(?P<id>[0-9a-f]{8})\.(?!json$)[a-z]+$")
"""A stored image's file name, `<UTC time>-<id>.<ext>`."""

JobStatus = Literal["running", "succeeded", "failed"]


class ImageNotFoundError(ImageServerError):
    """No stored image has the id (or prefix) asked for."""


@dataclass(frozen=True, kw_only=True)
class JobState:
    """A job as every instance sees it: written by the instance running it, read by any other.

    While running, the instance renews `heartbeat` (seconds since the epoch) well within `lease` seconds; a
    running job whose heartbeat is older than its lease belongs to an instance that died.
    """

    id: str
    operation: Operation
    status: JobStatus
    instance: str
    started: float
    heartbeat: float
    lease: float
    user: str | None = None
    images: list[str] = field(default_factory=list)
    """The ids of the images it stored, once succeeded."""
    model: str | None = None
    usage: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    method: Literal["variations", "edits"] | None = None
    saved: list[str] = field(default_factory=list)
    error: str | None = None
    ended: float | None = None
    """When it ended (seconds since the epoch): finished, stopped, or found lost. Its record is kept for the
    retention window from then."""
    lost: bool = False
    """Its instance stopped renewing it before it ended (found by a sweep): it will not finish."""

    @property
    def settled_at(self) -> float:
        """When the record last changed: its end, else its last heartbeat."""
        return self.ended if self.ended is not None else self.heartbeat


@dataclass(frozen=True, kw_only=True)
class KeyRecord:
    """An idempotency key as stored: which job the first call with it started, and when.

    `digest` stands for the key and the user who gave it (see operations/idempotency.py); the key itself is never
    stored, so a key that holds something private stays private.
    """

    digest: str
    job_id: str
    created: float
    """Seconds since the epoch, on the server's clock."""


KEY_DIGEST = re.compile(r"^[0-9a-f]{64}$")
JOB_ID = re.compile(r"^job_[0-9a-f]{8,32}$")
"""A job id as the server hands them out; anything else never reaches a path or a key."""


@functools.cache
def _job_state() -> TypeAdapter[JobState]:
    """The job record's validator, built at the first read (not at import: building it takes milliseconds)."""
    return TypeAdapter(JobState)


@functools.cache
def _key_record() -> TypeAdapter[KeyRecord]:
    return TypeAdapter(KeyRecord)


def encode_state(state: JobState) -> bytes:
    return json.dumps(asdict(state)).encode()


def decode_state(raw: bytes, where: str) -> JobState | None:
    """The job record, or None (logged) when it is not one."""
    try:
        return _job_state().validate_json(raw)
    except ValueError as exc:
        log.warning("ignoring unreadable job record %s: %s", where, exc)
        return None


def encode_key(record: KeyRecord) -> bytes:
    return json.dumps(asdict(record)).encode()


def decode_key(raw: bytes, where: str) -> KeyRecord | None:
    try:
        return _key_record().validate_json(raw)
    except ValueError as exc:
        log.warning("ignoring unreadable idempotency record %s: %s", where, exc)
        return None


LedgerKind = Literal["reserve", "settle", "release"]


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    """One line of the spend ledger. A call first reserves its estimate (so that concurrent calls cannot all pass a
    budget), then settles it with the actual cost, or releases it when nothing was paid; settle and release name
    the reservation by `id` and carry its `time`, so an entry's day is the day its call started."""

    id: str
    kind: LedgerKind
    time: str
    """UTC time of the reservation, ISO 8601."""
    amount: float | None
    """USD; None when the cost is unknown (no usage, or no published price)."""
    model: str | None = None
    user: str | None = None
    images: int = 0
    exact: bool = False
    instance: str | None = None
    """The server process that made the call (None in entries older than the field): a reservation it never
    settled is pending while that process may still run it."""
    estimate: float | None = None
    """USD the call was estimated at before it was made (entries written before estimates were kept have none)."""
    operation: str | None = None
    """generate, edit or variation."""
    quality: str | None = None
    size: str | None = None
    output_format: str | None = None
    """What the call asked for (None: left to the model): calls alike in model and these learn from each other."""
    provider: str | None = None
    """The name of the provider the call went to (None in entries older than the field)."""


LEDGER_ENTRY = re.compile(r"^(?P<number>\d{9})\.json$")
"""A ledger entry's name inside its month, `000000042.json`."""
LEDGER_MONTH = re.compile(r"^\d{4}-\d{2}$")


LEDGER_CHECKPOINT = "checkpoint.json"
"""The name of a month's checkpoint beside its entries (never taken for an entry)."""


def ledger_name(number: int) -> str:
    return f"{number:09d}.json"


def checked_month(month: str) -> str:
    """The month (`YYYY-MM`) a ledger location is built from; anything else never reaches a path or a key."""
    if not LEDGER_MONTH.match(month):
        raise ValueError(f"not a month: {month!r}")
    return month


UNREADABLE = LedgerEntry(id="", kind="release", time="", amount=0.0)
"""Stands in, in a store's cache of entries read, for an entry that could not be used: read (and warned about) once."""


def month_entries(
    month: str,
    found: Iterable[tuple[str, str]],
    known: dict[tuple[str, int], LedgerEntry],
    load: Callable[[str], LedgerEntry | None],
) -> dict[int, LedgerEntry]:
    """The month's entries by number, from the `(name, location)` pairs a store listed. An entry never changes once
    written, so one in `known` is not loaded again; a new one is loaded and kept. One that cannot be used (None:
    unreadable or not a finite amount, warned about once) is kept as UNREADABLE: its number stays taken, so the
    next entry goes after it, but it counts for nothing."""
    entries: dict[int, LedgerEntry] = {}
    for name, location in found:
        match = LEDGER_ENTRY.match(name)
        if match is None:
            continue
        number = int(match["number"])
        entry = known.get((month, number))
        if entry is None:
            entry = load(location) or UNREADABLE
            known[(month, number)] = entry
        entries[number] = entry
    return dict(sorted(entries.items()))


@functools.cache
def _ledger_entry() -> TypeAdapter[LedgerEntry]:
    """The entry's validator, built at the first read (not at import: building it takes milliseconds)."""
    return TypeAdapter(LedgerEntry)


def encode_entry(entry: LedgerEntry) -> bytes:
    return json.dumps(asdict(entry)).encode()


def decode_entry(raw: bytes, where: str) -> LedgerEntry | None:
    """The entry, or None (logged) when it is not one, or its amount is not a finite number of 0 or more: a
    damaged entry must not stop every later call, nor put a NaN into every sum."""
    try:
        entry = _ledger_entry().validate_json(raw)
    except ValueError as exc:
        log.warning("ignoring unreadable ledger entry %s: %s", where, exc)
        return None
    if entry.amount is not None and not (math.isfinite(entry.amount) and entry.amount >= 0):
        log.warning("ignoring ledger entry %s: its amount %r is not a finite number of 0 or more", where, entry.amount)
        return None
    return entry


class JobBoard(Protocol):
    """Where jobs are published, so that any instance (or the same server after a restart) can answer get_job, and
    where idempotency keys are claimed. These records serve a call's life: the sweep removes them after the
    retention window (operations/housekeeping.py)."""

    def publish(self, state: JobState) -> None: ...

    def fetch(self, job_id: str) -> JobState | None:
        """The job's record; None when there is none (an id in any other form included)."""

    def states(self) -> list[JobState]:
        """Every job record, for the sweep."""

    def remove(self, job_id: str) -> None: ...

    def claim_key(self, record: KeyRecord, *, replace_before: float) -> KeyRecord:
        """Claim the key for `record.job_id` only if no call holds it (atomic create): the record that holds the key
        afterwards, this one or an earlier one. A holder created before `replace_before` has expired and is
        replaced."""

    def key(self, digest: str) -> KeyRecord | None: ...

    def key_records(self) -> list[KeyRecord]: ...

    def remove_key(self, digest: str) -> None: ...


class Store(Protocol):
    @property
    def location(self) -> str:
        """Where images live, for people: a folder, or `s3://bucket/prefix`."""

    @property
    def folder(self) -> Path | None:
        """The local folder holding the images, or None when they are not on this machine's disk."""

    @property
    def jobs(self) -> JobBoard:
        """Job records and idempotency keys, kept beside the images so every process using the store sees them."""

    def save(self, data: bytes, info: ImageInfo, meta: NewImage, *, arrived: ArrivingFile | None = None) -> ImageRecord:
        """Write the image, then its sidecar; return the record. A sidecar always points at a complete image.
        `arrived`: a file of this store's already holding exactly `data` (the caller checked), moved into place
        instead of writing the image again."""

    def arriving_file(self) -> ArrivingFile | None:
        """A file to write an image into while its answer arrives, for `save` to move into place; None when the
        store keeps nothing that way (S3)."""

    def get(self, image_id: str, *, user: str | None = None) -> ImageRecord:
        """The image with this id, or with this unique id prefix (at least 4 characters); with `user`, only among
        the images that user made."""

    def ids_starting(self, prefix: str, most: int, *, user: str | None = None) -> list[str]:
        """At most `most` ids that start with `prefix` (lowercase hex, may be empty), in id order; with `user`, only
        of the images that user made. What completions offer, without listing the store."""

    def read(self, record: ImageRecord) -> bytes: ...

    def recent(
        self, *, offset: int = 0, limit: int | None = None, query: str | None = None, user: str | None = None
    ) -> list[ImageRecord]:
        """Stored images, newest first; optionally those whose prompt contains `query`, or made by `user`."""

    def count(self, *, query: str | None = None, user: str | None = None) -> int:
        """How many images `recent` lists with these filters, without building their records."""

    def job_images(self, job_id: str) -> list[ImageRecord]:
        """The final images a job stored, oldest first (a partial kept from a broken stream is no result)."""

    def made_before(self, before: float, limit: int) -> list[ImageRecord]:
        """At most `limit` images stored before `before` (seconds since the epoch), oldest first: what the expiry
        sweep deletes, a batch at a time, at a cost that does not grow with the images kept."""

    def link(self, record: ImageRecord) -> str | None:
        """A time-limited URL anyone holding it can fetch the image from; None when the store has none."""

    def mark_shared(self, record: ImageRecord, *, shared: bool) -> ImageRecord:
        """Rewrite the image's sidecar with `shared` set (atomically); return the record as it now is. Who may do
        this is the owner-scoped view's business (store/owned.py)."""

    def ledger(self, month: str, after: int = -1) -> dict[int, LedgerEntry]:
        """The spend ledger of a month ("2026-11"): every entry numbered above `after` by its sequence number, first
        to last; one that cannot be used as UNREADABLE (see `month_entries`). With `after` given, the cost is that
        of the entries after it, not of the month."""

    def ledger_checkpoint(self, month: str) -> bytes | None:
        """The month's latest checkpoint (what its entries up to a number add up to), or None."""

    def save_ledger_checkpoint(self, month: str, data: bytes) -> None:
        """Replace the month's checkpoint (atomically). A checkpoint is derived from entries that never change, so
        any checkpoint is right; writers racing only decide how many entries the next reader reads after it."""

    def delete(self, record: ImageRecord) -> None:
        """Remove the image and its sidecar (and whatever the store keeps for its id); links to it stop working."""

    def ping(self) -> None:
        """Raise an ImageServerError saying what is wrong when the store cannot be reached or written to."""

    def compact(self, before: float) -> int:
        """Remove the store's own bookkeeping of ids (S3: the id claims) older than `before`, seconds since the
        epoch; return how many records went. The S3 store also reconciles its index with the bucket here (one
        LIST of it) and snapshots its journal when due: work for the sweep, never for a call."""

    def append_ledger(self, month: str, number: int, entry: LedgerEntry) -> bool:
        """Write entry `number` of the month only if no writer has (atomic create); False when it is taken.

        Every process sharing the store appends through this, so a reader that saw entries 0..k and appends k+1
        knows nobody wrote in between: that is what makes check-then-reserve safe across processes.
        """


def id_prefix(image_id: str) -> str:
    """The id or id prefix asked for, as ids are written; the error says what one looks like."""
    wanted = image_id.strip().lower()
    if len(wanted) < MIN_PREFIX or not re.fullmatch(r"[0-9a-f]+", wanted):
        raise ImageNotFoundError(f"{image_id!r} is not an image id (ids are {ID_LENGTH} hex characters).")
    return wanted


def find(records: Iterable[ImageRecord], image_id: str, where: str) -> ImageRecord:
    """The record with this id or unique id prefix; the error says what to do."""
    wanted = id_prefix(image_id)
    matches = [record for record in records if record.id.startswith(wanted)]
    if not matches:
        raise ImageNotFoundError(
            f"No stored image has id {image_id!r} in {where}. Call list_images to see the stored ids."
        )
    if len(matches) > 1:
        ids = ", ".join(record.id for record in matches[:5])
        raise ImageNotFoundError(f"Id prefix {image_id!r} matches several images ({ids}); give more characters.")
    return matches[0]


def stored_before(made: Iterable[ImageRecord], before: float) -> list[ImageRecord]:
    """Those of `made` (an index's candidates, chosen by comparing `created` as text) stored before `before`."""
    return [record for record in made if created_at(record) < before]


def created_text(moment: float) -> str:
    """A time (seconds since the epoch) as `created` writes it up to its zone, for comparing as text: `created`
    values sort by time, and one sorts before this exactly when its time is earlier (to the microsecond)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def created_at(record: ImageRecord) -> float:
    """When the image was stored, seconds since the epoch (sidecars write `created` in UTC)."""
    return recorded_moment(record.created).timestamp()
