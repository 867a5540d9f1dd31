"""generate_image's use case: a prompt in, stored images out; models that make one image per request fan out."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from ..backends import ImageRequest
from ..catalog.spec import ImageEndpoint, ModelKind
from ..store import NewImage, Operation
from .common import (
    ImageDeps,
    deliver,
    fan_out,
    finish,
    partial_stream,
    pay,
    plan_copies,
    split_batches,
)
from .models import choose
from .requests import Call, GenerateRequest, ImagesOutcome
from .routing import quote as quote_for
from .routing import route


async def generate(deps: ImageDeps, request: GenerateRequest, call: Call) -> ImagesOutcome:
    options = request.options
    chosen = await choose(deps.models, request.model, ModelKind.IMAGE, ImageEndpoint.GENERATIONS, call.audience)
    spec = deps.models.catalog.validate(chosen.name, ImageEndpoint.GENERATIONS, request.prompt, options)
    road = route(deps, chosen, request.api)
    plan = plan_copies(deps, request.save, options, request.client_roots)
    wire_model = chosen.wire
    batches = split_batches(options.n, road.backend.per_request(spec, options.n))
    meta = NewImage(
        prompt=request.prompt,
        model=wire_model,
        operation=Operation.GENERATE,
        parameters=options.parameters(),
        job_id=call.job_id,
        user=call.user,
        api=road.api.value,
    )
    stream = partial_stream(call)
    upstream = [ImageRequest(wire_model, request.prompt, replace(options, n=n), spec, stream=stream) for n in batches]
    quote = quote_for(road, "generate", ImageEndpoint.GENERATIONS, chosen.name, upstream, meta.parameters)

    async def run() -> ImagesOutcome:
        await call.progress.step(road.sent_to(wire_model))
        send = partial(deliver, deps, road.backend.generate, meta=meta, call=call)
        delivered, notes = await fan_out(deps, chosen, road.api, send, upstream, ImageEndpoint.GENERATIONS)
        return await finish(deps, delivered, [*chosen.notes, *notes], plan)

    return await pay(call, quote, run)
