"""The S3 store: images in an S3-compatible bucket that several server instances share (a team deployment).

Objects are laid out like the local folder (`<prefix>/<UTC time>-<id>.<ext>` beside `<UTC time>-<id>.json`), so a
local folder can be copied into a bucket and read (the next sweep finds what was copied in). Ids are claimed with a
conditional put (`If-None-Match: *`) of `ids/<id>`, so two instances can never hand out the same id, without
listing the bucket. Jobs are published as `jobs/<job id>.json` for get_job on any instance.

Listings, lookups, search and expiry read an index every instance keeps in its cache, brought up to date from a
journal of changes in the bucket (see s3_index.py): at most every `index_ttl` seconds, one LIST of the journal's
new entries; a miss on an id asks at once, so an image another instance made a moment ago is found.

obstore (Rust's object_store) does the S3 work: one small, typed wheel with sync and async calls, presigned URLs
and conditional puts; its sync calls release the GIL, so the worker threads callers use run in parallel.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import obstore
from obstore.exceptions import AlreadyExistsError, BaseError
from obstore.store import S3Store as ObjectStore

from ..clock import Clock
from ..errors import ImageServerError
from ..imaging.info import SVG_MIME, ImageInfo
from .base import (
    ID_LENGTH,
    JOB_ID,
    KEY_DIGEST,
    LEDGER_CHECKPOINT,
    ImageNotFoundError,
    JobState,
    KeyRecord,
    LedgerEntry,
    checked_month,
    created_at,
    created_text,
    decode_entry,
    decode_key,
    decode_state,
    encode_entry,
    encode_key,
    encode_state,
    id_prefix,
    ledger_name,
    month_entries,
    stored_before,
)
from .files import ArrivingFile
from .records import ImageRecord, NewImage, new_record
from .s3_index import BucketIndex, IndexCache, read_object, read_objects

if TYPE_CHECKING:
    from obstore import Attributes  # a type of the stubs only

log = logging.getLogger(__name__)

CLAIM_ATTEMPTS = 20
"""Ids tried before giving up; with 32 random bits, more than one is already rare."""
T = TypeVar("T")

JOBS_PREFIX = "jobs/"
KEYS_PREFIX = "keys/"
CLAIMS_PREFIX = "ids/"
PING_KEY = "ids/.ready"
"""What the readiness check asks for (a HEAD): never written, so "not found" is the answer of a working bucket."""


class StoreError(ImageServerError):
    """The bucket could not be read or written; the message says which operation and what the bucket said."""


@contextmanager
def bucket_errors(action: str, where: str, timeout: float) -> Iterator[None]:
    """Turn obstore's errors into one the user can act on (the message never carries credentials)."""
    try:
        yield
    except BaseError as exc:
        if "kind: Timeout" in str(exc):
            raise StoreError(
                f"Could not {action} in {where}: the bucket did not answer within {timeout:g} s "
                "(MCP_IMAGES_STORE_TIMEOUT). Nothing more was done; try again shortly, and if it persists, ask the "
                "operator to check the object store."
            ) from exc
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"Could not {action} in {where}: {said.split(': <?xml')[0]}") from exc


