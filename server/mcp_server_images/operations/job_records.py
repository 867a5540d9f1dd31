"""get_job's lookup: a job in this process's memory, else what the store knows about it.

The store knows a job in two ways: by the record the instance running it published (in a bucket, or in the local
folder, so a restarted server finds it too), kept for the retention window after the job ended; or, once that
record is gone, through the images it stored. A published job whose heartbeat stopped for longer than its lease
belonged to an instance that died: it is reported as lost, with the images it had stored. A job is found only by
those who may see what its user made (the store's owner-scoped view); to anyone else it does not exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..backends.base import sum_usage
from ..errors import ImageServerError
from ..store import ImageNotFoundError, ImageRecord, JobState, Operation, Store
from ..store.base import JobStatus
from ..store.owned import OwnedStore
from .cost import Cost, stored_cost
from .jobs import Job, JobManager
from .lost_jobs import is_lost, lost_text
from .requests import ImagesOutcome

log = logging.getLogger(__name__)


class JobNotFoundError(ImageServerError):
    """Neither a running job nor stored images have this job id."""


@dataclass(frozen=True)
class StoredJob:
    """A job known from the store, not from this process: finished before a restart, or run by another instance."""

    id: str
    operation: Operation
    status: JobStatus
    outcome: ImagesOutcome | None = None
    error: str | None = None
    elapsed: float = 0.0


def find_job(jobs: JobManager, store: OwnedStore, job_id: str, now: float, kept_hours: float) -> Job | StoredJob:
    """The job in memory, else as the store knows it, if its user's work is the caller's to see; blocks on the
    store, so run it in a thread. `now` is the server clock's time (seconds since the epoch), against which a
    published job's heartbeat is judged; `kept_hours` is how long job records are kept, for the answer about a
    job nobody knows."""
    job = jobs.get(job_id)
    if job is not None and store.viewer.sees(job.user):
        return job
    wanted = job_id.strip()
    state = store.jobs.fetch(wanted)
    if state is not None and store.viewer.sees(state.user):
        found = _from_state(store, state, now)
        if found.status != "running":
            said = found.status if found.error is None else f"failed: {found.error[:100]}"
            log.info("job %s of instance %s read from the store: %s", found.id, state.instance, said)
        return found
    records = store.job_images(wanted)
    if not records:
        raise JobNotFoundError(
            f"No job {job_id!r} is known. No server is running it, and the store has neither its record nor images "
            f"it made (job records are kept for {kept_hours:g} hours after their call ends, images until deleted). "
            "Check the id, or call list_images to see the stored images."
        )
    notes = [f"Recovered from the store: job {wanted} finished earlier."]
    return StoredJob(wanted, records[0].operation or Operation.GENERATE, "succeeded", recovered_outcome(records, notes))


def recovered_outcome(records: list[ImageRecord], notes: list[str]) -> ImagesOutcome:
    """A job's outcome rebuilt from its stored images (after a restart, the job itself is gone)."""
    usage = sum_usage({r.request_id: r.usage for r in records}.values())  # one usage per upstream answer
    return ImagesOutcome(records, records[0].model or "unknown", usage, notes, cost=_cost_of(records))


def _cost_of(records: list[ImageRecord]) -> Cost | None:
    return stored_cost(list({r.request_id: r.cost for r in records}.values()))  # one cost per upstream answer


def _from_state(store: Store, state: JobState, now: float) -> StoredJob:
    elapsed = max(0.0, now - state.started)
    if state.status == "succeeded":
        records = [record for image_id in state.images if (record := _still_stored(store, image_id)) is not None]
        if not records:
            error = f"Job {state.id} succeeded, but the images it made have been deleted since."
            return StoredJob(state.id, state.operation, "failed", error=error, elapsed=elapsed)
        notes = [*state.notes, f"Job {state.id} ran on instance {state.instance}."]
        outcome = ImagesOutcome(
            records,
            state.model or "unknown",
            state.usage,
            notes,
            state.method,
            [Path(p) for p in state.saved],
            cost=_cost_of(records),
        )
        return StoredJob(state.id, state.operation, "succeeded", outcome, elapsed=elapsed)
    if state.status == "failed":
        return StoredJob(state.id, state.operation, "failed", error=state.error, elapsed=elapsed)
    if not is_lost(state, now):
        return StoredJob(state.id, state.operation, "running", elapsed=elapsed)
    return StoredJob(state.id, state.operation, "failed", error=lost_text(store, state), elapsed=elapsed)


def _still_stored(store: Store, image_id: str) -> ImageRecord | None:
    """The image, unless it was deleted (by its owner, or when it expired) after the job made it."""
    try:
        return store.get(image_id)
    except ImageNotFoundError:
        return None
