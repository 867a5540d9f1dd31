"""One pipeline for every image call: a plan in, stored images out, and every promise kept on the way.

generate, edit and vary only build an `ImagePlan`: the chosen model, the route to its API, the requests (one per
batch), the quote, where copies go, and the metadata each stored image gets. `run` is the one place that sends
them, in this order, for every tool and every API:

1. reserve: the quote goes into the spend ledger before anything is sent, whether or not a budget is set (a
   budget refuses the call here; a dry run never gets this far);
2. send the batches concurrently (an edit the API refuses for its model goes once through the API that takes it);
3. check each item of each answer alone and store every good image the moment its answer arrives, so a bad
   item, a failed sibling request or a crash of this process never costs an image that was paid for;
4. settle the reservation with the cost computed from the answers' usage (or release it when nothing came back);
5. write the `save_to` copies from the bytes just received.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import anyio

from ..backends.base import (
    ImageBackend,
    ImageRequest,
    ImagesAnswer,
    PartialStream,
    ReceivedImage,
    StreamEndedEarlyError,
    UnusableItem,
    UsagePart,
    Varies,
    quoted,
    sum_usage,
)
from ..backends.errors import UpstreamError
from ..catalog.options import ImageOptions
from ..catalog.spec import ImageEndpoint
from ..errors import ImageServerError
from ..imaging.early import EarlyPreviews
from ..imaging.info import NotAnImageError
from ..imaging.previews import Decoded, decode_ahead, decode_for_preview, likely_previewed, probe_keeping_pixels
from ..imaging.probe import probe
from ..imaging.provenance import read_credentials
from ..inputs.save_to import SavePlan, plan_save, write_copies
from ..store import ImageRecord, NewImage, Operation, Store
from ..store.files import ArrivingFile
from .cost import BilledPart, Cost, price
from .deps import ImageDeps
from .ledger import Quote
from .model_choice import Chosen, explain_refusal
from .requests import CallContext, FreshImage, ImagesOutcome, SaveRequest
from .routing import Route

log = logging.getLogger(__name__)


class Send(StrEnum):
    """Which operation of its backend a plan's requests go to."""

    GENERATE = "generate"
    EDIT = "edit"
    VARY = "vary"


@dataclass(frozen=True)
class ImagePlan:
    """Everything an image call will do, decided before anything is paid: what a dry run shows, a confirmation asks
    about, and `run` carries out."""

    operation: Operation
    """The tool's operation: how its result is told ("Made 2 images", a variation made through edits included)."""
    chosen: Chosen
    route: Route
    endpoint: ImageEndpoint
    send: Send
    requests: tuple[ImageRequest, ...]
    """One per batch: a model that makes one image per request gets n of them, sent concurrently."""
    quote: Quote
    record: NewImage
    """The metadata every image gets in the store (the job and the user are added when the plan runs)."""
    save: SavePlan | None = None
    notes: tuple[str, ...] = ()
    partial_images: int = 0
    """Partial images each request streams, when the caller watches and the model streams."""
    fallback: Route | None = None
    """Where an edit the route's API refuses for this model goes instead (see Capabilities.edit_fallback)."""
    method: Literal["variations", "edits"] | None = None


async def run(deps: ImageDeps, plan: ImagePlan, call: CallContext) -> ImagesOutcome:
    """Reserve, send, check each item and store it, settle, copy (see the module's docstring)."""
    record = replace(plan.record, job_id=call.job_id, user=call.user)
    reservation = await call.spending.reserve(plan.quote)
    try:
        await call.progress.step(plan.route.sent_to(plan.chosen.wire))
        delivered, notes = await _send_all(deps, plan, record, call)
        outcome = _outcome(deps, plan, delivered, notes)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await reservation.release()
        raise
    with anyio.CancelScope(shield=True):
        await reservation.settle(outcome.cost, len(outcome.images))
    return await _copies(plan.save, outcome)


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


