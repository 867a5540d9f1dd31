"""analyze_image's use case: images by reference in, a model's answer out, optionally as schema-checked JSON.

Stored and local images go up as data URLs (downscaled to what vision models use); public http(s) URLs go by
URL unless the server is set to inline them. With a response schema the model is asked for structured output
(strict when the schema qualifies) and the reply is parsed and validated here, so a caller never receives JSON
that does not match what it asked for. A schema may only refer within itself (`#/$defs/...`): references to
other documents are refused rather than fetched, and validation runs in a worker thread, so a schema can
neither reach the network nor stall the server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from ..backends.chat import VisionRequest
from ..backends.errors import UpstreamError
from ..catalog.spec import ModelKind
from ..errors import ImageServerError, ParameterError
from ..imaging.convert import for_vision
from ..inputs import MAX_REFS
from ..inputs.refs import UrlRef, parse_ref
from ..inputs.resolver import ImageResolver
from ..store import Store
from .model_choice import choose, explain_refusal
from .upstreams import Upstreams

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

DEFAULT_PROMPT = "Describe this image."
DETAILS = ("auto", "low", "high")
REFERENCE_KEYS = ("$ref", "$dynamicRef")
DATA_KEYS = ("enum", "const", "default", "examples")
"""Keywords whose values are data, not schemas: a "$ref" inside them is not a reference."""


class StructuredReplyError(ImageServerError):
    """The model's reply was not JSON matching the requested schema; the message carries the raw reply."""


@dataclass(frozen=True)
class AnalyzeRequest:
    images: Sequence[str]
    prompt: str | None = None
    model: str | None = None
    detail: str = "auto"
    max_tokens: int | None = None
    response_schema: dict[str, Any] | None = None
    client_roots: Sequence[Path] = ()
    audience: str | None = None
    """Who is told a once-per-session note (see `Call.audience`)."""


@dataclass(frozen=True)
class Analysis:
    text: str
    data: Any
    """The parsed object when a response schema was given, else None."""
    model: str
    usage: dict[str, Any] | None
    notes: list[str]


class VisionService:
    """Vision through Chat Completions on the provider that serves the call's vision model."""

    def __init__(self, *, upstreams: Upstreams, resolver: ImageResolver, inline_urls: bool) -> None:
        self._upstreams = upstreams
        self._resolver = resolver
        self._inline_urls = inline_urls

    def seen_by(self, store: Store) -> VisionService:
        """The same, resolving stored images through `store` (a user's owner-scoped view)."""
        return VisionService(
            upstreams=self._upstreams, resolver=self._resolver.seen_by(store), inline_urls=self._inline_urls
        )

    async def analyze(self, request: AnalyzeRequest) -> Analysis:
        if not 1 <= len(request.images) <= MAX_REFS:
            raise ParameterError("images", f"analyze_image takes 1 to {MAX_REFS} images; got {len(request.images)}.")
        if request.detail not in DETAILS:
            raise ParameterError("detail", f"detail {request.detail!r} is not valid. Use one of: {', '.join(DETAILS)}.")
        validator = await anyio.to_thread.run_sync(_validator, request.response_schema)
        chosen = await choose(self._upstreams, request.model, ModelKind.VISION, audience=request.audience)
        notes = list(chosen.notes)
        urls = [await self._image_url(ref, request.client_roots, notes) for ref in request.images]
        schema = request.response_schema
        request_body = VisionRequest(
            model=chosen.wire,
            prompt=request.prompt or DEFAULT_PROMPT,
            image_urls=urls,
            detail=request.detail,
            max_tokens=request.max_tokens,
            schema=schema,
            strict=schema is not None and strict_compatible(schema),
        )
        try:
            answer = await chosen.upstream.chat.describe(request_body)
        except UpstreamError as exc:
            raise await explain_refusal(chosen, exc) from exc
        data = None if validator is None else await anyio.to_thread.run_sync(_parse_reply, answer.text, validator)
        return Analysis(answer.text, data, answer.model, answer.usage, notes)

    async def _image_url(self, ref: str, client_roots: Sequence[Path], notes: list[str]) -> str:
        """A URL passed through as is, or the resolved image as a data URL (downscaled if larger than needed)."""
        if not self._inline_urls and isinstance(parse_ref(ref, windows=False), UrlRef):
            return ref.strip()
        image = await self._resolver.resolve(ref, client_roots)
        data, mime, downscaled = await anyio.to_thread.run_sync(for_vision, image.data, image.info)
        if downscaled:
            notes.append(
                f"{image.ref} ({image.info.width}x{image.info.height}) was downscaled to 2048 px for the model."
            )
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _validator(schema: dict[str, Any] | None) -> Draft202012Validator | None:
    """A validator for the schema that can never load another document; None without a schema."""
    if schema is None:
        return None
    if schema.get("type") != "object":
        raise ParameterError("response_schema", 'response_schema must be a JSON Schema whose "type" is "object".')
    outside = next(_outside_references(schema), None)
    if outside is not None:
        raise ParameterError(
            "response_schema",
            f"response_schema refers to another document with $ref {outside!r}; references are never fetched. "
            'Put the referenced schema under "$defs" and refer to it as "#/$defs/<name>".',
        )
    from jsonschema import Draft202012Validator, SchemaError  # with referencing: only for a call with a schema
    from referencing import Registry

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ParameterError("response_schema", f"response_schema is not a valid JSON Schema: {exc.message}") from exc
    # An empty registry retrieves nothing; without one, jsonschema would fetch remote references with urllib.
    return Draft202012Validator(schema, registry=Registry())


def _outside_references(schema: Any) -> Iterator[str]:
    """Every `$ref` / `$dynamicRef` that points outside the schema (anything but a `#` fragment)."""
    if isinstance(schema, list):
        for item in schema:
            yield from _outside_references(item)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key in REFERENCE_KEYS and isinstance(value, str) and not value.startswith("#"):
                yield value
            elif key not in DATA_KEYS:
                yield from _outside_references(value)


def _parse_reply(text: str, validator: Draft202012Validator) -> Any:
    from jsonschema import ValidationError
    from referencing.exceptions import Unresolvable

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StructuredReplyError(f"The model's reply is not valid JSON ({exc}). Raw reply: {text}") from exc
    try:
        validator.validate(data)
    except Unresolvable as exc:
        raise ParameterError(
            "response_schema", f"response_schema has a $ref that leads nowhere inside it ({exc}); fix the reference."
        ) from exc
    except ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "the top level"
        raise StructuredReplyError(
            f"The model's reply does not match response_schema at {where}: {exc.message}. Raw reply: {text}"
        ) from exc
    return data


SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
"""Keywords whose value maps names to schemas: the names are the user's, never keywords."""


def strict_compatible(schema: Any) -> bool:
    """Whether OpenAI's strict structured outputs accept the schema: every object closed and fully required."""
    if isinstance(schema, list):
        return all(strict_compatible(item) for item in schema)
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False or set(schema.get("required", [])) != set(properties):
            return False
    for key, value in schema.items():
        if key in DATA_KEYS:
            continue
        children = value.values() if key in SCHEMA_MAPS and isinstance(value, dict) else [value]
        if not all(strict_compatible(child) for child in children):
            return False
    return True
