"""The store's housekeeping, so that nothing it keeps for a call's life grows forever.

Every instance sweeps every `sweep_interval` seconds (the first time right after it starts); sweeps by several
instances at once only repeat each other's work. A sweep:
- marks a running job whose instance stopped renewing it (a crash) as lost, so every later reader gets the same
  answer without judging leases again;
- removes the records of jobs that ended more than the retention window ago (get_job still finds a succeeded job
  through its images' sidecars) and the idempotency keys older than it;
- removes the store's id bookkeeping older than it (the S3 store's id claims), and has the S3 store reconcile its
  index with the bucket (images put there by other tools) and snapshot the index's journal;
- deletes images older than `image_expiry_days`, when that is set (off by default), oldest first, a batch at a time.
Times are judged by the server's clock against the times the records hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio

from ..clock import Clock
from ..errors import ImageServerError
from ..store import Store
from ..telemetry import Telemetry
from .lost_jobs import is_lost, lost_state

log = logging.getLogger(__name__)

EXPIRY_BATCH = 500
"""Images the expiry sweep asks the store for at once."""


@dataclass(frozen=True)
class Swept:
    lost: int = 0
    jobs: int = 0
    keys: int = 0
    claims: int = 0
    images: int = 0

    def __bool__(self) -> bool:
        return any((self.lost, self.jobs, self.keys, self.claims, self.images))


@dataclass(frozen=True)
class Housekeeping:
    store: Store
    clock: Clock
    telemetry: Telemetry
    retention: float
    """Seconds job records, idempotency keys and id bookkeeping are kept after their call."""
    expiry: float | None
    """Seconds images are kept after they were made; None keeps them until deleted."""

    def sweep(self) -> Swept:
        """One sweep (see the module's docstring). Blocks on the store."""
        now = self.clock.timestamp()
        before = now - self.retention
        board = self.store.jobs
        lost = removed = 0
        for state in board.states():
            if is_lost(state, now):
                board.publish(lost_state(self.store, state, now))
                self.telemetry.job_lost()
                log.warning("job %s of instance %s was lost (no heartbeat within its lease)", state.id, state.instance)
                lost += 1
            elif state.status != "running" and state.settled_at < before:
                board.remove(state.id)
                removed += 1
        old_keys = [record.digest for record in board.key_records() if record.created < before]
        for digest in old_keys:
            board.remove_key(digest)
        claims = self.store.compact(before)
        return Swept(lost, removed, len(old_keys), claims, self._expire(now))

    def _expire(self, now: float) -> int:
        """Delete the images made before the expiry, oldest first, a batch at a time: the cost follows the images
        that expire, not the images kept."""
        if self.expiry is None:
            return 0
        deleted = 0
        while True:
            expired = self.store.made_before(now - self.expiry, EXPIRY_BATCH)
            for record in expired:
                self.store.delete(record)
            deleted += len(expired)
            if len(expired) < EXPIRY_BATCH:
                return deleted

    async def run(self, interval: float) -> None:
        """Sweep now and every `interval` seconds until cancelled; a sweep that fails is logged and tried again."""
        while True:
            try:
                swept = await anyio.to_thread.run_sync(self.sweep, abandon_on_cancel=True)
            except (ImageServerError, OSError) as exc:
                log.warning("the sweep of %s failed (it runs again in %g s): %s", self.store.location, interval, exc)
            else:
                if swept:
                    log.info("swept %s: %s", self.store.location, swept)
            await anyio.sleep(interval)
