"""The steps every image-producing use case shares: send, keep what was paid for, store, copy, add up usage.

Every image the upstream delivers is stored the moment its answer arrives, before anything else happens with it,
so an image that was paid for is kept even when a later step, a sibling request of a fan-out, or this process
fails.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from ..backends import (
    ImageBackend,
    ImageRequest,
    ImagesAnswer,
    ImagesAPI,
    PartialStream,
    ReceivedImage,
    StreamEndedEarlyError,
    UnusableItem,
    UpstreamError,
    UsagePart,
    sum_usage,
)
from ..backends.base import quoted
from ..catalog.options import ImageOptions
from ..catalog.spec import Api, ImageEndpoint
from ..errors import ImageServerError
from ..imaging.previews import Decoded, decode_ahead, decode_for_preview, likely_previewed, probe_keeping_pixels
from ..imaging.probe import NotAnImageError, probe
from ..inputs import ImageResolver
from ..inputs.save_to import SavePlan, plan_save, write_copies
from ..store import ImageRecord, NewImage, Store
from .budget import Quote
from .cost import BilledPart, price
from .models import Chosen, Models, explain_refusal
from .requests import Call, FreshImage, ImagesOutcome, SaveRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageDeps:
    """What the image use cases work with, opened once by the server's lifespan."""

    images: ImagesAPI
    store: Store
    resolver: ImageResolver
    models: Models
    backends: Mapping[Api, ImageBackend] = field(default_factory=dict)
    """Every image-making API by name (the Images API too); operations pick one with `routing.route`."""
    preferred_api: Api = Api.IMAGES
    """The API a GPT image model uses when a call names none (setting image_api)."""


def partial_stream(call: Call) -> PartialStream | None:
    """Partial images as progress, when the caller watches; the backend decides whether the model can stream.

    A partial is checked like a final answer before anyone sees it; a damaged one is skipped with a note, so it
    can never cost the final image or the job's answer.
    """
    if call.partial_images <= 0:
        return None

    async def on_partial(index: int, data: bytes) -> None:
        try:
            await anyio.to_thread.run_sync(probe, data)
        except NotAnImageError:
            await call.progress.step(f"partial image {index + 1} was damaged and is skipped")
            return
        await call.progress.partial(index + 1, call.partial_images, data)

    return PartialStream(call.partial_images, on_partial)


def streamed_count(request: ImageRequest) -> int:
    """Partial images the request asks for (only a model that streams is asked)."""
    return request.streamed.count if request.streamed is not None else 0


def plan_copies(
    deps: ImageDeps, save: SaveRequest | None, options: ImageOptions, client_roots: Sequence[Path]
) -> SavePlan | None:
    """Check a save_to destination for the images `options` ask for, before anything is paid for."""
    if save is None:
        return None
    return plan_save(
        save.save_to,
        count=options.n,
        overwrite=save.overwrite,
        roots=deps.resolver.roots(client_roots),
        bases=[*client_roots, Path.cwd()],
        store_root=deps.store.folder,
        output_format=options.output_format,
    )


@dataclass(frozen=True)
class Delivered:
    """One upstream answer whose good images are already stored."""

    records: list[ImageRecord]
    problems: list[str]
    """One entry per item of the answer that was not a usable image ("image 2: not valid base64")."""
    items: int
    usage: dict[str, Any] | None
    request_id: str | None
    skipped_partials: int = 0
    fresh: dict[str, FreshImage] = field(default_factory=dict)
    """What was stored, by id, so the first rendering neither reads the file back nor decodes a large image again."""
    notes: list[str] = field(default_factory=list)
    """What the backend said about the answer, and the model's own words beside the image."""
    usage_parts: tuple[UsagePart, ...] = ()
    billed: tuple[BilledPart, ...] = ()
    """What the request is billed for, model by model (see `billed_parts`)."""


async def deliver(
    deps: ImageDeps,
    send: Callable[[ImageRequest], Awaitable[ImagesAnswer]],
    request: ImageRequest,
    meta: NewImage,
    call: Call,
) -> Delivered:
    """One upstream request, its images stored the moment it answers: a fan-out sibling that is still running, a
    crash or a kill of this instance can no longer lose them."""
    answer = await send_keeping_partial(deps, send, request, meta)
    billed = billed_parts(request.model, answer)
    cost = price(billed, deps.models.catalog.lookup)
    delivered = replace(await store_answer(deps.store, answer, replace(meta, cost=cost.public())), billed=billed)
    for record in delivered.records:
        await call.progress.step(f"image {record.id} stored")
    return delivered


