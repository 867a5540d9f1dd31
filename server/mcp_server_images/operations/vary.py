"""create_image_variation's use case: dall-e-2's native endpoint where it exists, emulation through edits elsewhere.

Which way a variation goes is a pure plan from the request, the catalog and what this process has learned
(`VariationsMemo`): a provider that answers "no such model" for dall-e-2 is remembered, and later variations go
straight to edits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import partial

import anyio

from ..backends import ImageRequest, Upload, UpstreamError
from ..catalog import models as catalog
from ..catalog.models import ImageEndpoint, ImageOptions
from ..imaging.convert import square_png
from ..store import NewImage, Operation
from .common import ImageDeps, deliver, finish, plan_copies
from .edit import edit
from .requests import Call, EditRequest, ImagesOutcome, VariationRequest

log = logging.getLogger(__name__)

VARIATIONS_MODEL = "dall-e-2"
FALLBACK_EDIT_MODEL = "gpt-image-1"
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
    """The model to try on /images/variations first, or None to go straight to edits."""
    emulation: Emulation


def plan_variation(request: VariationRequest, default_model: str, *, native_unavailable: bool) -> VariationPlan:
    """Decide the route without side effects; validates a native request before anything is sent."""
    requested = request.model or VARIATIONS_MODEL
    spec = catalog.lookup(requested)
    native = spec is not None and ImageEndpoint.VARIATIONS in spec.endpoints
    if native:
        catalog.validate(requested, ImageEndpoint.VARIATIONS, None, ImageOptions(n=request.n, size=request.size))
    edit_model = default_model if native else requested
    edit_spec = catalog.lookup(edit_model)
    if edit_spec is not None and ImageEndpoint.EDITS not in edit_spec.endpoints:
        edit_model, edit_spec = FALLBACK_EDIT_MODEL, catalog.lookup(FALLBACK_EDIT_MODEL)
    size, notes = request.size, []
    if size is not None and edit_spec is not None and size not in edit_spec.edit_sizes:
        size = None
        notes.append(f"size {request.size} is not available for {edit_model} edits, so the model chose the size.")
    native_model = requested if native and not native_unavailable else None
    return VariationPlan(native_model, Emulation(edit_model, size, tuple(notes)))


async def vary(deps: ImageDeps, request: VariationRequest, call: Call) -> ImagesOutcome:
    plan = plan_variation(request, deps.default_model, native_unavailable=deps.variations.native_unavailable)
    notes: list[str] = []
    if plan.native is not None:
        try:
            return await _native(deps, plan.native, request, call)
        except UpstreamError as exc:
            if not _model_missing(exc):
                raise
            deps.variations.native_unavailable = True
            log.info("variations model %s is not available upstream; emulating through edits", plan.native)
            notes.append(f"{plan.native} is not available at this provider ({exc.message})")
    emulation = plan.emulation
    outcome = await edit(
        deps,
        EditRequest(
            images=[request.image],
            prompt=VARIATION_PROMPT,
            model=emulation.model,
            options=ImageOptions(n=request.n, size=emulation.size),
            save=request.save,
            client_roots=request.client_roots,
        ),
        call,
    )
    notes += [*emulation.notes, f"Emulated through /images/edits on {outcome.model} with a variation prompt."]
    return replace(outcome, notes=notes + outcome.notes, method="edits")


async def _native(deps: ImageDeps, model: str, request: VariationRequest, call: Call) -> ImagesOutcome:
    save_plan = plan_copies(deps, request.save, request.n, request.client_roots)
    source = await deps.resolver.resolve(request.image, request.client_roots)
    png, notes = await anyio.to_thread.run_sync(partial(square_png, source.data, source.info, source.ref, crop=True))
    wire_model = catalog.wire_name(model, deps.provider)
    options = ImageOptions(n=request.n, size=request.size)
    meta = NewImage(
        prompt=None,
        model=wire_model,
        operation=Operation.VARIATION,
        parameters={"n": request.n} | ({"size": request.size} if request.size else {}),
        source_images=[source.source],
        job_id=call.job_id,
        user=call.user,
    )
    upstream = ImageRequest(wire_model, None, options, catalog.lookup(model), [Upload(png, "image/png")])
    await call.progress.step(f"request sent to {wire_model}")
    delivered = await deliver(deps, deps.images.vary, upstream, meta, call)
    outcome = await finish(deps, [delivered], notes, save_plan)
    return replace(outcome, method="variations")


def _model_missing(error: UpstreamError) -> bool:
    """The upstream's way of saying a model does not exist (OpenAI: 404 model_not_found; others: 400/404 text)."""
    if error.code == "model_not_found" or error.status == 404:
        return True
    return error.status == 400 and "does not exist" in error.message
