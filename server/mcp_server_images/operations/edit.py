"""edit_image's use case: input images (and a mask) by reference in, stored images out."""

from __future__ import annotations

from dataclasses import asdict
from functools import partial
from typing import Any

import anyio

from ..backends import ImageRequest, Upload, UpstreamError
from ..catalog.spec import ImageEndpoint, ModelKind
from ..errors import ParameterError
from ..imaging.convert import square_png, to_png
from ..imaging.masks import mask_from_image, mask_from_regions
from ..inputs import MAX_REFS, InputImage
from ..store import NewImage, Operation
from .budget import Quote
from .common import ImageDeps, deliver, finish, option_parameters, partial_stream, pay, plan_copies, streamed_count
from .cost import Ask, estimate
from .models import choose, explain_refusal
from .requests import Call, EditRequest, ImagesOutcome, MaskRequest

DALL_E_2 = "dall-e-2"


async def edit(deps: ImageDeps, request: EditRequest, call: Call) -> ImagesOutcome:
    options = request.options
    chosen = await choose(deps.models, request.model, ModelKind.IMAGE, ImageEndpoint.EDITS)
    spec = deps.models.catalog.validate(chosen.name, ImageEndpoint.EDITS, request.prompt, options)
    _check_shape(request, chosen.name, spec.max_edit_images if spec else MAX_REFS)
    plan = plan_copies(deps, request.save, options, request.client_roots)
    inputs = await deps.resolver.resolve_all(request.images, request.client_roots, flatten=True)
    dall_e_2 = spec is not None and spec.name == DALL_E_2
    notes = [*chosen.notes, *(image.note for image in inputs if image.note)]
    uploads: list[Upload] = []
    for image in inputs:
        upload, changes = await anyio.to_thread.run_sync(partial(_prepare_input, image, dall_e_2=dall_e_2))
        uploads.append(upload)
        notes.extend(changes)
    mask = await _mask(deps, request, inputs[0].info.width, inputs[0].info.height)
    wire_model = chosen.wire
    meta = NewImage(
        prompt=request.prompt,
        model=wire_model,
        operation=Operation.EDIT,
        parameters=option_parameters(options) | _mask_parameters(request.mask),
        source_images=[image.source for image in inputs],
        job_id=call.job_id,
        user=call.user,
    )
    upstream = ImageRequest(wire_model, request.prompt, options, spec, uploads, mask, partial_stream(call))
    quote = _quote(chosen.name, upstream, request.mask)

    async def run() -> ImagesOutcome:
        await call.progress.step(f"request sent to {wire_model}")
        try:
            delivered = await deliver(deps, deps.images.edit, upstream, meta, call)
        except UpstreamError as exc:
            raise await explain_refusal(deps.models, chosen, exc) from exc
        return await finish(deps, [delivered], notes, plan, quote.estimate)

    return await pay(call, quote, run)


def _quote(model: str, upstream: ImageRequest, mask: MaskRequest) -> Quote:
    """What the edit would send, and its estimate (input images are not estimated)."""
    options = upstream.options
    ask = Ask(
        model,
        upstream.spec,
        n=options.n,
        size=options.size,
        quality=options.quality,
        prompt=upstream.prompt,
        partial_images=streamed_count(upstream),
        input_images=len(upstream.inputs),
    )
    parameters = option_parameters(options) | {"images": len(upstream.inputs)} | _mask_parameters(mask)
    return Quote("edit", upstream.model, "images/edits", parameters, 1, estimate(ask))


def _check_shape(request: EditRequest, model: str, limit: int) -> None:
    """Counts and combinations the model's entry cannot express; checked before anything is read or sent."""
    if not 1 <= len(request.images) <= limit:
        raise ParameterError(
            "images", f"{model} edits take 1 to {limit} image{'s' if limit > 1 else ''}; got {len(request.images)}."
        )
    mask = request.mask
    if mask.image is not None and mask.regions is not None:
        raise ParameterError("mask", "Give either mask (an image) or mask_region (shapes), not both.")
    if mask.invert and mask.image is None and mask.regions is None:
        raise ParameterError("mask_invert", "mask_invert needs a mask or a mask_region to invert.")


def _prepare_input(image: InputImage, *, dall_e_2: bool) -> tuple[Upload, list[str]]:
    """Bytes and content type the edits endpoint accepts: dall-e-2 a square PNG, GPT models PNG, JPEG or WebP."""
    if dall_e_2:
        png, notes = square_png(image.data, image.info, repr(image.ref), crop=False)
        return Upload(png, "image/png"), notes
    if image.info.mime_type == "image/gif":
        return Upload(to_png(image.data), "image/png"), [f"{image.ref} was converted from GIF to PNG (lossless)."]
    return Upload(image.data, image.info.mime_type), []


async def _mask(deps: ImageDeps, request: EditRequest, width: int, height: int) -> bytes | None:
    mask = request.mask
    if mask.regions is not None:
        return mask_from_regions(mask.regions, (width, height), invert=mask.invert)
    if mask.image is None:
        return None
    mask_image = await deps.resolver.resolve(mask.image, request.client_roots)
    return await anyio.to_thread.run_sync(
        partial(mask_from_image, mask_image.data, (width, height), invert=mask.invert, shown=repr(mask_image.ref))
    )


def _mask_parameters(mask: MaskRequest) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if mask.image is not None:
        parameters["mask"] = mask.image if len(mask.image) < 200 else "(inline data)"
    if mask.regions is not None:
        parameters["mask_region"] = [asdict(region) for region in mask.regions]
    if mask.invert:
        parameters["mask_invert"] = True
    return parameters
