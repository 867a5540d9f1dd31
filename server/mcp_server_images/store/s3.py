"""The S3 store: images in an S3-compatible bucket that several server instances share (a team deployment).

Objects are laid out like the local folder (`<prefix>/<UTC time>-<id>.<ext>` beside `<UTC time>-<id>.json`), so a
local folder can be copied into a bucket and read. Ids are claimed with a conditional put (`If-None-Match: *`) of
`ids/<id>`, so two instances can never hand out the same id, without listing the bucket. Jobs are published as
`jobs/<job id>.json` for get_job on any instance.

Listing reads no sidecar twice: a sidecar changes only when its image is shared or unshared, so each instance keeps
the records it has read, keyed by object and ETag, and asks the bucket for its object list (one LIST) at most every
`index_ttl` seconds. A miss on an id refreshes the list at once, so an image another instance made a moment ago is
found.

obstore (Rust's object_store) does the S3 work: one small, typed wheel with sync and async calls, presigned URLs
and conditional puts; its sync calls release the GIL, so the worker threads callers use run in parallel.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError, NotFoundError
from obstore.store import S3Store as ObjectStore
from pydantic import TypeAdapter

from ..clock import Clock
from ..errors import ImageServerError
from ..imaging.info import SVG_MIME, ImageInfo
from .base import (
    ID_LENGTH,
    LEDGER_CHECKPOINT,
    SIDECAR,
    ImageNotFoundError,
    JobState,
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
from .records import ImageRecord, NewImage, new_record

if TYPE_CHECKING:
    from obstore import Attributes  # a type of the stubs only

log = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 20
"""Ids tried before giving up; with 32 random bits, more than one is already rare."""
READ_THREADS = 16
"""Sidecars read in parallel when an instance first lists a bucket that already holds many images."""
JOB_ID = re.compile(r"^job_[0-9a-f]{8,32}$")


class StoreError(ImageServerError):
    """The bucket could not be read or written; the message says which operation and what the bucket said."""


@contextmanager
def bucket_errors(action: str, where: str) -> Iterator[None]:
    """Turn obstore's errors into one the user can act on (the message never carries credentials)."""
    try:
        yield
    except BaseError as exc:
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"Could not {action} in {where}: {said.split(': <?xml')[0]}") from exc