def split_batches(total: int, per_request: int) -> list[int]:
    """Batch sizes: 5 images at 1 per request is [1, 1, 1, 1, 1]; at 10 per request it is [5]."""
    full, rest = divmod(total, per_request)
    return [per_request] * full + ([rest] if rest else [])


def partial_images(call: CallContext, request: ImageRequest) -> int:
    """Partial images a request would stream: when the caller watches and the model can stream."""
    return call.partial_images if request.spec is not None and request.spec.streams else 0


# --- sending -------------------------------------------------------------------------------------------------


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
    """What was stored, by id: the copies and the first rendering need neither read the file back nor decode a
    large image again."""
    notes: list[str] = field(default_factory=list)
    """What the backend said about the answer, and the model's own words beside the image."""
    usage_parts: tuple[UsagePart, ...] = ()
    billed: tuple[BilledPart, ...] = ()
    """What the request is billed for, model by model (see `_billed_parts`)."""


async def _send_all(
    deps: ImageDeps, plan: ImagePlan, record: NewImage, call: CallContext
) -> tuple[list[Delivered], list[str]]:
    """The batches, concurrently: keep what arrived, say what failed, fail only if every one did."""
    stream = _partial_stream(call, plan.partial_images)
    requests = [replace(request, stream=stream) for request in plan.requests]
    results: list[Delivered | ImageServerError | None] = [None] * len(requests)

    async def one(index: int) -> None:
        try:
            results[index] = await _deliver(deps, plan, requests[index], record, call)
        except ImageServerError as exc:
            results[index] = exc
        except Exception as exc:  # a bug in one request must not cancel its siblings, whose images are paid for
            log.exception("request %d of a fan-out failed unexpectedly", index + 1)
            results[index] = ImageServerError(f"Unexpected error: {type(exc).__name__}: {exc}")

    async with anyio.create_task_group() as group:
        for index in range(len(requests)):
            group.start_soon(one, index)
    delivered = [result for result in results if isinstance(result, Delivered)]
    failures = [result for result in results if isinstance(result, ImageServerError)]
    notes = []
    if len(requests) > 1:
        total = sum(request.options.n for request in requests)
        notes.append(
            f"{plan.chosen.wire} makes one image per request on the {plan.route.api} API, so {total} requests were "
            "sent concurrently."
        )
    if failures:
        if not delivered:
            raise await explain_refusal(plan.chosen, failures[0], plan.endpoint)
        notes.append(f"{len(failures)} of {len(requests)} requests failed: {failures[0]}")
    return delivered, notes


async def _deliver(
    deps: ImageDeps, plan: ImagePlan, request: ImageRequest, record: NewImage, call: CallContext
) -> Delivered:
    """One request, its images stored the moment it answers; an edit the route's API refuses for the model goes
    once through the plan's fallback."""
    try:
        return await _deliver_through(deps, plan.route, plan.send, request, record, call)
    except UpstreamError as exc:
        fallback = plan.fallback
        if fallback is None or not plan.route.backend.refuses_model(exc, plan.chosen.wire):
            raise
        refused = f"/{plan.route.endpoint(plan.endpoint)} refused {plan.chosen.wire}"
        await call.progress.step(f"{refused}; trying the {fallback.api.capitalize()} API")
        moved = replace(record, api=fallback.api.value)
        delivered = await _deliver_through(deps, fallback, plan.send, request, moved, call)
        note = f"Edited through the {fallback.api.capitalize()} API because {refused} ({exc.message})."
        return replace(delivered, notes=[note, *delivered.notes])


async def _deliver_through(
    deps: ImageDeps, route: Route, send: Send, request: ImageRequest, record: NewImage, call: CallContext
) -> Delivered:
    """One request to one route; a large image's preview pixels are decoded while the answer arrives, and its
    preview made from them while the answer is checked and stored."""
    with EarlyPreviews(call.preview, deps.store) as early:
        answer = await _answer(deps.store, route.backend, send, replace(request, early=early), record)
        billed = _billed_parts(request.model, answer)
        cost = price(billed, deps.upstreams.catalog.lookup, deps.most_reported)
        kept = await _store_answer(deps.store, answer, replace(record, cost=cost.public()), early)
    delivered = replace(kept, billed=billed)
    for stored in delivered.records:
        await call.progress.step(f"image {stored.id} stored")
    return delivered


