"""Jobs in a shared store: the instance running a job publishes it, so get_job on any instance can answer.

The instance writes the job when it starts, renews its heartbeat every third of the lease while it runs, and
writes the outcome (the stored image ids, or the error) before anyone waiting on it is told. Progress and partial
images stay with the instance running the job; other instances report status from the store.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from ..clock import Clock
from ..store import JobBoard, JobState

if TYPE_CHECKING:
    from .jobs import Job

log = logging.getLogger(__name__)


class JobPublisher:
    def __init__(self, board: JobBoard, *, instance: str, lease: float, clock: Clock) -> None:
        self.board = board
        self.instance = instance
        self.lease = lease
        self.clock = clock

    async def publish(self, job: Job) -> None:
        """Write the job's state; a store that fails is logged, never the job's failure."""
        state = self.state_of(job)
        try:
            await anyio.to_thread.run_sync(self.board.publish, state)
        except Exception as exc:  # the images are what matters; a job record that could not be written is not
            log.warning("could not publish job %s (%s): %s", job.id, job.status, exc)

    async def renew(self, job: Job) -> None:
        """While the job runs, renew its heartbeat well within the lease."""
        while not job.done.is_set():
            with anyio.move_on_after(self.lease / 3):
                await job.done.wait()
            if not job.done.is_set():
                await self.publish(job)

    def state_of(self, job: Job) -> JobState:
        outcome = job.outcome if job.status == "succeeded" else None
        return JobState(
            id=job.id,
            operation=job.operation,
            status=job.status,
            instance=self.instance,
            started=job.started_at,
            heartbeat=self.clock.timestamp(),
            lease=self.lease,
            user=job.user,
            images=[record.id for record in outcome.images] if outcome else [],
            model=outcome.model if outcome else None,
            usage=outcome.usage if outcome else None,
            notes=outcome.notes if outcome else [],
            method=outcome.method if outcome else None,
            saved=[str(path) for path in outcome.saved] if outcome else [],
            error=job.error,
        )
