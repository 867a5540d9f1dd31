"""The local store's job records and idempotency keys: `.jobs/<job id>.json` and `.keys/<digest>.json` in the
output folder, hidden so that no image path can name them.

Every server process using the folder sees them: a desktop client and a coding agent each start their own server
on the same folder, and a restarted server finds the jobs of the one before it (finished, stopped at shutdown, or
lost when its process died).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .base import (
    JOB_ID,
    KEY_DIGEST,
    JobState,
    KeyRecord,
    decode_key,
    decode_state,
    encode_key,
    encode_state,
)
from .files import create_exclusive, write_atomic

T = TypeVar("T")

JOBS_FOLDER = ".jobs"
KEYS_FOLDER = ".keys"


class LocalJobBoard:
    """Job records and keys as files; each write is atomic, and a key is claimed by an exclusive create."""

    def __init__(self, root: Path) -> None:
        self._jobs = root / JOBS_FOLDER
        self._keys = root / KEYS_FOLDER

    def publish(self, state: JobState) -> None:
        self._jobs.mkdir(parents=True, exist_ok=True)
        write_atomic(self._jobs / f"{state.id}.json", encode_state(state))

    def fetch(self, job_id: str) -> JobState | None:
        if not JOB_ID.match(job_id):
            return None
        return _read(self._jobs / f"{job_id}.json", decode_state)

    def states(self) -> list[JobState]:
        return [state for path in _files(self._jobs) if (state := _read(path, decode_state)) is not None]

    def remove(self, job_id: str) -> None:
        if JOB_ID.match(job_id):
            (self._jobs / f"{job_id}.json").unlink(missing_ok=True)

    def claim_key(self, record: KeyRecord, *, replace_before: float) -> KeyRecord:
        self._keys.mkdir(parents=True, exist_ok=True)
        path = self._key_path(record.digest)
        if create_exclusive(path, encode_key(record), sync=True):
            return record
        holder = _read(path, decode_key)
        if holder is not None and holder.created >= replace_before:
            return holder
        write_atomic(path, encode_key(record))  # expired (or unreadable): the key is free again
        return record

    def key(self, digest: str) -> KeyRecord | None:
        return _read(self._key_path(digest), decode_key)

    def key_records(self) -> list[KeyRecord]:
        return [record for path in _files(self._keys) if (record := _read(path, decode_key)) is not None]

    def remove_key(self, digest: str) -> None:
        self._key_path(digest).unlink(missing_ok=True)

    def _key_path(self, digest: str) -> Path:
        if not KEY_DIGEST.match(digest):
            raise ValueError(f"not a key digest: {digest!r}")
        return self._keys / f"{digest}.json"


def _files(folder: Path) -> list[Path]:
    """The records in a folder (temporary files of writes in progress are not)."""
    if not folder.is_dir():
        return []
    return [path for path in folder.iterdir() if path.suffix == ".json" and not path.name.startswith(".")]


def _read(path: Path, decode: Callable[[bytes, str], T | None]) -> T | None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return decode(raw, str(path))
