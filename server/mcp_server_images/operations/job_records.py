"""get_job's lookup: a job in this process's memory, else what the store knows about it.

The store knows a job in two ways: published by the instance that ran it (when several instances share a bucket),
or through the images it stored (a single server after a restart). A published job whose heartbeat stopped for
longer than its lease belonged to an instance that died: it is reported as lost, with the images it had stored.
A job is found only by those who may see what its user made (the store's owner-scoped view); to anyone else it
does not exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..backends.base import sum_usage
from ..errors import ImageServerError
from ..store import ImageRecord, JobState, Operation, Store
from ..store.base import JobStatus
from ..store.owned import OwnedStore
from .cost import Cost, stored_cost
from .jobs import Job, JobManager
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


def find_job(jobs: JobManager, store: OwnedStore, job_id: str, now: float) -> Job | StoredJob:
    """The job in memory, else as the store knows it, if its user's work is the caller's to see; blocks on the
    store, so run it in a thread. `now` is the server clock's time (seconds since the epoch), against which a
    published job's heartbeat is judged."""
    job = jobs.get(job_id)
    if job is not None and store.viewer.sees(job.user):
        return job
    wanted = job_id.strip()
    state = store.jobs.fetch(wanted) if store.jobs is not None else None
    if state is not None and store.viewer.sees(state.user):
        found = _from_state(store, state, now)
        if found.status != "running":
            said = found.status if found.error is None else f"failed: {found.error[:100]}"
            log.info("job %s of instance %s read from the store: %s", found.id, state.instance, said)
        return found
    records = store.job_images(wanted)
    if not records:
        raise JobNotFoundError(
            f"No job {job_id!r} is known. Jobs are kept while the server runs; after a restart only jobs whose "
            "images were stored can be found. Call list_images to see the stored images."
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
        records = [store.get(image_id) for image_id in state.images]
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
    silent = now - state.heartbeat
    if silent <= state.lease:
        return StoredJob(state.id, state.operation, "running", elapsed=elapsed)
    return StoredJob(state.id, state.operation, "failed", error=_lost(store, state, silent), elapsed=elapsed)


def _lost(store: Store, state: JobState, silent: float) -> str:
    kept = store.job_images(state.id)
    stored = (
        f" The images it had stored are kept: {', '.join(r.id for r in kept)}."
        if kept
        else " It had stored no image yet."
    )
    return (
        f"Job {state.id} was lost: instance {state.instance}, which was running it, stopped renewing it "
        f"{silent:.0f} s ago (lease {state.lease:.0f} s), so it will not finish.{stored} "
        "Run the call again for the rest; list_images shows what is stored."
    )