class S3Store:
    """Stored images in a bucket. Methods block on the network; async callers run them in a worker thread."""

    def __init__(
        self, client: ObjectStore, *, bucket: str, prefix: str, link_expiry: float, index_ttl: float, clock: Clock
    ) -> None:
        self._s3 = client
        self._clock = clock
        self._where = f"s3://{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}"
        self._link_expiry = timedelta(seconds=link_expiry)
        self._ttl = index_ttl
        self._lock = threading.Lock()
        self._index: dict[str, tuple[str | None, ImageRecord]] = {}
        """Sidecar key -> (its ETag, its record): every complete image in the bucket, as last listed."""
        self._listed_at: float | None = None
        self._ledger: dict[tuple[str, int], LedgerEntry] = {}
        """Ledger entries read so far; an entry never changes once written."""
        self.jobs = S3JobBoard(client, self._where)

    @property
    def location(self) -> str:
        return self._where

    @property
    def folder(self) -> Path | None:
        return None

    def check(self) -> None:
        """Fail at start-up, not at the first call, when the bucket cannot be listed."""
        self._records(fresh=True)

    def save(self, data: bytes, info: ImageInfo, meta: NewImage) -> ImageRecord:
        """Claim an id, write the image, then its sidecar; the sidecar's ETag goes into the index."""
        taken = {record.id for record in self._records()}
        image_id = self._claim_id(taken)
        record = new_record(meta, info, image_id=image_id, size=len(data), locate=self._locate, now=self._clock.now())
        sidecar = json.dumps(record.sidecar(), indent=2).encode()
        with bucket_errors("store the image", self._where):
            obstore.put(self._s3, record.name, data, attributes=_attributes(record))
            written = obstore.put(
                self._s3, record.sidecar_name, sidecar, attributes={"Content-Type": "application/json"}
            )
        with self._lock:
            self._index[record.sidecar_name] = (written["e_tag"], record)
        log.info("stored image %s at %s (%d bytes)", image_id, record.location, len(data))
        return record

    def get(self, image_id: str) -> ImageRecord:
        try:
            return find(self._records(), image_id, self._where)
        except ImageNotFoundError:
            return find(self._records(fresh=True), image_id, self._where)

    def read(self, record: ImageRecord) -> bytes:
        with bucket_errors(f"read image {record.id}", self._where):
            return bytes(obstore.get(self._s3, record.name).bytes())

    def recent(
        self, *, offset: int = 0, limit: int | None = None, query: str | None = None, user: str | None = None
    ) -> list[ImageRecord]:
        return newest(self._records(), offset=offset, limit=limit, query=query, user=user)

    def job_images(self, job_id: str) -> list[ImageRecord]:
        return job_finals(self._records(fresh=True), job_id)

    def link(self, record: ImageRecord) -> str | None:
        """A presigned GET URL: computed locally (no request), valid for the configured expiry. An SVG gets one only
        when the bucket serves it as an attachment (as every SVG stored since is), which a browser never runs:
        a presigned URL cannot carry a policy of its own."""
        if record.mime_type == SVG_MIME and not self._attachment(record):
            return None
        return obstore.sign(self._s3, "GET", record.name, self._link_expiry)

    def _attachment(self, record: ImageRecord) -> bool:
        with bucket_errors(f"read image {record.id}", self._where):
            head = obstore.get(self._s3, record.name, options={"head": True})
        return str(head.attributes.get("Content-Disposition", "")).startswith("attachment")

    def mark_shared(self, record: ImageRecord, *, shared: bool) -> ImageRecord:
        """Rewrite the sidecar; other instances see the change at their next listing (`index_ttl`)."""
        changed = replace(record, shared=shared)
        sidecar = json.dumps(changed.sidecar(), indent=2).encode()
        with bucket_errors(f"share image {record.id}", self._where):
            written = obstore.put(
                self._s3, record.sidecar_name, sidecar, attributes={"Content-Type": "application/json"}
            )
        with self._lock:
            self._index[record.sidecar_name] = (written["e_tag"], changed)
        return changed

    def ledger(self, month: str, after: int = -1) -> dict[int, LedgerEntry]:
        """The month's entries above `after` (`ledger/<month>/<number>.json`): one LIST, from the key after
        `after` on (keys sort by number), and a GET for each entry not read before."""
        prefix = self._ledger_prefix(month)
        offset = prefix + ledger_name(after) if after >= 0 else None
        with bucket_errors("read the spend ledger", self._where):
            listed = obstore.list(self._s3, prefix=prefix, offset=offset)
            keys = [meta["path"] for batch in listed for meta in batch]
            return month_entries(month, ((key.rsplit("/", 1)[-1], key) for key in keys), self._ledger, self._entry)

    def _entry(self, key: str) -> LedgerEntry | None:
        return decode_entry(bytes(obstore.get(self._s3, key).bytes()), self._where + key)

    def append_ledger(self, month: str, number: int, entry: LedgerEntry) -> bool:
        """A conditional put (`If-None-Match: *`): exactly one instance gets each number."""
        key = self._ledger_prefix(month) + ledger_name(number)
        with bucket_errors("write the spend ledger", self._where):
            try:
                obstore.put(self._s3, key, encode_entry(entry), mode="create")
            except AlreadyExistsError:
                return False
        self._ledger[(month, number)] = entry
        return True

    def ledger_checkpoint(self, month: str) -> bytes | None:
        with bucket_errors("read the spend ledger", self._where):
            try:
                return bytes(obstore.get(self._s3, self._ledger_prefix(month) + LEDGER_CHECKPOINT).bytes())
            except (NotFoundError, FileNotFoundError):  # obstore raises the latter for a GET's 404
                return None

    def save_ledger_checkpoint(self, month: str, data: bytes) -> None:
        with bucket_errors("write the spend ledger", self._where):
            obstore.put(self._s3, self._ledger_prefix(month) + LEDGER_CHECKPOINT, data)

    @staticmethod
    def _ledger_prefix(month: str) -> str:
        return f"ledger/{checked_month(month)}/"

    def _locate(self, name: str) -> str:
        return self._where + name

    def _claim_id(self, taken: set[str]) -> str:
        """An id no other instance holds: `ids/<id>` is created only if it does not exist yet."""
        for _ in range(CLAIM_ATTEMPTS):
            candidate = secrets.token_hex(ID_LENGTH // 2)
            if candidate in taken:
                continue
            with bucket_errors("claim an image id", self._where):
                try:
                    obstore.put(self._s3, f"ids/{candidate}", b"", mode="create")
                except AlreadyExistsError:
                    continue
            return candidate
        raise StoreError(f"Could not claim a free image id in {self._where} in {CLAIM_ATTEMPTS} attempts.")

    def _records(self, *, fresh: bool = False) -> list[ImageRecord]:
        with self._lock:
            stale = self._listed_at is None or time.monotonic() - self._listed_at >= self._ttl
            if fresh or stale:
                self._reindex()
                self._listed_at = time.monotonic()
            return [record for _etag, record in self._index.values()]

    def _reindex(self) -> None:
        """One LIST of the prefix; only sidecars not seen before (or changed since) are read."""
        with bucket_errors("list the images", self._where):
            listing = obstore.list_with_delimiter(self._s3)
        objects = {meta["path"]: meta.get("e_tag") for meta in listing["objects"]}
        fresh: dict[str, tuple[str | None, ImageRecord]] = {}
        unread: list[tuple[str, str | None]] = []
        for key, etag in objects.items():
            if not SIDECAR.match(key):
                continue
            cached = self._index.get(key)
            if cached is not None and cached[0] == etag:
                fresh[key] = cached
            else:
                unread.append((key, etag))
        if unread:
            with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(unread))) as pool:
                loaded = list(pool.map(self._load, [key for key, _etag in unread]))
            for (key, etag), record in zip(unread, loaded, strict=True):
                if record is not None and record.name in objects:
                    fresh[key] = (etag, record)
        self._index = fresh

    def _load(self, key: str) -> ImageRecord | None:
        try:
            data = json.loads(bytes(obstore.get(self._s3, key).bytes()))
            return ImageRecord.from_sidecar(data, self._locate)
        except NotFoundError:
            return None  # deleted between the LIST and now
        except (BaseError, ValueError, TypeError, KeyError) as exc:
            log.warning("ignoring unreadable sidecar %s%s: %s", self._where, key, exc)
            return None


