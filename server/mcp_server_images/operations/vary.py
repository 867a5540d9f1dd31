"""create_image_variation's use case: dall-e-2's native endpoint where it is served, emulation through edits elsewhere.

A plan for the native endpoint is run like any other; should the provider answer "no such model" for it, the
call goes on as an emulation (`calls.run_call`), and the model directory remembers (the explicit memo), so later
variations go straight to edits with the resolved default image model.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial

import anyio

from ..backends.base import ImageRequest, Upload
from ..catalog.catalog import Catalog
from ..catalog.options import ImageOptions
from ..catalog.spec import ImageEndpoint, ModelKind
from ..errors import ParameterError
from ..imaging.convert import square_png
from ..store import NewImage, Operation
from .deps import ImageDeps
from .edit import plan_edit
from .model_choice import Chosen, choose
from .pipeline import ImagePlan, Send, plan_copies
from .requests import CallContext, EditRequest, VariationRequest
from .routing import Route, quote

log = logging.getLogger(__name__)

VARIATIONS_MODEL = "dall-e-2"
VARIATION_PROMPT = (
    "Create a variation of this image: keep its subject, composition, colour palette and style, and change the "
    "details so that it is clearly a new, different image."
)


async def plan_variation(deps: ImageDeps, request: VariationRequest, call: CallContext) -> ImagePlan:
    """Natively when the model (dall-e-2 when none is named) has a variations endpoint the provider serves; else
    through edits on the named model, or on the default image model when the call names none.

    The default image model is resolved only when the variation goes through edits without a named model, so a
    call naming a model never fails because the default is not served.
    """
    catalog = deps.upstreams.catalog
    requested = request.model or VARIATIONS_MODEL
    spec = catalog.lookup(deps.upstreams.split(requested)[0])
    if spec is None or ImageEndpoint.VARIATIONS not in spec.endpoints:
        return await plan_emulation(deps, request, call, request.model, [])
    options = ImageOptions.of(n=request.n, size=request.size)
    catalog.validate(spec.name, ImageEndpoint.VARIATIONS, None, options)
    if request.model is not None:
        return await _native_plan(deps, await choose(deps.upstreams, requested, ModelKind.IMAGE), request)
    chosen, why_not = await _native(deps)
    if chosen is None:
        return await plan_emulation(deps, request, call, None, [f"No native variations: {why_not}."])
    return await _native_plan(deps, chosen, request)


async def plan_emulation(
    deps: ImageDeps, request: VariationRequest, call: CallContext, model: str | None, notes: list[str]
) -> ImagePlan:
    """The variation as an edit of the image with a variation prompt, on `model` (None: the default image model);
    a size that model's edits do not take is left to the model, and the result says so."""
    edit_model = (await choose(deps.upstreams, model, ModelKind.IMAGE, ImageEndpoint.EDITS, call.audience)).name
    size = request.size
    if size is not None and not _edit_size_ok(deps.upstreams.catalog, edit_model, size):
        size = None
        notes = [*notes, f"size {request.size} is not available for {edit_model} edits, so the model chose the size."]
    edit = EditRequest(
        images=[request.image],
        prompt=VARIATION_PROMPT,
        model=model,
        options=ImageOptions.of(n=request.n, size=size),
        save=request.save,
        client_roots=request.client_roots,
    )
    plan = await plan_edit(deps, edit, call)
    told = [*notes, f"Emulated through /images/edits on {plan.chosen.wire} with a variation prompt."]
    return replace(plan, operation=Operation.VARIATION, notes=(*told, *plan.notes), method="edits")


def _edit_size_ok(catalog: Catalog, model: str, size: str) -> bool:
    try:
        catalog.validate(model, ImageEndpoint.EDITS, None, ImageOptions.of(size=size))
    except ParameterError:
        return False
    return True


async def _native(deps: ImageDeps) -> tuple[Chosen | None, str]:
    """dall-e-2 on the provider that serves it, or None and why its native endpoint is not worth a try (shut down,
    not served here, no variations endpoint)."""
    try:
        chosen = await choose(deps.upstreams, VARIATIONS_MODEL, ModelKind.IMAGE)
    except ParameterError as exc:
        return None, str(exc).rstrip(".")
    if await chosen.upstream.models.directory.is_served(VARIATIONS_MODEL) is False:
        return None, f"{VARIATIONS_MODEL} is not served by this provider"
    if _variations_route(chosen) is None:
        return None, f"the provider {chosen.upstream.endpoint.label} has no variations endpoint"
    return chosen, ""


def _variations_route(chosen: Chosen) -> Route | None:
    return next(
        (
            Route(api, backend)
            for api, backend in chosen.upstream.backends.items()
            if backend.capabilities.makes_variations
        ),
        None,
    )


async def _native_plan(deps: ImageDeps, chosen: Chosen, request: VariationRequest) -> ImagePlan:
    """The native endpoint: the image cropped to its centre square, as a PNG (dall-e-2 takes nothing else)."""
    options = ImageOptions.of(n=request.n, size=request.size)
    save = plan_copies(deps, request.save, options, request.client_roots)
    source = await deps.resolver.resolve(request.image, request.client_roots, flatten=True)
    png, notes = await anyio.to_thread.run_sync(partial(square_png, source.data, source.info, source.ref, crop=True))
    record = NewImage(
        prompt=None,
        model=chosen.wire,
        operation=Operation.VARIATION,
        parameters=options.parameters(),
        source_images=[source.source],
    )
    route = _variations_route(chosen)
    if route is None:
        raise ParameterError(
            "model",
            f"The provider {chosen.upstream.endpoint.label} has no variations endpoint; leave model out to make "
            "variations through edits.",
        )
    requests = (ImageRequest(chosen.wire, None, options, chosen.spec, [Upload(png, "image/png")]),)
    return ImagePlan(
        operation=Operation.VARIATION,
        chosen=chosen,
        route=route,
        endpoint=ImageEndpoint.VARIATIONS,
        send=Send.VARY,
        requests=requests,
        quote=quote(route, "variation", ImageEndpoint.VARIATIONS, chosen, requests, record.parameters),
        record=record,
        save=save,
        notes=(*chosen.notes, *(note for note in (source.note, *notes) if note)),
        method="variations",
    )