async def _answer(
    store: Store, backend: ImageBackend, send: Send, request: ImageRequest, record: NewImage
) -> ImagesAnswer:
    """The backend's answer; when a stream ends without its final image, the last partial is stored first."""
    try:
        if send is Send.GENERATE:
            return await backend.generate(request)
        if send is Send.EDIT:
            return await backend.edit(request)
        if not isinstance(backend, Varies):
            raise ImageServerError(f"The {backend.api} API has no variations endpoint.")
        return await backend.vary(request)
    except StreamEndedEarlyError as exc:
        if exc.partial is None:
            raise
        kept = replace(record, partial=True, request_id=exc.request_id)
        answer = ImagesAnswer([ReceivedImage(exc.partial, None)], None, exc.request_id)
        delivered = await _store_answer(store, answer, kept)
        stored = delivered.records[0] if delivered.records else None
        where = f" The last partial image was kept as {stored.id} at {stored.location}." if stored else ""
        raise UpstreamError(f"{exc.message}{where}", request_id=exc.request_id) from exc


def _partial_stream(call: CallContext, count: int) -> PartialStream | None:
    """Partial images as progress, when the plan streams; a damaged partial is skipped with a note, so it can never
    cost the final image or the job's answer."""
    if count <= 0:
        return None

    async def on_partial(index: int, data: bytes) -> None:
        try:
            await anyio.to_thread.run_sync(probe, data)
        except NotAnImageError:
            await call.progress.step(f"partial image {index + 1} was damaged and is skipped")
            return
        await call.progress.partial(index + 1, count, data)

    return PartialStream(count, on_partial)


def _billed_parts(model: str, answer: ImagesAnswer) -> tuple[BilledPart, ...]:
    """What one request is billed for: its usage on `model`, or, when the backend reports usage per model (a
    Responses call bills its mainline model and the image tool), each part; streamed partials count on `model`."""
    items = len(answer.items)
    if not answer.usage_parts:
        return (BilledPart(model, answer.usage, answer.partials, items, answer.cost),)
    return tuple(
        BilledPart(part.model, part.usage, answer.partials if part.model == model else 0, items)
        for part in answer.usage_parts
    )


# --- checking and storing each item ------------------------------------------------------------------------------


async def _store_answer(
    store: Store, answer: ImagesAnswer, meta: NewImage, early: EarlyPreviews | None = None
) -> Delivered:
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
            stored, pixels = await _store_one(store, image.data, item_meta, early)
        except NotAnImageError as exc:
            problems.append(f"image {number}: {exc}")
            continue
        records.append(stored)
        fresh[stored.id] = FreshImage(image.data, pixels)
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


async def _store_one(
    store: Store, data: bytes, meta: NewImage, early: EarlyPreviews | None = None
) -> tuple[ImageRecord, Decoded | None]:
    """Probe and store one image; return it with its preview's pixels when a preview is likely.

    Pixels come from the probe when it decodes them anyway (alpha, WebP, GIF). An opaque PNG or JPEG, which the
    probe checks without its pixels, was decoded while the answer arrived when it has many bytes (`early`), else
    is decoded on a second core while the image is checked and written: from the start when it has many bytes,
    once the probe has read its size when it has only many pixels. Should its pixels not decode after all, the
    image is stored just the same, and the result says it cannot be shown. An image decoded while it arrived was
    written to a file of the store's then too: once it is known to be these very bytes, the store moves that file
    into place.
    """
    ahead = decode_ahead(data)
    decoded: list[Decoded] = []
    failed: list[Exception] = []
    arrival = _Arrival()
    async with anyio.create_task_group() as group:
        if ahead:
            group.start_soon(_decode_into, decoded, data, early, arrival)
        else:
            arrival.known.set()
        try:
            info, pixels = await anyio.to_thread.run_sync(probe_keeping_pixels, data)
            if pixels is None and not ahead and likely_previewed(len(data), (info.width, info.height)):
                group.start_soon(_decode_into, decoded, data)
            credentials = await anyio.to_thread.run_sync(read_credentials, data, info.mime_type)
            await arrival.known.wait()
            save = functools.partial(store.save, arrived=arrival.file)
            stored = await anyio.to_thread.run_sync(save, data, info, replace(meta, credentials=credentials.public()))
        except Exception as exc:
            failed.append(exc)  # raised below as itself (a refusal, a full disk): a task group would wrap it
    if failed:
        raise failed[0]
    return stored, pixels if pixels is not None else (decoded[0] if decoded else None)


