"""MCP tool handlers: parse arguments, call a use case, render the result. Nothing else lives here.

Each handler is a module-level function whose signature is the tool's input schema (the SDK derives it), which is
why they take many parameters. `TOOLS` is the table the server registers (described.py fills in what the
descriptions take from the option table, the catalog and the settings); adding a tool is one handler, one row and
one use case.

A handler imports the use case it runs (and the rendering of its result) when it is first called: listing the
tools needs only their signatures, and a client that starts the server and never calls a tool never loads the
image decoders, the upstream client or the pipeline.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

import anyio
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations

from ...catalog.options import ImageOptions
from ...errors import ImageServerError
from ...store import URI_SCHEME, ImageRecord
from ..context import Ctx, audience_of, caller, client_roots, services_of
from .params import (
    AnalyzeImages,
    ApiAsForGenerate,
    ConfirmCost,
    Count,
    Detail,
    DryRun,
    EditImages,
    EditModel,
    EditPrompt,
    EditSize,
    FlagAsForGenerate,
    IdempotencyKey,
    ImageRef,
    JobId,
    KeyAsForGenerate,
    ListCursor,
    ListLimit,
    ListQuery,
    Mask,
    MaskInvert,
    MaskRegions,
    MaxTokens,
    Model,
    NumberOption,
    Overwrite,
    Previews,
    Prompt,
    Question,
    ResponseSchema,
    SaveTo,
    SaveToAsForGenerate,
    Shared,
    StoredImage,
    StoredImages,
    TextOption,
    UpstreamApi,
    VariationModel,
    VariationSize,
    VisionModel,
    WaitSeconds,
)
from .results import (
    AnalysisResult,
    DeletedImages,
    ImageDetails,
    ImageList,
    ImagesResult,
    ModelListResult,
    UsageReport,
    details,
)

if TYPE_CHECKING:
    from ...operations.requests import SaveRequest


def _save(save_to: str | None, overwrite: bool) -> SaveRequest | None:
    from ...operations.requests import SaveRequest

    return SaveRequest(save_to, overwrite) if save_to else None


async def generate_image(
    prompt: Prompt,
    ctx: Ctx,
    model: Model = None,
    n: Count = 1,
    size: TextOption = None,
    quality: TextOption = None,
    complexity: TextOption = None,
    style: TextOption = None,
    background: TextOption = None,
    output_format: TextOption = None,
    output_compression: NumberOption = None,
    moderation: TextOption = None,
    seed: NumberOption = None,
    steps: NumberOption = None,
    negative_prompt: TextOption = None,
    api: UpstreamApi = None,
    save_to: SaveTo = None,
    overwrite: Overwrite = False,
    dry_run: DryRun = False,
    confirm_cost: ConfirmCost = False,
    idempotency_key: IdempotencyKey = None,
) -> Annotated[CallToolResult, ImagesResult] | InputRequiredResult:
    """Create images from a text prompt.

    Each is stored under a short id, shown (a preview when large) and linked; pass the id, not image data, to
    later calls.
    """
    from ...operations.requests import GenerateRequest
    from .costs import produce

    options = ImageOptions.from_arguments(locals())  # n and the option table's parameters, by name
    request = GenerateRequest(prompt, model, options, _save(save_to, overwrite), await client_roots(ctx), api)
    return await produce(ctx, request, dry_run=dry_run, confirm_cost=confirm_cost, key=idempotency_key)


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
    quality: TextOption = None,
    complexity: TextOption = None,
    background: TextOption = None,
    input_fidelity: TextOption = None,
    output_format: TextOption = None,
    output_compression: NumberOption = None,
    seed: NumberOption = None,
    steps: NumberOption = None,
    negative_prompt: TextOption = None,
    api: ApiAsForGenerate = None,
    save_to: SaveToAsForGenerate = None,
    overwrite: FlagAsForGenerate = False,
    dry_run: FlagAsForGenerate = False,
    confirm_cost: FlagAsForGenerate = False,
    idempotency_key: KeyAsForGenerate = None,
) -> Annotated[CallToolResult, ImagesResult] | InputRequiredResult:
    """Edit images: change part of one (mask or shapes), restyle it, or combine several.

    Without a mask the whole image may change. Undescribed parameters: as for generate_image.
    """
    from ...imaging.masks import Region
    from ...operations.requests import EditRequest, MaskRequest
    from .costs import produce

    options = ImageOptions.from_arguments(locals())  # n and the option table's parameters, by name
    regions = None if mask_region is None else [Region(**region.model_dump()) for region in mask_region]
    request = EditRequest(
        images=images,
        prompt=prompt,
        mask=MaskRequest(mask, regions, mask_invert),
        model=model,
        options=options,
        save=_save(save_to, overwrite),
        client_roots=await client_roots(ctx),
        api=api,
    )
    return await produce(ctx, request, dry_run=dry_run, confirm_cost=confirm_cost, key=idempotency_key)


async def create_image_variation(
    image: ImageRef,
    ctx: Ctx,
    n: Count = 1,
    size: VariationSize = None,
    model: VariationModel = None,
    save_to: SaveToAsForGenerate = None,
    overwrite: FlagAsForGenerate = False,
    dry_run: FlagAsForGenerate = False,
    confirm_cost: FlagAsForGenerate = False,
    idempotency_key: KeyAsForGenerate = None,
) -> Annotated[CallToolResult, ImagesResult] | InputRequiredResult:
    """New images like a given one (same subject and style, other details).

    Undescribed parameters: as for generate_image.
    """
    from ...operations.requests import VariationRequest
    from .costs import produce

    request = VariationRequest(image, model, n, size, _save(save_to, overwrite), await client_roots(ctx))
    return await produce(ctx, request, dry_run=dry_run, confirm_cost=confirm_cost, key=idempotency_key)


async def analyze_image(
    images: AnalyzeImages,
    ctx: Ctx,
    prompt: Question = None,
    model: VisionModel = None,
    detail: Detail = "auto",
    max_tokens: MaxTokens = None,
    response_schema: ResponseSchema = None,
) -> Annotated[CallToolResult, AnalysisResult]:
    """Look at images and answer: describe them, read text, compare them, or check an edit worked."""
    from ...operations.analyze import AnalyzeRequest
    from .render import analysis_result, error_result

    roots = await client_roots(ctx)
    request = AnalyzeRequest(images, prompt, model, detail, max_tokens, response_schema, roots, audience_of(ctx))
    try:
        analysis = await services_of(ctx).vision.analyze(request)
    except ImageServerError as exc:
        return error_result(str(exc))
    return analysis_result(analysis)


async def list_images(
    ctx: Ctx, limit: ListLimit = 20, query: ListQuery = None, previews: Previews = False, cursor: ListCursor = None
) -> Annotated[CallToolResult, ImageList]:
    """Stored images, newest first (ids, paths, sizes, prompts, models), with the total and a next_cursor."""
    from ...operations.listing import list_images as list_stored
    from ..serving.links import image_url
    from .render import error_result, listing_result
    from .shapes import host_shape

    services = services_of(ctx)
    store, budget = services.store, services.settings.inline_budget
    shape = host_shape(ctx, services.settings.result_shape)

    def render() -> CallToolResult:
        listing = list_stored(store, limit, query, cursor)
        files = [store.read(record) for record in listing.images] if previews and shape.image_blocks else None
        urls = [image_url(services, record) for record in listing.images]
        return listing_result(listing, files, budget, urls, shape)

    try:
        return await anyio.to_thread.run_sync(render)
    except ImageServerError as exc:
        return error_result(str(exc))


async def get_job(job_id: JobId, ctx: Ctx, wait_seconds: WaitSeconds = 40) -> Annotated[CallToolResult, ImagesResult]:
    """The result of a slow call by its job id: the images once ready, else its status (after a restart and on
    any instance too)."""
    from .jobs import answer_job

    return await answer_job(ctx, job_id, wait_seconds)


async def list_models(ctx: Ctx) -> Annotated[CallToolResult, ModelListResult]:
    """Image and vision models served: sizes, qualities, formats, APIs, status, shutdown dates, prices,
    defaults. Call it when unsure of a model or value."""
    from ...operations.model_choice import list_models as served_models
    from .model_list import model_list_result

    return model_list_result(await served_models(services_of(ctx).models))


async def usage_report(ctx: Ctx) -> Annotated[CallToolResult, UsageReport]:
    """Spend today and this month (UTC) by model and user, images made, budgets left (images://usage)."""
    from ...operations.usage import usage_of
    from .costs import usage_text
    from .render import error_result

    services = services_of(ctx)
    try:
        summary = await usage_of(services.ledger, services.store.viewer)
    except ImageServerError as exc:
        return error_result(str(exc))
    return CallToolResult(content=[TextContent(type="text", text=usage_text(summary))], structured_content=summary)


async def delete_images(images: StoredImages, ctx: Ctx) -> Annotated[CallToolResult, DeletedImages]:
    """Delete stored images and their metadata for good; links stop. With sign-in: only your own."""
    from ...operations.deletion import delete_images as delete_stored
    from .render import deletion_result, error_result

    services = services_of(ctx)
    user = caller(ctx)
    try:
        deletion = await anyio.to_thread.run_sync(delete_stored, services.store, images, user)
    except ImageServerError as exc:
        return error_result(str(exc))
    return deletion_result(deletion)


async def image_details(image: StoredImage, ctx: Ctx) -> Annotated[CallToolResult, ImageDetails]:
    """For the image app: one stored image's prompt, model, size, usage and the stored images it was made from."""
    from .render import credentials_text, error_result

    store = services_of(ctx).store

    def stored(ref: str) -> ImageRecord | None:
        try:
            return store.get(ref)
        except ImageServerError:
            return None  # a path or URL the image was made from: not in the store

    def look_up() -> tuple[ImageDetails, str | None]:
        record = store.get(image.removeprefix(f"{URI_SCHEME}://"))
        sources = [source for ref in record.source_images if (source := stored(ref)) is not None]
        return details(record, sources), credentials_text(record)

    try:
        found, credentials = await anyio.to_thread.run_sync(look_up)
    except ImageServerError as exc:
        return error_result(str(exc))
    text = " ".join([f"Image {found.id}: {found.width}x{found.height}.", *([credentials] if credentials else [])])
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=found.model_dump())