def _attributes(record: ImageRecord) -> Attributes:
    """What the bucket answers a GET of the image with: its type, and for an SVG (which may carry a script) the
    disposition of an attachment, so a presigned link opened in a browser is downloaded, never run."""
    attributes: Attributes = {"Content-Type": record.mime_type}
    if record.mime_type == SVG_MIME:
        attributes["Content-Disposition"] = f'attachment; filename="{record.name}"'
    return attributes


@functools.cache
def _job_state() -> TypeAdapter[JobState]:
    return TypeAdapter(JobState)


class S3JobBoard:
    """Jobs as `jobs/<job id>.json`: written by the instance running the job, read by any instance."""

    def __init__(self, client: ObjectStore, where: str) -> None:
        self._s3 = client
        self._where = where

    def publish(self, state: JobState) -> None:
        with bucket_errors(f"record job {state.id}", self._where):
            obstore.put(self._s3, f"jobs/{state.id}.json", json.dumps(asdict(state)).encode())

    def fetch(self, job_id: str) -> JobState | None:
        if not JOB_ID.match(job_id):
            return None
        with bucket_errors(f"read job {job_id}", self._where):
            try:
                raw = bytes(obstore.get(self._s3, f"jobs/{job_id}.json").bytes())
            except NotFoundError:
                return None
        try:
            return _job_state().validate_json(raw)
        except ValueError as exc:
            log.warning("ignoring unreadable job %s in %s: %s", job_id, self._where, exc)
            return None