@dataclass
class _Arrival:
    """What arrived of an image before its answer was whole, once known to be of its very bytes: the file the
    store wrote them to (None: there is none, or they are not these bytes)."""

    known: anyio.Event = field(default_factory=anyio.Event)
    file: ArrivingFile | None = None


async def _decode_into(
    decoded: list[Decoded], data: bytes, early: EarlyPreviews | None = None, arrival: _Arrival | None = None
) -> None:
    """The preview pixels of `data`: those decoded while it arrived when they are of these very bytes, else
    decoded now. `arrival` learns what arrived of these bytes as soon as that is known."""
    image = None
    try:
        image = await anyio.to_thread.run_sync(early.arrived, data) if early is not None else None
    finally:
        if arrival is not None:
            arrival.file = image.file if image is not None else None
            arrival.known.set()
    try:
        pixels = await anyio.to_thread.run_sync(image.decoded) if image is not None else None
        decoded.append(pixels if pixels is not None else await anyio.to_thread.run_sync(decode_for_preview, data))
    except (OSError, ValueError) as exc:
        log.warning("a stored image could not be decoded for its preview: %s", exc)


# --- the outcome -------------------------------------------------------------------------------------------------


def _outcome(deps: ImageDeps, plan: ImagePlan, delivered: list[Delivered], notes: list[str]) -> ImagesOutcome:
    """What was kept, what it cost, and what to tell the user; fails only when not one image could be kept."""
    records, kept_notes = _kept_images(delivered, [*plan.notes, *notes])
    skipped = sum(one.skipped_partials for one in delivered)
    if skipped:
        kept_notes.append(f"{skipped} partial image(s) arrived damaged and were skipped; the final image is complete.")
    told = list(dict.fromkeys([*kept_notes, *(note for one in delivered for note in one.notes)]))
    billed = [part for one in delivered for part in one.billed]
    priced = price(billed, deps.upstreams.catalog.lookup, deps.most_reported)
    cost: Cost = replace(priced, estimate=plan.quote.estimate)
    return ImagesOutcome(
        records,
        records[0].model or "unknown",
        sum_usage(one.usage for one in delivered),
        told,
        method=plan.method,
        usage_parts=[part for one in delivered for part in one.usage_parts],
        fresh={key: image for one in delivered for key, image in one.fresh.items()},
        cost=cost,
    )


def _kept_images(delivered: list[Delivered], notes: list[str]) -> tuple[list[ImageRecord], list[str]]:
    """The stored images of every answer, and a note naming each item that was not a usable image."""
    records = [stored for one in delivered for stored in one.records]
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


async def _copies(save: SavePlan | None, outcome: ImagesOutcome) -> ImagesOutcome:
    """The save_to copies, written from the bytes just received; a failed copy never loses a stored image."""
    if save is None:
        return outcome
    try:
        files = [outcome.fresh[stored.id].data for stored in outcome.images]
        saved, conversions = await anyio.to_thread.run_sync(write_copies, save, outcome.images, files)
    except (ImageServerError, OSError) as exc:
        return replace(outcome, notes=[*outcome.notes, f"save_to failed, the images are still in the store: {exc}"])
    return replace(outcome, notes=[*outcome.notes, *conversions], saved=saved)
