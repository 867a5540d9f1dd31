"""Use cases, free of MCP: take plain typed requests, talk to the upstream, store images, return plain results.

Every image the upstream delivers is stored before anything else happens with it, so an image that was paid for
is on disk even when a later step (or a sibling request of a fan-out) fails.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import anyio

from . import catalog
from .catalog import ImageEndpoint, ImageOptions
from .errors import ImageServerError
from .imaging import NotAnImageError, probe
from .settings import ProviderKind
from .store import ImageRecord, ImageStore, NewImage
from .upstream import ImagesAnswer, ImagesAPI, UpstreamError, generation_body

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    model: str | None = None
    options: ImageOptions = field(default_factory=ImageOptions)


@dataclass(frozen=True)
class ImagesOutcome:
    """What an image-producing operation made: stored records, the model, summed usage, and notes for the user."""

    images: list[ImageRecord]
    model: str
    usage: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)


class ImageService:
    """The operations the tools expose, wired to one upstream client and one store."""

    def __init__(self, *, images: ImagesAPI, store: ImageStore, provider: ProviderKind, default_model: str) -> None:
        self.images = images
        self.store = store
        self.provider = provider
        self.default_model = default_model

    async def generate(self, request: GenerateRequest) -> ImagesOutcome:
        model = request.model or self.default_model
        options = request.options
        spec = catalog.validate(model, ImageEndpoint.GENERATIONS, request.prompt, options)
        wire_model = catalog.wire_name(model, self.provider)
        per_request = spec.n_per_request if spec else options.n
        batches = _split(options.n, per_request)
        ask_for_b64 = spec.accepts_response_format if spec else False
        calls = [
            partial(
                self.images.generate,
                generation_body(model=wire_model, prompt=request.prompt, n=n, options=options, ask_for_b64=ask_for_b64),
            )
            for n in batches
        ]
        answers, failures = await _gather(calls)
        parameters = {k: v for k, v in asdict(options).items() if v is not None}
        records = await self._store_answers(
            answers, NewImage(prompt=request.prompt, model=wire_model, operation="generate", parameters=parameters)
        )
        notes = []
        if len(batches) > 1:
            notes.append(f"{wire_model} makes one image per request, so {options.n} requests were sent concurrently.")
        if failures:
            if not records:
                raise failures[0]
            notes.append(f"{len(failures)} of {len(batches)} requests failed: {failures[0]}")
        return ImagesOutcome(records, wire_model, _sum_usage(a.usage for a in answers), notes)

    async def _store_answers(self, answers: list[ImagesAnswer], meta: NewImage) -> list[ImageRecord]:
        records: list[ImageRecord] = []
        for answer in answers:
            for image in answer.images:
                try:
                    info = probe(image.data)
                except NotAnImageError as exc:
                    raise UpstreamError(
                        f"The image API answered with data that is not an image: {exc}", request_id=answer.request_id
                    ) from exc
                item_meta = NewImage(
                    prompt=meta.prompt,
                    model=meta.model,
                    operation=meta.operation,
                    parameters=meta.parameters,
                    revised_prompt=image.revised_prompt,
                    usage=answer.usage,
                    request_id=answer.request_id,
                    source_images=meta.source_images,
                )
                records.append(await anyio.to_thread.run_sync(self.store.save, image.data, info, item_meta))
        return records


def _split(total: int, per_request: int) -> list[int]:
    """Batch sizes: 5 images at 1 per request is [1, 1, 1, 1, 1]; at 10 per request it is [5]."""
    full, rest = divmod(total, per_request)
    return [per_request] * full + ([rest] if rest else [])


async def _gather(
    calls: Sequence[Callable[[], Awaitable[ImagesAnswer]]],
) -> tuple[list[ImagesAnswer], list[ImageServerError]]:
    """Run the calls concurrently; keep every success (in order) and every user-facing failure."""
    results: list[ImagesAnswer | ImageServerError | None] = [None] * len(calls)

    async def run(index: int) -> None:
        try:
            results[index] = await calls[index]()
        except ImageServerError as exc:
            results[index] = exc

    async with anyio.create_task_group() as group:
        for index in range(len(calls)):
            group.start_soon(run, index)
    answers = [r for r in results if isinstance(r, ImagesAnswer)]
    failures = [r for r in results if isinstance(r, ImageServerError)]
    return answers, failures


def _sum_usage(usages: Any) -> dict[str, Any] | None:
    """Add up token counts of several answers (fan-out), keeping nested detail objects."""
    total: dict[str, Any] | None = None
    for usage in usages:
        if usage is None:
            continue
        total = usage if total is None else _add(total, usage)
    return total


def _add(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, bool) or key not in merged:
            merged.setdefault(key, value)
        elif isinstance(value, int | float) and isinstance(merged[key], int | float):
            merged[key] = merged[key] + value
        elif isinstance(value, Mapping) and isinstance(merged[key], Mapping):
            merged[key] = _add(merged[key], value)
    return merged
