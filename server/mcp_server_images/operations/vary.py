"""create_image_variation's use case: dall-e-2's native endpoint where it is served, emulation through edits elsewhere.

Which way a variation goes is a pure plan from the request, the catalog and what the provider serves. A provider
that answers "no such model" for dall-e-2 is remembered by the model directory (the explicit memo), and later
variations go straight to edits with the resolved default image model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Emulation:
    """How to make the variation through edits: which model, which size, and what to tell the user."""

    model: str
    size: str | None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class VariationPlan:
    native: str | None
    """The model to send to /images/variations, or None to go through edits."""
    emulation: Emulation


def plan_variation(
    request: VariationRequest, catalog: Catalog, *, edit_default: str, native_usable: bool
) -> VariationPlan:
    """Decide the route without side effects; validates a native request before anything is sent.

    Without a model, dall-e-2's native endpoint is used where the provider serves it, else edits on the default
    image model. A model without a variations endpoint is emulated through edits on that model.
    """
    requested = request.model or VARIATIONS_MODEL
    spec = catalog.lookup(requested)
    native = spec is not None and ImageEndpoint.VARIATIONS in spec.endpoints
    if native:
        catalog.validate(requested, ImageEndpoint.VARIATIONS, None, ImageOptions.of(n=request.n, size=request.size))
    edit_model = edit_default if native else requested
    size, notes = request.size, []
    if size is not None and not _edit_size_ok(catalog, edit_model, size):
        size = None
        notes.append(f"size {request.size} is not available for {edit_model} edits, so the model chose the size.")
    native_model = requested if native and native_usable else None
    return VariationPlan(native_model, Emulation(edit_model, size, tuple(notes)))


async def vary(deps: ImageDeps, request: VariationRequest, call: Call) -> ImagesOutcome:
    models = deps.models
    notes: list[str] = []
    native: Chosen | None = None
    why_not = None if request.model is not None else await _why_not_native(deps)
    if why_not is None:
        native = await choose(models, request.model or VARIATIONS_MODEL, ModelKind.IMAGE)
    else:
        notes.append(f"No native variations: {why_not}.")
    edit_default = (await choose(models, None, ModelKind.IMAGE, ImageEndpoint.EDITS)).name
    plan = plan_variation(request, models.catalog, edit_default=edit_default, native_usable=native is not None)
    if plan.native is not None and native is not None:
        try:
            return await _native(deps, native, request, call)
        except UpstreamError as exc:
            if exc.code != "model_not_found" and exc.status != 404:
                raise
            models.directory.mark_shut_down(native.name)
            log.info("variations model %s is not available upstream; emulating through edits", native.name)
            notes.append(f"{native.name} is not available at this provider ({exc.message})")
    emulation = plan.emulation
    outcome = await edit(
        deps,
        EditRequest(
            images=[request.image],
            prompt=VARIATION_PROMPT,
            model=emulation.model,
            options=ImageOptions.of(n=request.n, size=emulation.size),
            save=request.save,
            client_roots=request.client_roots,
        ),
        call,
    )
    notes += [*emulation.notes, f"Emulated through /images/edits on {outcome.model} with a variation prompt."]
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
        outcome = await finish(deps, [delivered], [*chosen.notes, *notes], save_plan, quote.estimate)
        return replace(outcome, method="variations")

    return await pay(call, quote, run)
