"""generate_image's use case: a prompt in, a plan out (pipeline.run makes it); models that make one image per
request fan out."""

from __future__ import annotations

from dataclasses import replace

from ..backends.base import ImageRequest
from ..catalog.spec import ImageEndpoint, ModelKind
from ..store import NewImage, Operation
from .deps import ImageDeps
from .model_choice import check_listed, choose
from .pipeline import ImagePlan, Send, partial_images, plan_copies, split_batches
from .requests import CallContext, GenerateRequest
from .routing import quote, route_for


async def plan_generation(deps: ImageDeps, request: GenerateRequest, call: CallContext) -> ImagePlan:
    options = request.options
    chosen = await choose(deps.upstreams, request.model, ModelKind.IMAGE, ImageEndpoint.GENERATIONS, call.audience)
    catalog = deps.upstreams.catalog
    spec = catalog.validate(chosen.name, ImageEndpoint.GENERATIONS, request.prompt, options, chosen.upstream.kind)
    route = route_for(deps, chosen, request.api)
    await check_listed(chosen, options, route.api)
    save = plan_copies(deps, request.save, options, request.client_roots)
    batches = split_batches(options.n, route.backend.per_request(spec, options.n))
    requests = tuple(ImageRequest(chosen.wire, request.prompt, replace(options, n=n), spec) for n in batches)
    record = NewImage(
        prompt=request.prompt,
        model=chosen.wire,
        operation=Operation.GENERATE,
        parameters=options.parameters(),
        api=route.api.value,
    )
    streamed = partial_images(call, requests[0])
    return ImagePlan(
        operation=Operation.GENERATE,
        chosen=chosen,
        route=route,
        endpoint=ImageEndpoint.GENERATIONS,
        send=Send.GENERATE,
        requests=requests,
        quote=quote(route, "generate", ImageEndpoint.GENERATIONS, chosen, requests, record.parameters, streamed),
        record=record,
        save=save,
        notes=chosen.notes,
        partial_images=streamed,
    )
