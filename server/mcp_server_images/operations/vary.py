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
    models = deps.models
    requested = request.model or VARIATIONS_MODEL
    spec = models.catalog.lookup(requested)
    if spec is None or ImageEndpoint.VARIATIONS not in spec.endpoints:
        return await plan_emulation(deps, request, call, request.model, [])
    models.catalog.validate(requested, ImageEndpoint.VARIATIONS, None, ImageOptions.of(n=request.n, size=request.size))
    why_not = None if request.model is not None else await _why_not_native(deps)
    if why_not is not None:
        return await plan_emulation(deps, request, call, None, [f"No native variations: {why_not}."])
    return await _native_plan(deps, await choose(models, requested, ModelKind.IMAGE), request)


async def plan_emulation(
    deps: ImageDeps, request: VariationRequest, call: CallContext, model: str | None, notes: list[str]
) -> ImagePlan:
    """The variation as an edit of the image with a variation prompt, on `model` (None: the default image model);
    a size that model's edits do not take is left to the model, and the result says so."""
    edit_model = (await choose(deps.models, model, ModelKind.IMAGE, ImageEndpoint.EDITS, call.audience)).name
    size = request.size
    if size is not None and not _edit_size_ok(deps.models.catalog, edit_model, size):
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


async def _why_not_native(deps: ImageDeps) -> str | None:
    """Why dall-e-2's native endpoint is not worth a try (shut down, not served here), or None to try it."""
    directory = deps.models.directory
    problem = await directory.lifecycle_problem(VARIATIONS_MODEL)
    if problem is None and await directory.is_served(VARIATIONS_MODEL) is False:
        problem = f"{VARIATIONS_MODEL} is not served by this provider"
    return problem


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
    route = next(Route(api, backend) for api, backend in deps.backends.items() if backend.capabilities.makes_variations)
    requests = (ImageRequest(chosen.wire, None, options, chosen.spec, [Upload(png, "image/png")]),)
    return ImagePlan(
        operation=Operation.VARIATION,
        chosen=chosen,
        route=route,
        endpoint=ImageEndpoint.VARIATIONS,
        send=Send.VARY,
        requests=requests,
        quote=quote(route, "variation", ImageEndpoint.VARIATIONS, chosen.name, requests, record.parameters),
        record=record,
        save=save,
        notes=(*chosen.notes, *(note for note in (source.note, *notes) if note)),
        method="variations",
    )
