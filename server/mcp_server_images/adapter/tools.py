"""MCP tool handlers: parse arguments, call a use case, render the result. Nothing else lives here.

Each handler is a module-level function whose signature is the tool's input schema (the SDK derives it), which is
why they take many parameters. `TOOLS` is the table the server registers; adding a tool is one handler, one row
and one use case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import anyio
from mcp.types import CallToolResult, ToolAnnotations

from ..catalog.checks import ImageOptions
from ..errors import ImageServerError
from ..imaging.masks import Region
from ..operations.analyze import AnalyzeRequest
from ..operations.edit import edit
from ..operations.generate import generate
from ..operations.listing import list_images as list_stored
from ..operations.lookup import StoredJob, find_job
from ..operations.requests import EditRequest, GenerateRequest, MaskRequest, SaveRequest, VariationRequest
from ..operations.vary import vary
from ..settings import Settings
from ..store import Operation
from .context import Ctx, client_roots, listing_user, services_of
from .jobs import render_job, run_as_job, wait_for_job, wait_for_stored
from .links import image_url
from .params import (
    AnalyzeImages,
    Background,
    Count,
    Detail,
    EditImages,
    EditModel,
    EditPrompt,
    EditSize,
    ImageRef,
    InputFidelity,
    JobId,
    ListCursor,
    ListLimit,
    ListQuery,
    Mask,
    MaskInvert,
    MaskRegions,
    MaxTokens,
    Model,
    Moderation,
    OutputCompression,
    OutputFormat,
    Overwrite,
    Previews,
    Prompt,
    Quality,
    Question,
    ResponseSchema,
    SaveTo,
    Size,
    Style,
    VariationModel,
    VariationSize,
    VisionModel,
    WaitSeconds,
)
from .render import analysis_result, error_result, listing_result
from .results import ImageList, ImagesResult


def _save(save_to: str | None, overwrite: bool) -> SaveRequest | None:
    return SaveRequest(save_to, overwrite) if save_to else None


async def generate_image(
    prompt: Prompt,
    ctx: Ctx,
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
    request = GenerateRequest(prompt, model, options, _save(save_to, overwrite), await client_roots(ctx))
    return await run_as_job(ctx, Operation.GENERATE, lambda deps, call: generate(deps, request, call))


async def edit_image(
    images: EditImages,
    prompt: EditPrompt,
    ctx: Ctx,
    mask: Mask = None,
    mask_region: MaskRegions = None,
    mask_invert: MaskInvert = False,
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
    request = EditRequest(
        images=images,
        prompt=prompt,
        mask=MaskRequest(mask, regions, mask_invert),
        model=model,
        options=options,
        save=_save(save_to, overwrite),
        client_roots=await client_roots(ctx),
    )
    return await run_as_job(ctx, Operation.EDIT, lambda deps, call: edit(deps, request, call))


async def create_image_variation(
    image: ImageRef,
    ctx: Ctx,
    n: Count = 1,
    size: VariationSize = None,
    model: VariationModel = None,
    save_to: SaveTo = None,
    overwrite: Overwrite = False,
) -> Annotated[CallToolResult, ImagesResult]:
    """Make new images that look like a given one (same subject and style, different details).

    The result says whether the native variations endpoint or emulation through edits made them
    (structuredContent "method": "variations" or "edits").
    """
    request = VariationRequest(image, model, n, size, _save(save_to, overwrite), await client_roots(ctx))
    return await run_as_job(ctx, Operation.VARIATION, lambda deps, call: vary(deps, request, call))


async def analyze_image(
    images: AnalyzeImages,
    ctx: Ctx,
    prompt: Question = None,
    model: VisionModel = None,
    detail: Detail = "auto",
    max_tokens: MaxTokens = None,
    response_schema: ResponseSchema = None,
) -> CallToolResult:
    """Look at images and answer: describe them, read text, compare them, or check an edit worked.

    Useful when the client cannot show images to you, or to verify a result before reporting it.
    """
    request = AnalyzeRequest(images, prompt, model, detail, max_tokens, response_schema, await client_roots(ctx))
    try:
        analysis = await services_of(ctx).vision.analyze(request)
    except ImageServerError as exc:
        return error_result(str(exc))
    return analysis_result(analysis)


async def list_images(
    ctx: Ctx, limit: ListLimit = 20, query: ListQuery = None, previews: Previews = False, cursor: ListCursor = None
) -> Annotated[CallToolResult, ImageList]:
    """List stored images, newest first: ids, paths, sizes, prompts and models, to pick one for a next call.

    The result gives the total and, when there are more, a next_cursor to pass back for the next page.
    """
    services = services_of(ctx)
    store, budget = services.store, services.settings.inline_budget
    user = listing_user(services.settings, ctx.request_context.request)

    def render() -> CallToolResult:
        listing = list_stored(store, limit, query, cursor, user)
        files = [store.read(record) for record in listing.images] if previews else None
        urls = [image_url(services, record) for record in listing.images]
        return listing_result(listing, files, budget, urls)

    try:
        return await anyio.to_thread.run_sync(render)
    except ImageServerError as exc:
        return error_result(str(exc))


async def get_job(job_id: JobId, ctx: Ctx, wait_seconds: WaitSeconds = 40) -> Annotated[CallToolResult, ImagesResult]:
    """Get the result of a call that outlived the response deadline: the images once ready, else its status.

    Finished jobs are found again after a server restart, from the stored images; in a team deployment any
    instance answers for a job another instance runs.
    """
    services = services_of(ctx)
    try:
        job = await anyio.to_thread.run_sync(find_job, services.jobs, services.store, job_id)
    except ImageServerError as exc:
        return error_result(str(exc))
    deadline = services.settings.response_deadline
    wait = min(wait_seconds, deadline) if deadline > 0 else wait_seconds
    if wait <= 0 or (isinstance(job, StoredJob) and job.status != "running"):
        return await render_job(services, job)
    if isinstance(job, StoredJob):
        return await wait_for_stored(ctx, job, wait)
    return await wait_for_job(ctx, job, wait)


@dataclass(frozen=True)
class ToolRow:
    handler: Callable[..., Awaitable[CallToolResult]]
    title: str
    annotations: ToolAnnotations
    describe: Callable[[Settings], str] | None = None
    """Optional: builds the description from the settings, for tools whose text names configured values."""


PRODUCING = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
READS_UPSTREAM = ToolAnnotations(read_only_hint=True, open_world_hint=True)
READS_STORE = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _describe_analyze(settings: Settings) -> str:
    return (
        f"{(analyze_image.__doc__ or '').strip()}\n\nDefault model: {settings.vision_model} (the server's vision "
        "model; sent with the provider's naming)."
    )


TOOLS: tuple[ToolRow, ...] = (
    ToolRow(generate_image, "Generate image", PRODUCING),
    ToolRow(edit_image, "Edit image", PRODUCING),
    ToolRow(create_image_variation, "Create image variation", PRODUCING),
    ToolRow(analyze_image, "Analyze image", READS_UPSTREAM, _describe_analyze),
    ToolRow(list_images, "List images", READS_STORE),
    ToolRow(get_job, "Get job", READS_STORE),
)
