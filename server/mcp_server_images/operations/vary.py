"""create_image_variation's use case: dall-e-2's native endpoint where it is served, emulation through edits elsewhere.

A provider that answers "no such model" for dall-e-2 is remembered by the model directory (the explicit memo), and
later variations go straight to edits with the resolved default image model.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial

import anyio

from ..backends import ImageRequest, Upload, UpstreamError
from ..catalog.catalog import Catalog
from ..catalog.options import ImageOptions
from ..catalog.spec import ImageEndpoint, ModelKind
from ..errors import ParameterError
from ..imaging.convert import square_png
from ..store import NewImage, Operation
from .budget import Quote
from .common import ImageDeps, deliver, finish, pay, plan_copies
from .cost import Ask, estimate
from .edit import edit
from .models import Chosen, choose
from .requests import Call, EditRequest, ImagesOutcome, VariationRequest

log = logging.getLogger(__name__)

VARIATIONS_MODEL = "dall-e-2"
VARIATION_PROMPT = (
    "Create a variation of this image: keep its subject, composition, colour palette and style, and change the "
    "details so that it is clearly a new, different image."
)


async def vary(deps: ImageDeps, request: VariationRequest, call: Call) -> ImagesOutcome:
    """Natively when the model (dall-e-2 when none is named) has a variations endpoint the provider serves; else
    through edits on the named model, or on the default image model when the call names none.

    The default image model is resolved only when the variation goes through edits without a named model, so a
    call naming a model never fails because the default is not served.
    """
    models = deps.models
    requested = request.model or VARIATIONS_MODEL
    spec = models.catalog.lookup(requested)
    if spec is None or ImageEndpoint.VARIATIONS not in spec.endpoints:
        return await _emulate(deps, request, call, request.model, [])
    models.catalog.validate(requested, ImageEndpoint.VARIATIONS, None, ImageOptions.of(n=request.n, size=request.size))
    why_not = None if request.model is not None else await _why_not_native(deps)
    if why_not is not None:
        return await _emulate(deps, request, call, None, [f"No native variations: {why_not}."])
    native = await choose(models, requested, ModelKind.IMAGE)
    try:
        return await _native(deps, native, request, call)
    except UpstreamError as exc:
        if exc.code != "model_not_found" and exc.status != 404:
            raise
        models.directory.mark_shut_down(native.name)
        log.info("variations model %s is not available upstream; emulating through edits", native.name)
        return await _emulate(
            deps, request, call, None, [f"{native.name} is not available at this provider ({exc.message})"]
        )


async def _emulate(
    deps: ImageDeps, request: VariationRequest, call: Call, model: str | None, notes: list[str]
) -> ImagesOutcome:
    """The variation as an edit of the image with a variation prompt, on `model` (None: the default image model);
    a size that model's edits do not take is left to the model, and the result says so."""
    edit_model = (await choose(deps.models, model, ModelKind.IMAGE, ImageEndpoint.EDITS)).name
    size = request.size
    if size is not None and not _edit_size_ok(deps.models.catalog, edit_model, size):
        size = None
        notes = [*notes, f"size {request.size} is not available for {edit_model} edits, so the model chose the size."]
    outcome = await edit(
        deps,
        EditRequest(
            images=[request.image],
            prompt=VARIATION_PROMPT,
            model=model,
            options=ImageOptions.of(n=request.n, size=size),
            save=request.save,
            client_roots=request.client_roots,
        ),
        call,
    )
    notes = [*notes, f"Emulated through /images/edits on {outcome.model} with a variation prompt."]
    return replace(outcome, notes=notes + outcome.notes, method="edits")


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


async def _native(deps: ImageDeps, chosen: Chosen, request: VariationRequest, call: Call) -> ImagesOutcome:
    options = ImageOptions.of(n=request.n, size=request.size)
    save_plan = plan_copies(deps, request.save, options, request.client_roots)
    source = await deps.resolver.resolve(request.image, request.client_roots, flatten=True)
    png, notes = await anyio.to_thread.run_sync(partial(square_png, source.data, source.info, source.ref, crop=True))
    notes = [note for note in (source.note, *notes) if note]
    meta = NewImage(
        prompt=None,
        model=chosen.wire,
        operation=Operation.VARIATION,
        parameters=options.parameters(),
        source_images=[source.source],
        job_id=call.job_id,
        user=call.user,
    )
    upstream = ImageRequest(chosen.wire, None, options, chosen.spec, [Upload(png, "image/png")])
    ask = Ask(chosen.name, chosen.spec, options)
    quote = Quote("variation", chosen.wire, "images/variations", meta.parameters, 1, estimate(ask))

    async def run() -> ImagesOutcome:
        await call.progress.step(f"request sent to {chosen.wire}")
        delivered = await deliver(deps, deps.images.vary, upstream, meta, call)
        outcome = await finish(deps, [delivered], [*chosen.notes, *notes], save_plan)
        return replace(outcome, method="variations")

    return await pay(call, quote, run)
