"""edit_image's use case: input images (and a mask) by reference in, a plan out (pipeline.run makes it)."""

from __future__ import annotations

from dataclasses import asdict, replace
from functools import partial
from typing import Any

import anyio

from ..backends.base import ImageRequest, Upload
from ..catalog.spec import Api, ImageEndpoint, ModelKind
from ..errors import ParameterError
from ..imaging.convert import square_png, to_png
from ..imaging.masks import mask_from_image, mask_from_regions
from ..inputs import MAX_REFS
from ..inputs.resolver import InputImage
from ..store import NewImage, Operation
from .deps import ImageDeps
from .model_choice import Chosen, check_listed, choose
from .pipeline import ImagePlan, Send, partial_images, plan_copies, split_batches
from .requests import CallContext, EditRequest, MaskRequest
from .routing import Route, conversation_route, fallback_route, quote, route_for

DALL_E_2 = "dall-e-2"


async def plan_edit(deps: ImageDeps, request: EditRequest, call: CallContext) -> ImagePlan:
    options = request.options
    chosen = await choose(deps.upstreams, request.model, ModelKind.IMAGE, ImageEndpoint.EDITS, call.audience)
    _check_provider_edits(chosen)
    catalog = deps.upstreams.catalog
    spec = catalog.validate(chosen.name, ImageEndpoint.EDITS, request.prompt, options, chosen.upstream.kind)
    route = route_for(deps, chosen, request.api)
    await check_listed(chosen, options, route.api)
    _check_shape(request, chosen.name, spec.max_edit_images if spec else MAX_REFS)
    if not route.backend.capabilities.takes_masks:
        _refuse_mask(deps, request.mask, chosen, route)
    save = plan_copies(deps, request.save, options, request.client_roots)
    inputs = await deps.resolver.resolve_all(request.images, request.client_roots, flatten=True)
    conversation = conversation_route(chosen) if request.api is None and inputs[0].response_id else None
    route = conversation or route  # an image made in a conversation is refined in it
    dall_e_2 = spec is not None and spec.name == DALL_E_2
    notes = [*chosen.notes, *(image.note for image in inputs if image.note)]
    uploads: list[Upload] = []
    for image in inputs:
        upload, changes = await anyio.to_thread.run_sync(partial(_prepare_input, image, dall_e_2=dall_e_2))
        uploads.append(upload)
        notes.extend(changes)
    mask = await _mask(deps, request, inputs[0].info.width, inputs[0].info.height)
    set_options, mask_parameters = options.parameters(), _mask_parameters(request.mask)
    record = NewImage(
        prompt=request.prompt,
        model=chosen.wire,
        operation=Operation.EDIT,
        parameters=set_options | mask_parameters,
        source_images=[image.source for image in inputs],
        api=route.api.value,
    )
    requests = tuple(
        ImageRequest(chosen.wire, request.prompt, replace(options, n=n), spec, uploads, mask)
        for n in split_batches(options.n, route.backend.per_request(spec, options.n))
    )
    parameters = set_options | {"images": len(uploads)} | mask_parameters
    streamed = partial_images(call, requests[0])
    return ImagePlan(
        operation=Operation.EDIT,
        chosen=chosen,
        route=route,
        endpoint=ImageEndpoint.EDITS,
        send=Send.EDIT,
        requests=requests,
        quote=quote(route, "edit", ImageEndpoint.EDITS, chosen, requests, parameters, streamed),
        record=record,
        save=save,
        notes=tuple(notes),
        partial_images=streamed,
        fallback=fallback_route(chosen, route),
    )


def _check_provider_edits(chosen: Chosen) -> None:
    """A provider whose API makes no edits (Ollama, LocalAI) is refused before anything is read or sent."""
    endpoint = chosen.upstream.endpoint
    if not endpoint.profile.edits:
        raise ParameterError(
            "images",
            f"The provider {endpoint.label} makes no image edits (its API has generations only); edit on a "
            "provider that has them (model@NAME), or generate a new image instead.",
        )


def _refuse_mask(deps: ImageDeps, mask: MaskRequest, chosen: Chosen, route: Route) -> None:
    """An API that edits from the instruction alone (chat image models, xAI, OpenRouter, local servers) would
    silently ignore a mask."""
    if mask.image is None and mask.regions is None:
        return
    catalog = deps.upstreams.catalog
    takers = [
        name
        for name in catalog.models_supporting(
            endpoint=ImageEndpoint.EDITS, vendors=chosen.upstream.endpoint.profile.vendors
        )
        if (spec := catalog.lookup(name)) is not None
        and (backend := chosen.upstream.backends.get(spec.api)) is not None
        and backend.capabilities.takes_masks
    ]
    param = "mask" if mask.image is not None else "mask_region"
    how = "Chat Completions" if route.api is Api.CHAT else f"the Images API of {chosen.upstream.endpoint.label}"
    others = f"use a model that takes masks: {', '.join(takers)}" if takers else "use a provider whose edits take masks"
    raise ParameterError(
        param,
        f"{chosen.name} edits through {how}, which takes no mask; describe the change in the prompt instead, "
        f"or {others}.",
    )


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
        converted = Upload(to_png(image.data), "image/png", image.response_id)
        return converted, [f"{image.ref} was converted from GIF to PNG (lossless)."]
    return Upload(image.data, image.info.mime_type, image.response_id), []


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
