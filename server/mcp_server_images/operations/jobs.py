"""Jobs: every image-producing call runs as one, so that no client timeout can lose an image.

A job runs in the server's own task group, not in the request's. The tool waits for it up to the response
deadline and answers with the result, or with the job id when the image API is slower; the job carries on
either way and stores its images like any other call. Progress (steps, partial images, heartbeats) goes to
whoever is watching: the original call while it waits, a `get_job` call later.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

import anyio
from anyio.abc import TaskGroup

from ..clock import Clock
from ..errors import ImageServerError
from ..store import JobBoard, JobState, Operation
from ..store.base import JobStatus
from ..telemetry import JobReport, Telemetry
from .calls import run_call
from .deps import ImageDeps
from .drain import Drain
from .ledger import BudgetError
from .pipeline import ImagePlan
from .requests import CallContext, ImageCallRequest, ImagesOutcome

log = logging.getLogger(__name__)

Listener = Callable[[float, float | None, str], Awaitable[None]]
"""Receives (progress, total, message); progress is the elapsed seconds, strictly increasing."""
KEEP_FINISHED = 200
"""Finished jobs kept in memory for get_job; older ones are found through their records in the store."""
STOP_WAIT = 10.0
"""Seconds a job stopped at shutdown gets to record that it was stopped."""


@dataclass(eq=False)
class Job:
    id: str
    operation: Operation
    """What the job makes, to render its result the way the starting tool would have."""
    user: str | None = None
    """Who started it (OAuth subject), published with a shared job."""
    started_at: float = 0.0
    """Wall-clock start (seconds since the epoch, from the server's clock), for other instances: monotonic clocks
    are per process."""
    started: float = field(default_factory=time.monotonic)
    status: JobStatus = "running"
    outcome: ImagesOutcome | None = None
    error: str | None = None
    latest_partial: bytes | None = None
    """The latest partial image, for status answers."""
    partial_note: str = ""
    """What the latest partial is ("partial image 1 of 2 received after 23 s")."""
    message: str = "starting"
    refused: bool = False
    """A budget refused it before anything was sent."""
    stopped_by: str | None = None
    """Why the server stopped it, when it did (the shutdown grace period ran out)."""
    done: anyio.Event = field(default_factory=anyio.Event)
    cancel_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    listeners: list[Listener] = field(default_factory=list)
    _last_progress: float = -1.0
    _last_event: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def step(self, message: str) -> None:
        self.message = message
        await self._notify(message)

    async def partial(self, index: int, total: int, data: bytes) -> None:
        self.latest_partial = data
        self.partial_note = f"partial image {index} of {total} received after {self.elapsed:.0f} s"
        await self.step(self.partial_note)

    async def _notify(self, message: str) -> None:
        self._last_event = time.monotonic()
        progress = max(round(self.elapsed, 3), self._last_progress + 0.001)
        self._last_progress = progress
        for listener in list(self.listeners):
            try:
                await listener(progress, None, message)
            except Exception as exc:
                log.debug("progress listener failed: %r", exc)

    async def heartbeat(self, interval: float) -> None:
        """While running, make sure something is said at least every `interval` seconds."""
        while not self.done.is_set():
            with anyio.move_on_after(interval):
                await self.done.wait()
            quiet = time.monotonic() - self._last_event
            if not self.done.is_set() and quiet >= interval * 0.9:
                await self.step(f"waiting for the image API: {self.elapsed:.0f} s elapsed")

    def cancel(self, why: str | None = None) -> None:
        """Stop the job: the cancel-upstream setting (no reason), or the server stopping (`why`)."""
        self.stopped_by = why
        self.cancel_scope.cancel()


class JobManager:
    """Starts jobs in the server's task group and finds them again by id."""

    def __init__(
        self,
        group: TaskGroup,
        *,
        clock: Clock,
        heartbeat_interval: float,
        publisher: JobPublisher,
        telemetry: Telemetry,
    ) -> None:
        self._group = group
        self._clock = clock
        self._heartbeat = heartbeat_interval
        self._publisher = publisher
        """Publishes jobs to the store, so that any instance (or this server after a restart) can answer for them."""
        self._telemetry = telemetry
        self._jobs: dict[str, Job] = {}
        self._drained = anyio.Event()

    @staticmethod
    def new_id() -> str:
        """A job id: 64 random bits, so ids never collide across instances and days."""
        return f"job_{secrets.token_hex(8)}"

    def start(
        self, deps: ImageDeps, request: ImageCallRequest, plan: ImagePlan, call: CallContext, job_id: str | None = None
    ) -> Job:
        """Run the planned call in the server's task group with `deps` (the caller's view of the store) under
        `job_id` (a new one without); `call` gets the job as its progress and id."""
        job = Job(
            id=job_id or self.new_id(), operation=plan.operation, user=call.user, started_at=self._clock.timestamp()
        )
        self._forget_old()
        self._jobs[job.id] = job
        call = replace(call, progress=job, job_id=job.id)
        self._group.start_soon(self._run, job, deps, request, plan, call, name=job.id)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id.strip())

    def _forget_old(self) -> None:
        finished = [job for job in self._jobs.values() if job.done.is_set()]
        for job in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]

    def running(self) -> list[Job]:
        return [job for job in self._jobs.values() if job.status == "running"]

    async def _run(
        self, job: Job, deps: ImageDeps, request: ImageCallRequest, plan: ImagePlan, call: CallContext
    ) -> None:
        # Shielded: a shutdown or a cancelled request must not cut a paid-for generation short. Only the job's own
        # scope stops it (job.cancel(): the cancel-upstream setting, or the end of the shutdown grace period).
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as beats:
                beats.start_soon(job.heartbeat, self._heartbeat)
                await self._publisher.publish(job)
                beats.start_soon(self._publisher.renew, job)
                try:
                    with job.cancel_scope:
                        job.outcome = await run_call(deps, request, plan, call)
                        job.status = "succeeded"
                    if job.cancel_scope.cancelled_caught:
                        job.status, job.error = "failed", await self._stopped(job, deps)
                except BudgetError as exc:
                    job.status, job.error, job.refused = "failed", str(exc), True
                except ImageServerError as exc:
                    job.status, job.error = "failed", str(exc)
                except Exception as exc:
                    log.exception("job %s failed unexpectedly", job.id)
                    job.status, job.error = "failed", f"Unexpected error: {type(exc).__name__}: {exc}"
                finally:
                    if job.status == "succeeded":
                        job.latest_partial = None  # the final images are stored; the preview has served its turn
                    await self._publisher.publish(job)  # before done: whoever was waiting may ask elsewhere next
                    self._telemetry.job_ended(_report(job))
                    job.done.set()
        log.info("job %s %s after %.1f s", job.id, job.status, job.elapsed)

    async def _stopped(self, job: Job, deps: ImageDeps) -> str:
        """What a stopped job tells whoever asks for it later."""
        if job.stopped_by is None:
            return "The call was cancelled and the upstream request aborted."
        kept = await anyio.to_thread.run_sync(deps.store.job_images, job.id)
        stored = f" The images it had stored are kept: {', '.join(r.id for r in kept)}." if kept else ""
        return (
            f"Job {job.id} was stopped: {job.stopped_by}, before the image API answered, so it will not finish."
            f"{stored} Run the call again (with a new idempotency_key, if it had one) to make the rest; "
            "list_images shows what is stored."
        )

    async def drain(self, drain: Drain) -> None:
        """When the transport begins the drain (a signal, the end of stdin): give the jobs running then what is left
        of the shutdown grace period to finish and store their images, then stop the rest; a stopped job records
        why, so that whoever holds its id is told. Runs in the server's task group from the start; the lifespan's
        end waits for it (`stopped`)."""
        await drain.begun()
        try:
            await self.finish_or_stop(drain.remaining(), drain.grace)
        finally:
            self._drained.set()

    async def stopped(self) -> None:
        """Return once the jobs running when the drain began have finished or been stopped."""
        await self._drained.wait()

    async def finish_or_stop(self, seconds: float, grace: float) -> None:
        """Give the running jobs `seconds` to finish, then stop the rest (the grace period of `grace` ran out)."""
        running = self.running()
        if not running:
            return
        log.info("waiting up to %.0f s for %d running job(s) to finish", seconds, len(running))
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(seconds):
                for job in running:
                    await job.done.wait()
            for job in running:
                if job.status == "running":
                    job.cancel(f"its server stopped (the shutdown grace period of {grace:.0f} s ran out)")
            with anyio.move_on_after(STOP_WAIT):
                for job in running:
                    await job.done.wait()
        for job in running:
            if job.status == "succeeded" and job.outcome is not None:
                kept = ", ".join(f"{r.id} ({r.location})" for r in job.outcome.images)
                log.info("job %s finished during shutdown; kept %s", job.id, kept)
            elif job.stopped_by is not None:
                log.warning("job %s did not finish within %.0f s and was stopped", job.id, grace)
            else:
                log.info("job %s ended during shutdown: %s", job.id, job.error)


# --- jobs in the store -----------------------------------------------------------------------------------------
# The instance running a job publishes it, so get_job on any instance (or on this server after a restart) can
# answer: it writes the job when it starts,
# renews its heartbeat every third of the lease while it runs, and writes the outcome (the stored image ids, or the
# error) before anyone waiting on it is told. Progress and partial images stay with the instance running the job;
# other instances report status from the store.


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
            ended=None if job.status == "running" else self.clock.timestamp(),
        )


def _report(job: Job) -> JobReport:
    outcome = job.outcome if job.status == "succeeded" else None
    if job.refused:
        status = "refused"
    elif job.stopped_by:
        status = "stopped"
    else:
        status = job.status
    return JobReport(
        operation=job.operation.value,
        status=status,
        model=outcome.model if outcome else None,
        images=len(outcome.images) if outcome else 0,
        cost=outcome.cost.amount if outcome and outcome.cost else None,
        usage=outcome.usage if outcome else None,
        user=job.user,
    )
