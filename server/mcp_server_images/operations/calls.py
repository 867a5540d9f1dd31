"""An image call from the adapter's side: its request planned (checked, priced, nothing sent), then run in a job.

Planning is the same for a dry run, a confirmation and the real call; running is `pipeline.run`. The one turn a
plan cannot decide in advance is here: a native variation whose model the provider turns out not to serve goes on
as an emulation through edits.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ..backends.errors import UpstreamError
from .deps import ImageDeps
from .edit import plan_edit
from .generate import plan_generation
from .pipeline import ImagePlan, Send, run
from .requests import CallContext, EditRequest, GenerateRequest, ImageCallRequest, ImagesOutcome, VariationRequest
from .vary import plan_emulation, plan_variation

log = logging.getLogger(__name__)


async def plan_call(deps: ImageDeps, request: ImageCallRequest, call: CallContext) -> ImagePlan:
    """Every check a call makes before paying: model, parameters, inputs, save_to, route; and its quote, with the
    estimate learned from what calls alike cost (the one a dry run shows, a confirmation asks about and the ledger
    reserves)."""
    plan = await _planned(deps, request, call)
    return replace(plan, quote=await call.spending.informed(plan.quote))


async def _planned(deps: ImageDeps, request: ImageCallRequest, call: CallContext) -> ImagePlan:
    match request:
        case GenerateRequest():
            return await plan_generation(deps, request, call)
        case EditRequest():
            return await plan_edit(deps, request, call)
        case VariationRequest():
            return await plan_variation(deps, request, call)


async def run_call(deps: ImageDeps, request: ImageCallRequest, plan: ImagePlan, call: CallContext) -> ImagesOutcome:
    """Run the plan; a native variation the provider answers "no such model" for is made through edits instead."""
    try:
        return await run(deps, plan, call)
    except UpstreamError as exc:
        gone = exc.code == "model_not_found" or exc.status == 404
        if plan.send is not Send.VARY or not gone or not isinstance(request, VariationRequest):
            raise
        model = plan.chosen.name
        plan.chosen.upstream.models.directory.mark_shut_down(model)
        log.info("variations model %s is not available upstream; emulating through edits", model)
        note = f"{model} is not available at this provider (it answered model_not_found)"
        return await run(deps, await plan_emulation(deps, request, call, None, [note]), call)