async def send_keeping_partial(
    deps: ImageDeps,
    send: Callable[[ImageRequest], Awaitable[ImagesAnswer]],
    request: ImageRequest,
    meta: NewImage,
) -> ImagesAnswer:
    """One upstream request; when a stream ends without its final image, the last partial is stored."""
    try:
        return await send(request)
    except StreamEndedEarlyError as exc:
        if exc.partial is None:
            raise
        kept = replace(meta, partial=True, request_id=exc.request_id)
        answer = ImagesAnswer([ReceivedImage(exc.partial, None)], None, exc.request_id)
        delivered = await store_answer(deps.store, answer, kept)
        record = delivered.records[0] if delivered.records else None
        where = f" The last partial image was kept as {record.id} at {record.location}." if record else ""
        raise UpstreamError(f"{exc.message}{where}", request_id=exc.request_id) from exc


async def pay(call: Call, quote: Quote, run: Callable[[], Awaitable[ImagesOutcome]]) -> ImagesOutcome:
    """Reserve the quote against the budgets (or stop a dry run), run the requests, then settle with the actual
    cost; when they fail, the reservation is released, since a failed request returns no usage to bill. The
    result shows the estimate the call was reserved at (informed by recorded costs)."""
    reservation = await call.spending.reserve(quote)
    try:
        outcome = await run()
    except BaseException:
        with anyio.CancelScope(shield=True):
            await reservation.release()
        raise
    if outcome.cost is not None:
        outcome = replace(outcome, cost=replace(outcome.cost, estimate=reservation.estimate))
    with anyio.CancelScope(shield=True):
        await reservation.settle(outcome.cost, len(outcome.images))
    return outcome


async def finish(deps: ImageDeps, delivered: list[Delivered], notes: list[str], plan: SavePlan | None) -> ImagesOutcome:
    """Check what was kept, price it, then write the save_to copies; a failed copy never loses a stored image."""
    records, notes = kept_images(delivered, notes)
    skipped = sum(one.skipped_partials for one in delivered)
    if skipped:
        notes.append(f"{skipped} partial image(s) arrived damaged and were skipped; the final image is complete.")
    usage = sum_usage(one.usage for one in delivered)
    notes = list(dict.fromkeys([*notes, *(note for one in delivered for note in one.notes)]))
    model = records[0].model or "unknown"
    saved: list[Path] = []
    if plan is not None:
        try:
            files = [await anyio.to_thread.run_sync(deps.store.read, record) for record in records]
            saved, conversions = await anyio.to_thread.run_sync(write_copies, plan, records, files)
            notes = notes + conversions
        except (ImageServerError, OSError) as exc:
            notes = [*notes, f"save_to failed, the images are still in the store: {exc}"]
    fresh = {key: image for one in delivered for key, image in one.fresh.items()}
    billed = [part for one in delivered for part in one.billed]
    cost = price(billed, deps.models.catalog.lookup)
    parts = [part for one in delivered for part in one.usage_parts]
    return ImagesOutcome(records, model, usage, notes, saved=saved, usage_parts=parts, fresh=fresh, cost=cost)


def billed_parts(model: str, answer: ImagesAnswer) -> tuple[BilledPart, ...]:
    """What one request is billed for: its usage on `model`, or, when the backend reports usage per model (a
    Responses call bills its mainline model and the image tool), each part; streamed partials count on `model`."""
    if not answer.usage_parts:
        return (BilledPart(model, answer.usage, answer.partials),)
    return tuple(
        BilledPart(part.model, part.usage, answer.partials if part.model == model else 0) for part in answer.usage_parts
    )


def kept_images(delivered: list[Delivered], notes: list[str]) -> tuple[list[ImageRecord], list[str]]:
    """The stored images of every answer, and a note naming each item that was not a usable image. Fails only
    when not one image could be kept."""
    records = [record for one in delivered for record in one.records]
    problems = [problem for one in delivered for problem in one.problems]
    if not problems:
        return records, notes
    detail = "; ".join(problem.rstrip(".") for problem in problems)
    if not records:
        request_ids = ", ".join(sorted({one.request_id for one in delivered if one.request_id}))
        raise UpstreamError(
            f"The image API answered without a usable image ({detail}).", request_id=request_ids or None
        )
    items = sum(one.items for one in delivered)
    kept = f"{len(records)} of {items} images {'was' if len(records) == 1 else 'were'} kept"
    return records, [*notes, f"{kept}; {detail}."]


