"""Completions (`completion/complete`): what a client offers while a person fills in a prompt argument or an
image URI: stored image ids, model names, styles and counts, matched by prefix.
"""

from __future__ import annotations

import functools
import string
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CompleteRequestParams, CompleteResult, Completion, PromptReference, ResourceTemplateReference

from ...catalog.spec import ModelKind
from ...services import Services
from ..context import services_for
from .prompts import BY_NAME, MAX_COUNT, STYLES, Values
from .resources import IMAGE_TEMPLATE

MAX_VALUES = 100
"""The protocol's limit on values in one completion."""


def catalogued_models(services: Services) -> list[str]:
    """Names of the image models the server's catalog describes (the shipped table and the user's models file)."""
    return [spec.name for spec in services.models.catalog.of_kind(ModelKind.IMAGE)]


def _matching(candidates: list[str], typed: str) -> Completion:
    wanted = typed.strip().lower()
    hits = [candidate for candidate in candidates if candidate.lower().startswith(wanted)]
    return Completion(values=hits[:MAX_VALUES], total=len(hits), has_more=len(hits) > MAX_VALUES)


async def _image_ids(services: Services, typed: str) -> Completion:
    """The caller's own image ids starting with what was typed (everyone's for those who see all; never another
    user's, shared or not), asked of the store's index rather than read from a listing of it: the newest first
    while nothing is typed, then in id order."""
    wanted = typed.strip().lower()
    store = services.store
    if not wanted:
        newest = await anyio.to_thread.run_sync(functools.partial(store.recent, limit=MAX_VALUES))
        total = await anyio.to_thread.run_sync(store.count)
        return Completion(values=[record.id for record in newest], total=total, has_more=total > len(newest))
    if any(char not in string.hexdigits for char in wanted):
        return Completion(values=[], total=0, has_more=False)  # ids are hex: nothing else starts one
    ids = await anyio.to_thread.run_sync(store.ids_starting, wanted, MAX_VALUES + 1)
    more = len(ids) > MAX_VALUES
    return Completion(values=ids[:MAX_VALUES], total=None if more else len(ids), has_more=more)


def _kind(ref: PromptReference | ResourceTemplateReference, argument: str) -> Values | None:
    """What values an argument takes: an image id for the image template's `id`, else as the prompt declares it;
    None for free text or a reference this server lacks."""
    if isinstance(ref, ResourceTemplateReference):
        return Values.IMAGE if ref.uri == IMAGE_TEMPLATE.uri_template and argument == "id" else None
    recipe = BY_NAME.get(ref.name)
    return next((arg.values for arg in recipe.arguments if arg.name == argument), None) if recipe else None


def _candidates(services: Services, kind: Values | None) -> list[str]:
    """Every value worth offering for an argument of this kind that is not an image."""
    if kind is Values.MODEL:
        return catalogued_models(services)
    if kind is Values.STYLE:
        return list(STYLES)
    if kind is Values.COUNT:
        return [str(count) for count in range(1, MAX_COUNT + 1)]
    return []


def register_completions(server: MCPServer[Services]) -> None:
    """Install the handler; MCPServer's `completion()` decorator gives its function no access to the services."""

    async def complete(ctx: ServerRequestContext[Services, Any], params: CompleteRequestParams) -> CompleteResult:
        services = services_for(ctx.lifespan_context, ctx.request)
        kind, typed = _kind(params.ref, params.argument.name), params.argument.value
        if kind is Values.IMAGE:
            return CompleteResult(completion=await _image_ids(services, typed))
        return CompleteResult(completion=_matching(_candidates(services, kind), typed))

    server._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, complete)
