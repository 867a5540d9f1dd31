"""Use cases, free of MCP: take plain typed requests, talk to the upstream, store images, return plain results.

Every image the upstream delivers is stored before anything else happens with it, so an image that was paid for
is on disk even when a later step (or a sibling request of a fan-out) fails.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from ..backends import (
    ImagesAnswer,
    ImagesAPI,
    PartialHandler,
    ReceivedImage,
    StreamEndedEarlyError,
    UpstreamError,
    edit_fields,
    generation_body,
    image_parts,
    variation_fields,
)
from ..catalog import models as catalog
from ..catalog.models import ImageEndpoint, ImageOptions, ModelSpec
from ..errors import ImageServerError, ParameterError
from ..imaging.convert import square_png, to_png
from ..imaging.masks import Region, mask_from_image, mask_from_regions
from ..imaging.probe import NotAnImageError, probe
from ..inputs import ImageResolver, InputImage
from ..inputs.save_to import SavePlan, plan_save, write_copies
from ..settings import ProviderKind
from ..store import PARTIAL, ImageRecord, ImageStore, NewImage
from .common import split_batches, sum_usage
from .progress import NoProgress, Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SaveRequest:
    """`save_to` and `overwrite` as the user gave them."""

    save_to: str
    overwrite: bool = False


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    model: str | None = None
    options: ImageOptions = field(default_factory=ImageOptions)
    save: SaveRequest | None = None
    client_roots: Sequence[Path] = ()


@dataclass(frozen=True)
class EditRequest:
    images: Sequence[str]
    prompt: str
    mask: str | None = None
    mask_region: Sequence[Region] | None = None
    mask_invert: bool = False
    model: str | None = None
    options: ImageOptions = field(default_factory=ImageOptions)
    save: SaveRequest | None = None
    client_roots: Sequence[Path] = ()


@dataclass(frozen=True)
class VariationRequest:
    image: str
    model: str | None = None
    n: int = 1
    size: str | None = None
    save: SaveRequest | None = None
    client_roots: Sequence[Path] = ()


@dataclass(frozen=True)
class ImagesOutcome:
    """What an image-producing operation made: stored records, the model, summed usage, and notes for the user."""

    images: list[ImageRecord]
    model: str
    usage: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    method: str | None = None
    """For variations: "variations" (native endpoint) or "edits" (emulated)."""
    saved: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    """How one call runs: where its progress goes, which job it is, and how many partial images to stream."""

    progress: Progress = field(default_factory=NoProgress)
    job_id: str | None = None
    partial_images: int = 0
    """Above 0, models that can stream are asked to, with this many partial images."""


VARIATIONS_MODEL = "dall-e-2"
FALLBACK_EDIT_MODEL = "gpt-image-1"
VARIATION_PROMPT = (
    "Create a variation of this image: keep its subject, composition, colour palette and style, and change the "
    "details so that it is clearly a new, different image."
)
MAX_EDIT_IMAGES = 16


class ImageService:
    """The operations the tools expose, wired to one upstream client, one resolver and one store."""

    def __init__(
        self,
        *,
        images: ImagesAPI,
        store: ImageStore,
        resolver: ImageResolver,
        provider: ProviderKind,
        default_model: str,
    ) -> None:
        self.images = images
        self.store = store
        self.resolver = resolver
        self.provider = provider
        self.default_model = default_model
        self._variations_unavailable = False
        """Set once the upstream says dall-e-2 does not exist, so later variations go straight to edits."""

    async def generate(self, request: GenerateRequest, call: Call = Call()) -> ImagesOutcome:
        model = request.model or self.default_model
        options = request.options
        spec = catalog.validate(model, ImageEndpoint.GENERATIONS, request.prompt, options)
        plan = self._plan_save(request.save, options.n, request.client_roots)
        wire_model = catalog.wire_name(model, self.provider)
        batches = split_batches(options.n, spec.n_per_request if spec else options.n)
        ask_for_b64 = spec.accepts_response_format if spec else False
        meta = NewImage(
            prompt=request.prompt,
            model=wire_model,
            operation="generate",
            parameters=_parameters(options),
            job_id=call.job_id,
        )
        stream = self._stream_handler(spec, call)
        bodies = [
            generation_body(model=wire_model, prompt=request.prompt, n=n, options=options, ask_for_b64=ask_for_b64)
            | _stream_fields(stream, call)
            for n in batches
        ]
        await call.progress.step(f"request sent to {wire_model}")
        answers, failures = await _gather(
            [partial(self._streamed, self.images.generate, body, stream, meta) for body in bodies]
        )
        notes = []
        if len(batches) > 1:
            notes.append(f"{wire_model} makes one image per request, so {options.n} requests were sent concurrently.")
        if failures:
            if not answers:
                raise failures[0]
            notes.append(f"{len(failures)} of {len(batches)} requests failed: {failures[0]}")
        return await self._finish(answers, meta, wire_model, notes, plan)

    async def edit(self, request: EditRequest, call: Call = Call()) -> ImagesOutcome:
        model = request.model or self.default_model
        options = request.options
        spec = catalog.validate(model, ImageEndpoint.EDITS, request.prompt, options)
        limit = spec.max_edit_images if spec else MAX_EDIT_IMAGES
        if not 1 <= len(request.images) <= limit:
            raise ParameterError(
                "images", f"{model} edits take 1 to {limit} image{'s' if limit > 1 else ''}; got {len(request.images)}."
            )
        if request.mask is not None and request.mask_region is not None:
            raise ParameterError("mask", "Give either mask (an image) or mask_region (shapes), not both.")
        if request.mask_invert and request.mask is None and request.mask_region is None:
            raise ParameterError("mask_invert", "mask_invert needs a mask or a mask_region to invert.")
        plan = self._plan_save(request.save, options.n, request.client_roots)
        inputs = await self.resolver.resolve_all(request.images, request.client_roots)
        dall_e_2 = spec is not None and spec.name == VARIATIONS_MODEL
        notes: list[str] = []
        parts: list[tuple[bytes, str]] = []
        for image in inputs:
            data, mime, changes = await anyio.to_thread.run_sync(_prepare_edit_input, image, dall_e_2)
            parts.append((data, mime))
            notes.extend(changes)
        mask = await self._mask(request, inputs[0].info.width, inputs[0].info.height)
        wire_model = catalog.wire_name(model, self.provider)
        fields = edit_fields(
            model=wire_model,
            prompt=request.prompt,
            n=options.n,
            options=options,
            ask_for_b64=spec.accepts_response_format if spec else False,
        )
        meta = NewImage(
            prompt=request.prompt,
            model=wire_model,
            operation="edit",
            parameters=_parameters(options) | _mask_parameters(request),
            source_images=[_source(image) for image in inputs],
            job_id=call.job_id,
        )
        stream = self._stream_handler(spec, call)
        fields |= {key: str(value).lower() for key, value in _stream_fields(stream, call).items()}
        files = image_parts(parts, mask)
        await call.progress.step(f"request sent to {wire_model}")
        answer = await self._streamed(partial(self.images.edit, fields), files, stream, meta)
        return await self._finish([answer], meta, wire_model, notes, plan)

    async def vary(self, request: VariationRequest, call: Call = Call()) -> ImagesOutcome:
        options = ImageOptions(n=request.n, size=request.size)
        requested = request.model or VARIATIONS_MODEL
        spec = catalog.lookup(requested)
        native = spec is not None and ImageEndpoint.VARIATIONS in spec.endpoints
        if native:
            catalog.validate(requested, ImageEndpoint.VARIATIONS, None, options)
        notes: list[str] = []
        if native and not self._variations_unavailable:
            plan = self._plan_save(request.save, request.n, request.client_roots)
            source = await self.resolver.resolve(request.image, request.client_roots)
            try:
                return await self._native_variation(requested, source, request, plan, call)
            except UpstreamError as exc:
                if not _model_missing(exc):
                    raise
                self._variations_unavailable = True
                log.info("variations model %s is not available upstream; emulating through edits", requested)
                notes.append(f"{requested} is not available at this provider ({exc.message})")
        edit_model = requested if not native else self.default_model
        edit_spec = catalog.lookup(edit_model)
        if edit_spec is not None and ImageEndpoint.EDITS not in edit_spec.endpoints:
            edit_model = FALLBACK_EDIT_MODEL
            edit_spec = catalog.lookup(edit_model)
        size = request.size
        if size is not None and edit_spec is not None and size not in edit_spec.edit_sizes:
            notes.append(f"size {size} is not available for {edit_model} edits, so the model chose the size.")
            size = None
        outcome = await self.edit(
            EditRequest(
                images=[request.image],
                prompt=VARIATION_PROMPT,
                model=edit_model,
                options=ImageOptions(n=request.n, size=size),
                save=request.save,
                client_roots=request.client_roots,
            ),
            call,
        )
        notes.append(f"Emulated through /images/edits on {outcome.model} with a variation prompt.")
        return replace(outcome, notes=notes + outcome.notes, method="edits")

    async def _native_variation(
        self, model: str, source: InputImage, request: VariationRequest, plan: SavePlan | None, call: Call
    ) -> ImagesOutcome:
        png, notes = await anyio.to_thread.run_sync(
            partial(square_png, source.data, source.info, source.ref, crop=True)
        )
        wire_model = catalog.wire_name(model, self.provider)
        fields = variation_fields(model=wire_model, n=request.n, size=request.size)
        await call.progress.step(f"request sent to {wire_model}")
        answer = await self.images.variations(fields, image_parts([(png, "image/png")], None))
        meta = NewImage(
            prompt=None,
            model=wire_model,
            operation="variation",
            parameters={"n": request.n} | ({"size": request.size} if request.size else {}),
            source_images=[_source(source)],
            job_id=call.job_id,
        )
        outcome = await self._finish([answer], meta, wire_model, notes, plan)
        return replace(outcome, method="variations")

    @staticmethod
    def _stream_handler(spec: ModelSpec | None, call: Call) -> PartialHandler | None:
        """A handler that turns partial images into progress, when the call wants them and the model streams."""
        if call.partial_images <= 0 or spec is None or not spec.streams:
            return None

        async def on_partial(index: int, data: bytes) -> None:
            await call.progress.partial(index + 1, call.partial_images, data)

        return on_partial

    async def _streamed(
        self,
        send: Callable[[Any, PartialHandler | None], Awaitable[ImagesAnswer]],
        payload: Any,
        stream: PartialHandler | None,
        meta: NewImage,
    ) -> ImagesAnswer:
        """One upstream request; when a stream ends without its final image, the last partial is stored."""
        try:
            return await send(payload, stream)
        except StreamEndedEarlyError as exc:
            if exc.partial is None:
                raise
            kept = replace(meta, operation=f"{meta.operation} {PARTIAL}", request_id=exc.request_id)
            [record] = await self._store_answers([ImagesAnswer([ReceivedImage(exc.partial, None)], None, None)], kept)
            raise UpstreamError(
                f"{exc.message} The last partial image was kept as {record.id} at {record.path}.",
                request_id=exc.request_id,
            ) from exc

    async def _mask(self, request: EditRequest, width: int, height: int) -> bytes | None:
        if request.mask_region is not None:
            return mask_from_regions(request.mask_region, (width, height), invert=request.mask_invert)
        if request.mask is None:
            return None
        mask_image = await self.resolver.resolve(request.mask, request.client_roots)
        return await anyio.to_thread.run_sync(
            partial(
                mask_from_image,
                mask_image.data,
                (width, height),
                invert=request.mask_invert,
                shown=repr(mask_image.ref),
            )
        )

    def _plan_save(self, save: SaveRequest | None, count: int, client_roots: Sequence[Path]) -> SavePlan | None:
        if save is None:
            return None
        return plan_save(
            save.save_to,
            count=count,
            overwrite=save.overwrite,
            roots=self.resolver.roots(client_roots),
            bases=[*client_roots, Path.cwd()],
            store_root=self.store.root,
        )

    async def _finish(
        self, answers: list[ImagesAnswer], meta: NewImage, model: str, notes: list[str], plan: SavePlan | None
    ) -> ImagesOutcome:
        """Store every image first, then write the save_to copies; a failed copy never loses a stored image."""
        records = await self._store_answers(answers, meta)
        usage = sum_usage(a.usage for a in answers)
        saved: list[Path] = []
        if plan is not None:
            try:
                files = [await anyio.to_thread.run_sync(self.store.read, record) for record in records]
                saved, conversions = await anyio.to_thread.run_sync(write_copies, plan, records, files)
                notes = notes + conversions
            except (ImageServerError, OSError) as exc:
                notes = [*notes, f"save_to failed, the images are still in the store: {exc}"]
        return ImagesOutcome(records, model, usage, notes, saved=saved)

    async def _store_answers(self, answers: list[ImagesAnswer], meta: NewImage) -> list[ImageRecord]:
        records: list[ImageRecord] = []
        for answer in answers:
            for image in answer.images:
                try:
                    info = probe(image.data)
                except NotAnImageError as exc:
                    raise UpstreamError(
                        f"The image API answered with data that is not an image: {exc}", request_id=answer.request_id
                    ) from exc
                item_meta = replace(
                    meta, revised_prompt=image.revised_prompt, usage=answer.usage, request_id=answer.request_id
                )
                records.append(await anyio.to_thread.run_sync(self.store.save, image.data, info, item_meta))
        return records


def _prepare_edit_input(image: InputImage, dall_e_2: bool) -> tuple[bytes, str, list[str]]:
    """Bytes and content type the edits endpoint accepts: dall-e-2 a square PNG, GPT models PNG, JPEG or WebP."""
    if dall_e_2:
        png, notes = square_png(image.data, image.info, repr(image.ref), crop=False)
        return png, "image/png", notes
    if image.info.mime_type == "image/gif":
        return to_png(image.data), "image/png", [f"{image.ref} was converted from GIF to PNG (lossless)."]
    return image.data, image.info.mime_type, []


def _stream_fields(stream: PartialHandler | None, call: Call) -> dict[str, Any]:
    return {"stream": True, "partial_images": call.partial_images} if stream is not None else {}


def _source(image: InputImage) -> str:
    return image.stored_id or (str(image.path) if image.path else image.ref)


def _parameters(options: ImageOptions) -> dict[str, Any]:
    return {k: v for k, v in asdict(options).items() if v is not None}


def _mask_parameters(request: EditRequest) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if request.mask is not None:
        parameters["mask"] = request.mask if len(request.mask) < 200 else "(inline data)"
    if request.mask_region is not None:
        parameters["mask_region"] = [asdict(region) for region in request.mask_region]
    if request.mask_invert:
        parameters["mask_invert"] = True
    return parameters


def _model_missing(error: UpstreamError) -> bool:
    """The upstream's way of saying a model does not exist (OpenAI: 404 model_not_found; others: 400/404 text)."""
    if error.code == "model_not_found" or error.status == 404:
        return True
    return error.status == 400 and "does not exist" in error.message


async def _gather(
    calls: Sequence[Callable[[], Awaitable[ImagesAnswer]]],
) -> tuple[list[ImagesAnswer], list[ImageServerError]]:
    """Run the calls concurrently; keep every success (in order) and every user-facing failure."""
    results: list[ImagesAnswer | ImageServerError | None] = [None] * len(calls)

    async def run(index: int) -> None:
        try:
            results[index] = await calls[index]()
        except ImageServerError as exc:
            results[index] = exc

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(run, index)
    answers = [r for r in results if isinstance(r, ImagesAnswer)]
    failures = [r for r in results if isinstance(r, ImageServerError)]
    return answers, failures


def finished_job(records: list[ImageRecord]) -> ImagesOutcome:
    """A job's outcome rebuilt from its stored images (after a restart, the job itself is gone)."""
    usage = sum_usage({r.request_id: r.usage for r in records}.values())  # one usage per upstream answer
    notes = [f"Recovered from the store: job {records[0].job_id} finished earlier."]
    return ImagesOutcome(records, records[0].model or "unknown", usage, notes)
