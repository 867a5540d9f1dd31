"""generate_image's use case: a prompt in, stored images out; models that make one image per request fan out."""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from ..backends import ImageRequest
from ..catalog.spec import ImageEndpoint, ModelKind
from ..store import NewImage, Operation
from .budget import Quote
from .common import (
    ImageDeps,
    deliver,
    finish,
    gather,
    option_parameters,
    partial_stream,
    pay,
    plan_copies,
    split_batches,
    streamed_count,
)
from .cost import Ask, estimate
from .models import choose, explain_refusal
from .requests import Call, GenerateRequest, ImagesOutcome


async def generate(deps: ImageDeps, request: GenerateRequest, call: Call) -> ImagesOutcome:
    options = request.options
    chosen = await choose(deps.models, request.model, ModelKind.IMAGE, ImageEndpoint.GENERATIONS)
    spec = deps.models.catalog.validate(chosen.name, ImageEndpoint.GENERATIONS, request.prompt, options)
    plan = plan_copies(deps, request.save, options, request.client_roots)
    wire_model = chosen.wire
    batches = split_batches(options.n, spec.n_per_request if spec else options.n)
    meta = NewImage(
        prompt=request.prompt,
        model=wire_model,
        operation=Operation.GENERATE,
        parameters=option_parameters(options),
        job_id=call.job_id,
        user=call.user,
    )
    stream = partial_stream(call)
    upstream = [ImageRequest(wire_model, request.prompt, replace(options, n=n), spec, stream=stream) for n in batches]
    ask = Ask(
        chosen.name,
        spec,
        n=options.n,
        size=options.size,
        quality=options.quality,
        prompt=request.prompt,
        requests=len(batches),
        partial_images=streamed_count(upstream[0]),
    )
    quote = Quote("generate", wire_model, "images/generations", meta.parameters, len(batches), estimate(ask))

    async def run() -> ImagesOutcome:
        await call.progress.step(f"request sent to {wire_model}")
        delivered, failures = await gather(
            [partial(deliver, deps, deps.images.generate, one, meta, call) for one in upstream]
        )
        notes = list(chosen.notes)
        if len(batches) > 1:
            notes.append(f"{wire_model} makes one image per request, so {options.n} requests were sent concurrently.")
        if failures:
            if not delivered:
                raise await explain_refusal(deps.models, chosen, failures[0])
            notes.append(f"{len(failures)} of {len(batches)} requests failed: {failures[0]}")
        return await finish(deps, delivered, notes, plan, quote.estimate)

    return await pay(call, quote, run)