class S3Store:
    """Stored images in a bucket. Methods block on the network; async callers run them in a worker thread."""

    def __init__(
        self,
        client: ObjectStore,
        *,
        bucket: str,
        prefix: str,
        link_expiry: float,
        index: IndexCache,
        clock: Clock,
        timeout: float,
    ) -> None:
        self._s3 = client
        self._clock = clock
        self._where = f"s3://{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}"
        self._timeout = timeout
        self._link_expiry = timedelta(seconds=link_expiry)
        self._index = BucketIndex(client, index.file, self._locate, errors=self._errors, ttl=index.ttl)
        self._ledger: dict[tuple[str, int], LedgerEntry] = {}
        """Ledger entries read so far; an entry never changes once written."""
        self.jobs = S3JobBoard(client, self._where, timeout)

    @property
    def location(self) -> str:
        return self._where

    def _errors(self, action: str) -> AbstractContextManager[None]:
        return bucket_errors(action, self._where, self._timeout)

    @property
    def folder(self) -> Path | None:
        return None

    def check(self) -> None:
        """Fail at start-up, not at the first call, when the bucket cannot be read: bring the index up to date."""
        self._index.catch_up()

    def save(self, data: bytes, info: ImageInfo, meta: NewImage, *, arrived: ArrivingFile | None = None) -> ImageRecord:
        """Claim an id, write the image, then its sidecar, then the journal entry that tells every instance.
        (`arrived` is never one of this store's: it makes none.)"""
        image_id = self._claim_id()
        record = new_record(meta, info, image_id=image_id, size=len(data), locate=self._locate, now=self._clock.now())
        sidecar = json.dumps(record.sidecar(), indent=2).encode()
        with self._errors("store the image"):
            obstore.put(self._s3, record.name, data, attributes=_attributes(record))
            obstore.put(self._s3, record.sidecar_name, sidecar, attributes={"Content-Type": "application/json"})
        self._index.append([record], [])
        log.info("stored image %s at %s (%d bytes)", image_id, record.location, len(data))
        return record

    def arriving_file(self) -> ArrivingFile | None:
        return None  # an object is put whole: there is nothing to write ahead of it

    def get(self, image_id: str, *, user: str | None = None) -> ImageRecord:
        """A miss asks the journal at once before it is one (a text that is no id is refused without asking)."""
        id_prefix(image_id)
        try:
            return self._index.find(image_id, user, self._where)
        except ImageNotFoundError:
            self._index.catch_up()
            return self._index.find(image_id, user, self._where)

    def ids_starting(self, prefix: str, most: int, *, user: str | None = None) -> list[str]:
        return [record.id for record in self._index.with_prefix(prefix, most, user)]

    def read(self, record: ImageRecord) -> bytes:
        with self._errors(f"read image {record.id}"):
            return bytes(obstore.get(self._s3, record.name).bytes())

    def recent(
        self, *, offset: int = 0, limit: int | None = None, query: str | None = None, user: str | None = None
    ) -> list[ImageRecord]:
        return self._index.newest(offset=offset, limit=limit, query=query, user=user)

    def count(self, *, query: str | None = None, user: str | None = None) -> int:
        return self._index.count(query=query, user=user)

    def job_images(self, job_id: str) -> list[ImageRecord]:
        """Asks the journal first: the job may have run on another instance a moment ago."""
        self._index.catch_up()
        return self._index.job_finals(job_id)

    def made_before(self, before: float, limit: int) -> list[ImageRecord]:
        return stored_before(self._index.made_before(created_text(before), limit), before)

    def link(self, record: ImageRecord) -> str | None:
        """A presigned GET URL: computed locally (no request), valid for the configured expiry. An SVG gets one only
        when the bucket serves it as an attachment (as every SVG stored since is), which a browser never runs:
        a presigned URL cannot carry a policy of its own."""
        if record.mime_type == SVG_MIME and not self._attachment(record):
            return None
        return obstore.sign(self._s3, "GET", record.name, self._link_expiry)

    def _attachment(self, record: ImageRecord) -> bool:
        with self._errors(f"read image {record.id}"):
            head = obstore.get(self._s3, record.name, options={"head": True})
        return str(head.attributes.get("Content-Disposition", "")).startswith("attachment")

    def mark_shared(self, record: ImageRecord, *, shared: bool) -> ImageRecord:
        """Rewrite the sidecar, then tell every instance through the journal (they see it within `index_ttl`)."""
        changed = replace(record, shared=shared)
        sidecar = json.dumps(changed.sidecar(), indent=2).encode()
        with self._errors(f"share image {record.id}"):
            obstore.put(self._s3, record.sidecar_name, sidecar, attributes={"Content-Type": "application/json"})
        self._index.append([changed], [])
        return changed

    def delete(self, record: ImageRecord) -> None:
        """Out of this instance's index first (it is no longer listed here, even while the rest is under way), then
        the sidecar (a reconciliation no longer finds the image), then the image and its id claim (presigned links
        and the public image route stop answering), then the journal entry that takes it out of every instance's
        index. Should a step fail, the sweep's reconciliation puts back what is still there."""
        self._index.forget(record.sidecar_name)
        with self._errors(f"delete image {record.id}"):
            obstore.delete(self._s3, record.sidecar_name)
            obstore.delete(self._s3, [record.name, CLAIMS_PREFIX + record.id])
        self._index.append([], [record.sidecar_name])
        log.info("deleted image %s (%s)", record.id, record.location)

    def ping(self) -> None:
        """One HEAD request: "not found" is an answer too (the bucket is there and the credentials work)."""
        with self._errors("reach the bucket"), suppress(FileNotFoundError):
            obstore.head(self._s3, PING_KEY)

    def compact(self, before: float) -> int:
        """Reconcile the index with the bucket (one LIST of it: images put there or removed behind the journal's
        back), snapshot the journal when due, and remove the id claims (`ids/<id>`) made before `before`.

        A claim only has to outlive the moment its image is in the index; later the image's sidecar holds the id.
        A claim whose image is indexed goes once the image is older than `before`; one without an image (a save
        that failed, or an image deleted) goes once its own time (in the claim) is.
        """
        self._index.reconcile()
        self._index.compact()
        with self._errors("list the id claims"):
            claims = [meta["path"] for batch in obstore.list(self._s3, prefix=CLAIMS_PREFIX) for meta in batch]
        stale = [key for key in claims if self._claimed_at(key) < before]
        if stale:
            with self._errors("remove old id claims"):
                obstore.delete(self._s3, stale)
        return len(stale)

    def _claimed_at(self, key: str) -> float:
        image_id = key.removeprefix(CLAIMS_PREFIX)
        indexed = [record for record in self._index.with_prefix(image_id, 1) if record.id == image_id]
        if indexed:
            return created_at(indexed[0])
        with self._errors("read an id claim"):
            raw = read_object(self._s3, key)
        if raw is None:
            return math.inf
        try:
            return float(json.loads(raw)["claimed"])
        except (ValueError, TypeError, KeyError):
            return 0.0  # an empty claim of a version before claims were dated: long past

    def ledger(self, month: str, after: int = -1) -> dict[int, LedgerEntry]:
        """The month's entries above `after` (`ledger/<month>/<number>.json`): one LIST, from the key after
        `after` on (keys sort by number), and a GET for each entry not read before."""
        prefix = self._ledger_prefix(month)
        offset = prefix + ledger_name(after) if after >= 0 else None
        with self._errors("read the spend ledger"):
            listed = obstore.list(self._s3, prefix=prefix, offset=offset)
            keys = [meta["path"] for batch in listed for meta in batch]
            return month_entries(month, ((key.rsplit("/", 1)[-1], key) for key in keys), self._ledger, self._entry)

    def _entry(self, key: str) -> LedgerEntry | None:
        return decode_entry(bytes(obstore.get(self._s3, key).bytes()), self._where + key)

    def append_ledger(self, month: str, number: int, entry: LedgerEntry) -> bool:
        """A conditional put (`If-None-Match: *`): exactly one instance gets each number."""
        key = self._ledger_prefix(month) + ledger_name(number)
        with self._errors("write the spend ledger"):
            try:
                obstore.put(self._s3, key, encode_entry(entry), mode="create")
            except AlreadyExistsError:
                return False
        self._ledger[(month, number)] = entry
        return True

    def ledger_checkpoint(self, month: str) -> bytes | None:
        with self._errors("read the spend ledger"):
            return read_object(self._s3, self._ledger_prefix(month) + LEDGER_CHECKPOINT)

    def save_ledger_checkpoint(self, month: str, data: bytes) -> None:
        with self._errors("write the spend ledger"):
            obstore.put(self._s3, self._ledger_prefix(month) + LEDGER_CHECKPOINT, data)

    @staticmethod
    def _ledger_prefix(month: str) -> str:
        return f"ledger/{checked_month(month)}/"

    def _locate(self, name: str) -> str:
        return self._where + name

    def _claim_id(self) -> str:
        """An id no other instance holds: `ids/<id>` is created only if it does not exist yet (and no indexed image
        has it: claims of old images are compacted away)."""
        for _ in range(CLAIM_ATTEMPTS):
            candidate = secrets.token_hex(ID_LENGTH // 2)
            if self._index.has_id(candidate):
                continue
            with self._errors("claim an image id"):
                try:
                    claim = json.dumps({"claimed": self._clock.timestamp()}).encode()
                    obstore.put(self._s3, CLAIMS_PREFIX + candidate, claim, mode="create")
                except AlreadyExistsError:
                    continue
            return candidate
        raise StoreError(f"Could not claim a free image id in {self._where} in {CLAIM_ATTEMPTS} attempts.")


def _attributes(record: ImageRecord) -> Attributes:
    """What the bucket answers a GET of the image with: its type, and for an SVG (which may carry a script) the
    disposition of an attachment, so a presigned link opened in a browser is downloaded, never run."""
    attributes: Attributes = {"Content-Type": record.mime_type}
    if record.mime_type == SVG_MIME:
        attributes["Content-Disposition"] = f'attachment; filename="{record.name}"'
    return attributes


class S3JobBoard:
    """Job records as `jobs/<job id>.json` and idempotency keys as `keys/<digest>.json`: written by the instance
    running the call, read by any instance.

    The sweep reads every record; a record that can no longer change (a finished job, a key) is read once per
    instance, keyed by its ETag.
    """

    def __init__(self, client: ObjectStore, where: str, timeout: float) -> None:
        self._s3 = client
        self._where = where
        self._timeout = timeout
        self._finished: dict[str, tuple[str | None, JobState]] = {}
        self._keys: dict[str, tuple[str | None, KeyRecord]] = {}

    def _errors(self, action: str) -> AbstractContextManager[None]:
        return bucket_errors(action, self._where, self._timeout)

    def publish(self, state: JobState) -> None:
        with self._errors(f"record job {state.id}"):
            obstore.put(self._s3, _job_key(state.id), encode_state(state))

    def fetch(self, job_id: str) -> JobState | None:
        if not JOB_ID.match(job_id):
            return None
        raw = self._get(_job_key(job_id), f"read job {job_id}")
        return None if raw is None else decode_state(raw, self._where + _job_key(job_id))

    def states(self) -> list[JobState]:
        return self._read_all(JOBS_PREFIX, "the job records", self._finished, decode_state, lasting=_finished)

    def remove(self, job_id: str) -> None:
        if JOB_ID.match(job_id):
            self._delete(_job_key(job_id), f"remove job {job_id}")

    def claim_key(self, record: KeyRecord, *, replace_before: float) -> KeyRecord:
        """A conditional put (`If-None-Match: *`): exactly one call gets each key."""
        path = _key_path(record.digest)
        with self._errors("claim an idempotency key"):
            try:
                obstore.put(self._s3, path, encode_key(record), mode="create")
                return record
            except AlreadyExistsError:
                pass
        holder = self.key(record.digest)
        if holder is not None and holder.created >= replace_before:
            return holder
        with self._errors("claim an idempotency key"):
            obstore.put(self._s3, path, encode_key(record))  # expired (or unreadable): the key is free again
        return record

    def key(self, digest: str) -> KeyRecord | None:
        raw = self._get(_key_path(digest), "read an idempotency key")
        return None if raw is None else decode_key(raw, self._where + _key_path(digest))

    def key_records(self) -> list[KeyRecord]:
        return self._read_all(KEYS_PREFIX, "the idempotency keys", self._keys, decode_key, lasting=_always)

    def remove_key(self, digest: str) -> None:
        self._delete(_key_path(digest), "remove an idempotency key")

    def _read_all(
        self,
        prefix: str,
        what: str,
        known: dict[str, tuple[str | None, T]],
        decode: Callable[[bytes, str], T | None],
        *,
        lasting: Callable[[T], bool],
    ) -> list[T]:
        """Every record under `prefix`: one LIST, then a GET for each record not read before (or changed since),
        several at once. A record that can no longer change (`lasting`) is remembered in `known` by its ETag."""
        listed = self._listed(prefix, f"list {what}")
        for gone in set(known) - set(listed):
            del known[gone]
        unread = [key for key, etag in listed.items() if key not in known or known[key][0] != etag]
        records = [known[key][1] for key in listed if key not in unread]
        if not unread:
            return records
        with self._errors(f"read {what}"):
            raws = read_objects(self._s3, unread)
        for key, raw in zip(unread, raws, strict=True):
            record = None if raw is None else decode(raw, self._where + key)
            if record is None:
                continue
            if lasting(record):
                known[key] = (listed[key], record)
            records.append(record)
        return records

    def _listed(self, prefix: str, action: str) -> dict[str, str | None]:
        with self._errors(action):
            return {
                meta["path"]: meta.get("e_tag") for batch in obstore.list(self._s3, prefix=prefix) for meta in batch
            }

    def _get(self, key: str, action: str) -> bytes | None:
        with self._errors(action):
            return read_object(self._s3, key)

    def _delete(self, key: str, action: str) -> None:
        with self._errors(action):
            obstore.delete(self._s3, key)


def _finished(state: JobState) -> bool:
    return state.status != "running"


def _always(_: KeyRecord) -> bool:
    return True


def _job_key(job_id: str) -> str:
    return f"{JOBS_PREFIX}{job_id}.json"


def _key_path(digest: str) -> str:
    if not KEY_DIGEST.match(digest):
        raise ValueError(f"not a key digest: {digest!r}")
    return f"{KEYS_PREFIX}{digest}.json"
