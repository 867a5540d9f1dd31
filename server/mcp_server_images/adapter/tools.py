"""MCP tool handlers: parse arguments, call an operation, render the result. Nothing else lives here.

Parameter descriptions are written for the assistant that calls the tool: what each parameter does and which
models take it, so that a first call is usually a valid one.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from mcp import MCPDeprecationWarning
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from ..catalog.models import ImageOptions
from ..errors import ImageServerError
from ..imaging.masks import Region
from ..inputs.refs import parse_path
from ..operations.analyze import AnalyzeRequest
from ..operations.images import (
    Call,
    EditRequest,
    GenerateRequest,
    ImageService,
    ImagesOutcome,
    SaveRequest,
    VariationRequest,
    finished_job,
)
from ..operations.jobs import Job
from ..services import Services
from ..settings import Settings
from .params import (
    Background,
    Count,
    EditModel,
    EditSize,
    ImageRef,
    InputFidelity,
    MaskRegion,
    Model,
    Moderation,
    OutputCompression,
    OutputFormat,
    Overwrite,
    Prompt,
    Quality,
    SaveTo,
    Size,
    Style,
)
from .render import (
    ImageList,
    ImagesResult,
    analysis_result,
    error_result,
    images_result,
    job_status_result,
    listing_result,
)

log = logging.getLogger(__name__)
ROOTS_TIMEOUT = 5.0
VERBS = {"generate": "Generated", "edit": "Edited", "variation": "Made"}


def services_of(ctx: Context[Services, Any]) -> Services:
    """The services the server's lifespan opened for this connection."""
    services: Services = ctx.request_context.lifespan_context
    return services


async def client_roots(ctx: Context[Services, Any]) -> list[Path]:
    """Folders the client offers (MCP roots), as local paths; empty when the client has none or cannot say."""
    capabilities = ctx.client_capabilities
    if capabilities is None or capabilities.roots is None:
        return []
    try:
        with anyio.fail_after(ROOTS_TIMEOUT), warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            listed = await ctx.session.list_roots()
    except Exception as exc:
        log.debug("could not list the client's roots: %r", exc)
        return []
    roots = []
    for root in listed.roots:
        ref = parse_path(str(root.uri), windows=os.name == "nt")
        if ref.windows == (os.name == "nt") and ref.path.is_absolute():
            roots.append(Path(ref.path))
    return roots


def save_request(save_to: str | None, overwrite: bool) -> SaveRequest | None:
    return SaveRequest(save_to, overwrite) if save_to else None


def wants_progress(ctx: Context[Services, Any]) -> bool:
    """Whether the caller sent a progress token (only then are partial images streamed)."""
    meta = ctx.request_context.meta
    if meta is None:
        return False
    return any(meta.get(key) is not None for key in ("progress_token", "progressToken"))


async def run_images_tool(
    settings: Settings,
    ctx: Context[Services, Any],
    operation: Callable[[ImageService, list[Path], Call], Awaitable[ImagesOutcome]],
    verb: str,
) -> CallToolResult:
    """The shared body of every image-producing tool: run it as a job, wait up to the deadline, render."""
    services = services_of(ctx)
    roots = await client_roots(ctx)
    partials = settings.partial_images if wants_progress(ctx) else 0

    def work(job: Job) -> Awaitable[ImagesOutcome]:
        return operation(services.images, roots, Call(progress=job, job_id=job.id, partial_images=partials))

    job = services.jobs.start(verb, work)
    return await wait_for_job(settings, ctx, job, settings.response_deadline)


async def wait_for_job(settings: Settings, ctx: Context[Services, Any], job: Job, wait: float) -> CallToolResult:
    """Forward the job's progress to this call while waiting up to `wait` seconds (0: no limit), then answer.

    If the call is cancelled, the job goes on (its images still land in the store) unless the server is set to
    abort the upstream request.
    """

    async def forward(progress: float, total: float | None, message: str) -> None:
        await ctx.report_progress(progress, total, message)

    job.listeners.append(forward)
    try:
        with anyio.move_on_after(wait if wait > 0 else math.inf):
            await job.done.wait()
    except anyio.get_cancelled_exc_class():
        if settings.cancel_upstream:
            job.cancel()
        raise
    finally:
        job.listeners.remove(forward)
    return await render_job(settings, services_of(ctx), job)


async def render_job(settings: Settings, services: Services, job: Job) -> CallToolResult:
    if job.status == "failed":
        return error_result(job.error or "The call failed.")
    if job.status == "running" or job.outcome is None:
        partial, note, elapsed = job.latest_partial, job.partial_note, job.elapsed
        return await anyio.to_thread.run_sync(
            lambda: job_status_result(job.id, elapsed, partial, note, settings.inline_budget)
        )
    return await render_outcome(settings, services, job.outcome, job.tool)