async def store_answer(store: Store, answer: ImagesAnswer, meta: NewImage) -> Delivered:
    """Check each item of the answer alone and store every one that is an image; name the others. An item that
    is bad in any way (no data, not base64, not an image, damaged, too large) never costs a good one."""
    records: list[ImageRecord] = []
    problems: list[str] = []
    fresh: dict[str, FreshImage] = {}
    for number, image in enumerate(answer.items, start=1):
        if isinstance(image, UnusableItem):
            problems.append(f"image {number}: {image.problem}")
            continue
        item_meta = replace(
            meta,
            revised_prompt=image.revised_prompt,
            usage=answer.usage,
            request_id=answer.request_id,
            response_id=answer.response_id,
            usage_parts=[part._asdict() for part in answer.usage_parts],
        )
        try:
            record, pixels = await _store_one(store, image.data, item_meta)
        except NotAnImageError as exc:
            problems.append(f"image {number}: {exc}")
            continue
        records.append(record)
        fresh[record.id] = FreshImage(image.data, pixels)
    said = [f"The model said: {quoted(answer.text, 1000)}"] if answer.text else []
    return Delivered(
        records,
        problems,
        len(answer.items),
        answer.usage,
        answer.request_id,
        answer.skipped_partials,
        fresh,
        notes=[*answer.notes, *said],
        usage_parts=answer.usage_parts,
    )


async def _store_one(store: Store, data: bytes, meta: NewImage) -> tuple[ImageRecord, Decoded | None]:
    """Probe and store one image; return it with its preview's pixels when a preview is likely.

    Pixels come from the probe when it decodes them anyway (alpha, WebP, GIF). An opaque PNG or JPEG, which the
    probe checks without its pixels, is decoded on a second core while the image is checked and written: from
    the start when it has many bytes, once the probe has read its size when it has only many pixels. Should its
    pixels not decode after all, the image is stored just the same, and the result says it cannot be shown.
    """
    ahead = decode_ahead(data)
    decoded: list[Decoded] = []
    failed: list[Exception] = []
    async with anyio.create_task_group() as group:
        if ahead:
            group.start_soon(_decode_into, decoded, data)
        try:
            info, pixels = await anyio.to_thread.run_sync(probe_keeping_pixels, data)
            if pixels is None and not ahead and likely_previewed(len(data), (info.width, info.height)):
                group.start_soon(_decode_into, decoded, data)
            record = await anyio.to_thread.run_sync(store.save, data, info, meta)
        except Exception as exc:
            failed.append(exc)  # raised below as itself (a refusal, a full disk): a task group would wrap it
    if failed:
        raise failed[0]
    return record, pixels if pixels is not None else (decoded[0] if decoded else None)


async def _decode_into(decoded: list[Decoded], data: bytes) -> None:
    try:
        decoded.append(await anyio.to_thread.run_sync(decode_for_preview, data))
    except (OSError, ValueError) as exc:
        log.warning("a stored image could not be decoded for its preview: %s", exc)


def split_batches(total: int, per_request: int) -> list[int]:
    """Batch sizes: 5 images at 1 per request is [1, 1, 1, 1, 1]; at 10 per request it is [5]."""
    full, rest = divmod(total, per_request)
    return [per_request] * full + ([rest] if rest else [])


async def gather(calls: Sequence[Callable[[], Awaitable[Delivered]]]) -> tuple[list[Delivered], list[ImageServerError]]:
    """Run the calls concurrently; keep every success (in order) and every user-facing failure."""
    results: list[Delivered | ImageServerError | None] = [None] * len(calls)

    async def run(index: int) -> None:
        try:
            results[index] = await calls[index]()
        except ImageServerError as exc:
            results[index] = exc
        except Exception as exc:  # a bug in one request must not cancel its siblings, whose images are paid for
            log.exception("request %d of a fan-out failed unexpectedly", index + 1)
            results[index] = ImageServerError(f"Unexpected error: {type(exc).__name__}: {exc}")

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(run, index)
    delivered = [r for r in results if isinstance(r, Delivered)]
    failures = [r for r in results if isinstance(r, ImageServerError)]
    return delivered, failures


async def fan_out(
    deps: ImageDeps,
    chosen: Chosen,
    api: Api,
    send: Callable[[ImageRequest], Awaitable[Delivered]],
    upstream: Sequence[ImageRequest],
    endpoint: ImageEndpoint,
) -> tuple[list[Delivered], list[str]]:
    """Send the batches of one call concurrently; keep what arrived, say what failed, fail only if all did."""
    delivered, failures = await gather([partial(send, one) for one in upstream])
    notes = []
    if len(upstream) > 1:
        total = sum(one.options.n for one in upstream)
        notes.append(
            f"{chosen.wire} makes one image per request on the {api} API, so {total} requests were sent concurrently."
        )
    if failures:
        if not delivered:
            raise await explain_refusal(deps.models, chosen, failures[0], endpoint)
        notes.append(f"{len(failures)} of {len(upstream)} requests failed: {failures[0]}")
    return delivered, notes