async def share_image(image: StoredImage, ctx: Ctx, shared: Shared = True) -> CallToolResult:
    """Let the server's other signed-in users open one of your images by its full id (never listed for them)."""
    from .render import error_result

    store = services_of(ctx).store

    def mark() -> ImageRecord:
        return store.mark_shared(store.get(image.removeprefix(f"{URI_SCHEME}://")), shared=shared)

    try:
        record = await anyio.to_thread.run_sync(mark)
    except ImageServerError as exc:
        return error_result(str(exc))
    said = (
        f"Image {record.id} is shared: the server's other signed-in users can open it by its full id {record.id} "
        f"({record.uri}); it is not listed for them."
        if record.shared
        else f"Image {record.id} is no longer shared: only you (and administrators) can open it."
    )
    return CallToolResult(
        content=[TextContent(type="text", text=said)],
        structured_content={"id": record.id, "uri": record.uri, "shared": record.shared},
    )


AppBinding = Literal["view", "app_only"]
"""How a tool meets the image app: 'view' shows its results in the app; 'app_only' is called by the app alone."""


@dataclass(frozen=True)
class ToolRow:
    handler: Callable[..., Awaitable[CallToolResult | InputRequiredResult]]
    title: str
    annotations: ToolAnnotations
    app: AppBinding | None = None
    signed_in: bool = False
    """Offered only by a server with sign-in (OAuth): without users there is nobody to share with."""


PRODUCING = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
READS_UPSTREAM = ToolAnnotations(read_only_hint=True, open_world_hint=True)
READS_STORE = ToolAnnotations(read_only_hint=True, open_world_hint=False)
MARKS_STORE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
DELETES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


TOOLS: tuple[ToolRow, ...] = (
    ToolRow(generate_image, "Generate image", PRODUCING, app="view"),
    ToolRow(edit_image, "Edit image", PRODUCING, app="view"),
    ToolRow(create_image_variation, "Create image variation", PRODUCING, app="view"),
    ToolRow(analyze_image, "Analyze image", READS_UPSTREAM),
    ToolRow(list_images, "List images", READS_STORE, app="view"),
    ToolRow(list_models, "List models", READS_UPSTREAM),
    ToolRow(get_job, "Get job", READS_STORE, app="view"),
    ToolRow(usage_report, "Usage report", READS_STORE),
    ToolRow(delete_images, "Delete images", DELETES),
    ToolRow(share_image, "Share image", MARKS_STORE, signed_in=True),
    ToolRow(image_details, "Image details", READS_STORE, app="app_only"),
)