async def render_outcome(settings: Settings, services: Services, outcome: ImagesOutcome, verb: str) -> CallToolResult:
    """Read the stored files and render them within the inline budget, off the event loop."""

    def render() -> CallToolResult:
        files = [services.store.read(record) for record in outcome.images]
        return images_result(outcome, verb=verb, mode=settings.inline, budget=settings.inline_budget, files=files)

    return await anyio.to_thread.run_sync(render)


def register_tools(server: MCPServer[Services], settings: Settings) -> None:
    """Add the image tools to the server."""
    producing = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)

    @server.tool(title="Generate image", annotations=producing)
    async def generate_image(
        prompt: Prompt,
        ctx: Context[Services, Any],
        model: Model = None,
        n: Count = 1,
        size: Size = None,
        quality: Quality = None,
        style: Style = None,
        background: Background = None,
        output_format: OutputFormat = None,
        output_compression: OutputCompression = None,
        moderation: Moderation = None,
        save_to: SaveTo = None,
        overwrite: Overwrite = False,
    ) -> Annotated[CallToolResult, ImagesResult]:
        """Create images from a text prompt.

        Every image is saved to disk and gets a short id; the result shows each image (a downscaled preview when
        the original is too large to inline), links to the full file, and lists ids, paths and sizes. Use an id
        in later calls (edit_image, create_image_variation) instead of copying image data. Parameters left out
        use the model's defaults.
        """
        options = ImageOptions(
            n=n,
            size=size,
            quality=quality,
            style=style,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            moderation=moderation,
        )

        def operation(service: ImageService, roots: list[Path], call: Call) -> Awaitable[ImagesOutcome]:
            request = GenerateRequest(prompt, model, options, save_request(save_to, overwrite), roots)
            return service.generate(request, call)

        return await run_images_tool(settings, ctx, operation, "Generated")

    @server.tool(title="Edit image", annotations=producing)
    async def edit_image(
        images: Annotated[
            list[ImageRef],
            Field(
                min_length=1,
                max_length=16,
                description="1-16 images to edit or combine (GPT image models; dall-e-2 takes one square image). "
                "The first image is the one a mask applies to.",
            ),
        ],
        prompt: Annotated[
            str, Field(description="What to change, or how to combine the images, e.g. 'make the sky purple'.")
        ],
        ctx: Context[Services, Any],
        mask: Annotated[
            ImageRef | None,
            Field(
                description="Where to edit, as an image the size of the first image: a PNG with transparency "
                "(transparent = edit) or a black-and-white image (white = edit, black = keep)."
            ),
        ] = None,
        mask_region: Annotated[
            list[MaskRegion] | None,
            Field(
                description="Where to edit, as shapes in fractions of the image: e.g. the top-left quadrant is "
                '[{"shape": "rect", "x": 0, "y": 0, "width": 0.5, "height": 0.5}]; the sky is usually a rect '
                "across the top. Not together with mask."
            ),
        ] = None,
        mask_invert: Annotated[
            bool, Field(description="Edit everything except the mask or the shapes (e.g. 'everything but the face').")
        ] = False,
        model: EditModel = None,
        n: Count = 1,
        size: EditSize = None,
        quality: Quality = None,
        background: Background = None,
        input_fidelity: InputFidelity = None,
        output_format: OutputFormat = None,
        output_compression: OutputCompression = None,
        save_to: SaveTo = None,
        overwrite: Overwrite = False,
    ) -> Annotated[CallToolResult, ImagesResult]:
        """Edit images: change part of an image (with a mask or shapes), restyle it, or combine several images.

        Images are given by reference (stored id, path, URL, data URL or base64), never pasted pixels. Without a
        mask the model may change the whole image. Results are stored and shown like generate_image's.
        """
        options = ImageOptions(
            n=n,
            size=size,
            quality=quality,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            input_fidelity=input_fidelity,
        )
        regions = None if mask_region is None else [Region(**region.model_dump()) for region in mask_region]

        def operation(service: ImageService, roots: list[Path], call: Call) -> Awaitable[ImagesOutcome]:
            request = EditRequest(
                images, prompt, mask, regions, mask_invert, model, options, save_request(save_to, overwrite), roots
            )
            return service.edit(request, call)

        return await run_images_tool(settings, ctx, operation, "Edited")

    @server.tool(title="Create image variation", annotations=producing)
    async def create_image_variation(
        image: ImageRef,
        ctx: Context[Services, Any],
        n: Count = 1,
        size: Annotated[
            str | None,
            Field(description="dall-e-2: 256x256, 512x512 or 1024x1024. When emulated, a GPT image size or auto."),
        ] = None,
        model: Annotated[
            str | None,
            Field(
                description="dall-e-2 (default) uses the native variations endpoint (a square crop of the image "
                "is sent). Any other image model, or dall-e-2 where the provider no longer offers it, is "
                "emulated through edits with a variation prompt."
            ),
        ] = None,
        save_to: SaveTo = None,
        overwrite: Overwrite = False,
    ) -> Annotated[CallToolResult, ImagesResult]:
        """Make new images that look like a given one (same subject and style, different details).

        The result says whether the native variations endpoint or emulation through edits made them
        (structuredContent "method": "variations" or "edits").
        """

        def operation(service: ImageService, roots: list[Path], call: Call) -> Awaitable[ImagesOutcome]:
            request = VariationRequest(image, model, n, size, save_request(save_to, overwrite), roots)
            return service.vary(request, call)

        return await run_images_tool(settings, ctx, operation, "Made")

    @server.tool(
        title="Analyze image",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
    )
    async def analyze_image(
        images: Annotated[
            list[ImageRef],
            Field(
                min_length=1,
                max_length=16,
                description="1-16 images, in the order the prompt refers to them. Local and stored images larger "
                "than 2048 px on the long side (or 20 MB) are downscaled to 2048 px before sending; http(s) URLs "
                "are passed to the model as they are. Animated GIFs are refused.",
            ),
        ],
        ctx: Context[Services, Any],
        prompt: Annotated[
            str | None, Field(description="The question or instruction. Default: 'Describe this image.'")
        ] = None,
        model: Annotated[
            str | None,
            Field(description="Vision chat model (default: the server's, gpt-4o-mini; openai/gpt-4o-mini on Dedalus)."),
        ] = None,
        detail: Annotated[
            Literal["auto", "low", "high"],
            Field(description="How closely the model looks: low is cheap and coarse, high reads small text."),
        ] = "auto",
        max_tokens: Annotated[int | None, Field(ge=1, le=32_768, description="Longest answer, in tokens.")] = None,
        response_schema: Annotated[
            dict[str, Any] | None,
            Field(
                description="A JSON Schema (type object) for a structured answer, e.g. the fields of a receipt. "
                "The parsed object comes back as structuredContent.data and the JSON as text."
            ),
        ] = None,
    ) -> CallToolResult:
        """Look at images and answer: describe them, read text, compare them, or check an edit worked.

        Useful when the client cannot show images to you, or to verify a result before reporting it.
        """
        services = services_of(ctx)
        request = AnalyzeRequest(images, prompt, model, detail, max_tokens, response_schema, await client_roots(ctx))
        try:
            analysis = await services.vision.analyze(request)
        except ImageServerError as exc:
            return error_result(str(exc))
        return analysis_result(analysis)

    @server.tool(
        title="List images",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    async def list_images(
        ctx: Context[Services, Any],
        limit: Annotated[int, Field(ge=1, le=200, description="Most images to list, newest first.")] = 20,
        query: Annotated[
            str | None, Field(description="Only images whose prompt contains this text (case-insensitive).")
        ] = None,
        previews: Annotated[
            bool, Field(description="Also return small thumbnails (all together within the inline budget).")
        ] = False,
    ) -> Annotated[CallToolResult, ImageList]:
        """List stored images, newest first: ids, paths, sizes, prompts and models, to pick one for a next call."""
        store = services_of(ctx).store
        records = await anyio.to_thread.run_sync(lambda: store.recent(limit=limit, query=query))
        budget = settings.inline_budget if previews else 0
        return await anyio.to_thread.run_sync(lambda: listing_result(records, store, budget, query))

    @server.tool(
        title="Get job",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    async def get_job(
        job_id: Annotated[str, Field(description='The job id a slow call answered with, e.g. "job_3f9a2c7b".')],
        ctx: Context[Services, Any],
        wait_seconds: Annotated[
            float,
            Field(ge=0, description="How long to wait for the job to finish before answering (capped by the server)."),
        ] = 40,
    ) -> Annotated[CallToolResult, ImagesResult]:
        """Get the result of a call that outlived the response deadline: the images once ready, else its status.

        Finished jobs are found again after a server restart, from the stored images.
        """
        services = services_of(ctx)
        job = services.jobs.get(job_id)
        if job is not None:
            deadline = settings.response_deadline
            wait = min(wait_seconds, deadline) if deadline > 0 else wait_seconds
            return (
                await wait_for_job(settings, ctx, job, wait) if wait > 0 else await render_job(settings, services, job)
            )
        records = await anyio.to_thread.run_sync(services.store.job_images, job_id.strip())
        if not records:
            return error_result(
                f"No job {job_id!r} is known. Jobs are kept while the server runs; after a restart only jobs whose "
                "images were stored can be found. Call list_images to see the stored images."
            )
        outcome = finished_job(records)
        return await render_outcome(settings, services, outcome, VERBS.get(records[0].operation or "", "Made"))
