"""Idempotency keys: a producing call repeated with the same key gets the first call's answer, and is not paid again.

A client that lost its answer (a dropped connection, an instance killed under it, a timeout of its own) cannot know
whether its call went through; with an `idempotency_key` it can safely call again, on any instance. The key is
claimed in the store, tied to the job the first call starts, before anything is sent: a repeat within the
retention window finds that job (running, finished, failed or lost) and is answered from it; nothing is planned,
sent or reserved again. A key is the user's own: the same key from another signed-in user is another key.

Only calls that start a job claim their key; a call refused before that (invalid arguments, a dry run, a
confirmation declined) leaves it free, so the corrected call can use it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..clock import Clock
from ..store import JobBoard, KeyRecord


@dataclass(frozen=True)
class Keys:
    board: JobBoard
    clock: Clock
    window: float
    """Seconds a key stays tied to its first call (the record retention window)."""

    def holder(self, key: str, user: str | None) -> str | None:
        """The job id of the earlier call with this key within the window, or None. Blocks on the store."""
        record = self.board.key(digest(key, user))
        if record is None or record.created < self.clock.timestamp() - self.window:
            return None
        return record.job_id

    def claim(self, key: str, user: str | None, job_id: str) -> str:
        """Tie the key to `job_id` unless an earlier call holds it: the job id that holds it afterwards. Blocks."""
        now = self.clock.timestamp()
        record = KeyRecord(digest=digest(key, user), job_id=job_id, created=now)
        return self.board.claim_key(record, replace_before=now - self.window).job_id


def digest(key: str, user: str | None) -> str:
    """What the store keeps for a key: a hash of who gave it and the key."""
    return hashlib.sha256(f"{user or ''}\0{key}".encode()).hexdigest()
