"""generate_image's use case: a prompt in, a plan out (pipeline.run makes it); models that make one image per
request fan out."""

from __future__ import annotations

from dataclasses import replace

from ..backends import ImageRequest
from ..catalog.spec import ImageEndpoint, ModelKind
from ..store import NewImage, Operation
from .deps import ImageDeps
from .models import choose
from .pipeline import ImagePlan, Send, partial_images, plan_copies, split_batches
from .requests import Call, GenerateRequest
from .routing import quote, route


async def plan_generation(deps: ImageDeps, request: GenerateRequest, call: Call) -> ImagePlan:
    options = request.options
    chosen = await choose(deps.models, request.model, ModelKind.IMAGE, ImageEndpoint.GENERATIONS)
    spec = deps.models.catalog.validate(chosen.name, ImageEndpoint.GENERATIONS, request.prompt, options)
    road = route(deps, chosen, request.api)
    save = plan_copies(deps, request.save, options, request.client_roots)
    batches = split_batches(options.n, road.backend.per_request(spec, options.n))
    requests = tuple(ImageRequest(chosen.wire, request.prompt, replace(options, n=n), spec) for n in batches)
    record = NewImage(
        prompt=request.prompt,
        model=chosen.wire,
        operation=Operation.GENERATE,
        parameters=options.parameters(),
        api=road.api.value,
    )
    streamed = partial_images(call, requests[0])
    return ImagePlan(
        operation=Operation.GENERATE,
        chosen=chosen,
        route=road,
        endpoint=ImageEndpoint.GENERATIONS,
        send=Send.GENERATE,
        requests=requests,
        quote=quote(road, "generate", ImageEndpoint.GENERATIONS, chosen.name, requests, record.parameters, streamed),
        record=record,
        save=save,
        notes=chosen.notes,
        partial_images=streamed,
    )
