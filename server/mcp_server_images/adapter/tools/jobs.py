"""Image-producing calls as jobs: start one, forward its progress while waiting up to a deadline, then render.

A job outlives the call that started it; what the caller sees is the result, or the job id to pass to get_job.
While the server is stopping, a call waits no longer than the shutdown grace period allows: it answers with the
result when the job finishes in time, else with the job id, which any instance can then answer for.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio
from mcp.types import CallToolResult, LoggingLevel, TextContent

from ...errors import ImageServerError
from ...operations.job_records import StoredJob, find_job
from ...operations.jobs import Job
from ...operations.pipeline import ImagePlan
from ...operations.requests import CallContext, ImageCallRequest, ImagesOutcome
from ...services import Services
from ...store import Operation
from ..client_log import client_log
from ..context import Ctx, services_of
from ..serving.links import image_url
from .render import Showing, error_result, images_result, job_status_result, keeping_text
from .shapes import STANDARD, Shape, host_shape

POLL_INTERVAL = 1.0
"""Seconds between reads of a job that another instance runs."""


async def run_as_job(
    ctx: Ctx, request: ImageCallRequest, plan: ImagePlan, call: CallContext, job_id: str
) -> CallToolResult:
    """Run a planned image call as job `job_id` (`call` says who pays: its spending reserves before the request is
    sent), wait up to the response deadline, render its result or its id."""
    services = services_of(ctx)
    job = services.jobs.start(services.images, request, plan, call, job_id)
    return await wait_for_job(ctx, job, services.settings.response_deadline)


async def answer_job(ctx: Ctx, job_id: str, wait_seconds: float) -> CallToolResult:
    """What get_job answers: the job's result, failure or status, waiting up to `wait_seconds` (capped by the
    response deadline) while it runs, here or on another instance."""
    try:
        job = await anyio.to_thread.run_sync(find(services_of(ctx)), job_id)
    except ImageServerError as exc:
        return error_result(str(exc))
    return await answer_found(ctx, job, wait_seconds)


async def answer_found(ctx: Ctx, job: Job | StoredJob, wait_seconds: float) -> CallToolResult:
    services = services_of(ctx)
    deadline = services.settings.response_deadline
    wait = min(wait_seconds, deadline) if deadline > 0 else wait_seconds
    if wait <= 0 or (isinstance(job, StoredJob) and job.status != "running"):
        return await render_job(services, job, host_shape(ctx, services.settings.result_shape))
    if isinstance(job, StoredJob):
        return await wait_for_stored(ctx, job, wait)
    return await wait_for_job(ctx, job, wait)


def find(services: Services) -> Callable[[str], Job | StoredJob]:
    """`find_job` on these services, now, for a worker thread."""

    def look_up(job_id: str) -> Job | StoredJob:
        kept = services.settings.record_retention_hours
        return find_job(services.jobs, services.store, job_id, services.clock.timestamp(), kept)

    return look_up


async def wait_for_job(ctx: Ctx, job: Job, wait: float) -> CallToolResult:
    """Forward the job's progress to this call while waiting up to `wait` seconds (0: no limit), then answer.

    If the call is cancelled, the job goes on (its images still land in the store) unless the server is set to
    abort the upstream request.
    """
    services = services_of(ctx)

    async def forward(progress: float, total: float | None, message: str) -> None:
        await ctx.report_progress(progress, total, message)

    job.listeners.append(forward)
    try:
        await services.drain.wait(job.done, wait if wait > 0 else math.inf)
    except anyio.get_cancelled_exc_class():
        if services.settings.cancel_upstream:
            job.cancel()
        raise
    finally:
        job.listeners.remove(forward)
    await client_log(ctx, *_summary(job))
    return await render_job(services, job, host_shape(ctx, services.settings.result_shape))


async def wait_for_stored(ctx: Ctx, job: StoredJob, wait: float) -> CallToolResult:
    """A job another instance runs: read its state from the store until it ends or `wait` seconds pass, saying
    so as progress (its own progress stays with the instance running it)."""
    services = services_of(ctx)
    current: Job | StoredJob = job
    polled = anyio.Event()  # never set: each poll waits its interval, or less once the server is stopping
    ends = anyio.current_time() + wait
    while isinstance(current, StoredJob) and current.status == "running" and anyio.current_time() < ends:
        elapsed = current.elapsed
        await ctx.report_progress(elapsed, None, f"running on another instance: {elapsed:.0f} s elapsed")
        await services.drain.wait(polled, min(POLL_INTERVAL, ends - anyio.current_time()))
        if services.drain.draining and anyio.current_time() >= services.drain.answer_by():
            break
        try:
            current = await anyio.to_thread.run_sync(find(services), job.id)
        except ImageServerError as exc:
            return error_result(str(exc))
    return await render_job(services, current, host_shape(ctx, services.settings.result_shape))


def _summary(job: Job) -> tuple[LoggingLevel, str]:
    """The log line a client gets when a call answers: the images stored, the failure, or the job to ask about."""
    if job.status == "failed":
        return "error", f"{job.operation.value} failed: {job.error}"
    if job.status == "running" or job.outcome is None:
        return "warning", (
            f"{job.operation.value} is still running after {job.elapsed:.0f} s; answered with job id {job.id} "
            "(get_job returns the result)"
        )
    ids = ", ".join(record.id for record in job.outcome.images)
    return "info", f"{job.operation.value}: stored {len(job.outcome.images)} image(s) with {job.outcome.model}: {ids}"


async def render_job(services: Services, job: Job | StoredJob, shape: Shape = STANDARD) -> CallToolResult:
    if isinstance(job, StoredJob):
        return await render_stored(services, job, shape)
    if job.status == "failed":
        return error_result(job.error or "The call failed.")
    if job.status == "running" or job.outcome is None:
        partial, note, elapsed = job.latest_partial, job.partial_note, job.elapsed
        budget = services.settings.inline_budget
        status = await anyio.to_thread.run_sync(
            lambda: job_status_result(job.id, elapsed, partial, note, budget, shape)
        )
        return _while_stopping(services, status)
    return await render_outcome(services, job.outcome, job.operation, shape)


def _while_stopping(services: Services, status: CallToolResult) -> CallToolResult:
    """A job status given while this server stops says so: the job gets the rest of the grace period."""
    drain = services.drain
    if not drain.draining or not status.content or not isinstance(status.content[0], TextContent):
        return status
    said = status.content[0].text + (
        f" This server is stopping: the job has {drain.remaining():.0f} s left to finish, and get_job on any "
        "instance (or on this one once it is back) answers for it."
    )
    return status.model_copy(update={"content": [TextContent(type="text", text=said), *status.content[1:]]})


async def render_stored(services: Services, job: StoredJob, shape: Shape = STANDARD) -> CallToolResult:
    if job.status == "failed":
        return error_result(job.error or "The call failed.")
    if job.outcome is None:
        budget = services.settings.inline_budget
        return await anyio.to_thread.run_sync(lambda: job_status_result(job.id, job.elapsed, None, "", budget, shape))
    return await render_outcome(services, job.outcome, job.operation, shape)


def showing_of(services: Services, shape: Shape) -> Showing:
    """How this server's image results show their images to a host of this shape."""
    settings = services.settings
    keeping = keeping_text(local=services.store.folder is not None, expiry_days=settings.image_expiry_days)
    return Showing(settings.inline, settings.inline_budget, keeping, shape)


async def render_outcome(
    services: Services, outcome: ImagesOutcome, operation: Operation, shape: Shape = STANDARD
) -> CallToolResult:
    """Render the images within the inline budget as `shape` says the host can use them, off the event loop: the
    ones just received from memory (taken from the outcome, so a later rendering reads the store), earlier ones
    from the store."""
    showing = showing_of(services, shape)

    def render() -> CallToolResult:
        fresh = [outcome.fresh.pop(record.id, None) for record in outcome.images]
        files = [
            one.data if one else services.store.read(record) for one, record in zip(fresh, outcome.images, strict=True)
        ]
        pixels = [one.pixels if one else None for one in fresh]
        urls = [image_url(services, record) for record in outcome.images]
        return images_result(
            outcome,
            operation=operation,
            showing=showing,
            files=files,
            urls=urls,
            pixels=pixels,
        )

    return await anyio.to_thread.run_sync(render)
