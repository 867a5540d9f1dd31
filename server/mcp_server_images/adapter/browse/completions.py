"""Completions (`completion/complete`): what a client offers while a person fills in a prompt argument or an
image URI: stored image ids, model names, styles and counts, matched by prefix.
"""

from __future__ import annotations

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


async def _image_ids(services: Services) -> list[str]:
    """The caller's own image ids (everyone's for those who see all): never another user's, shared or not."""
    records = await anyio.to_thread.run_sync(services.store.recent)
    return [record.id for record in records]


async def _candidates(services: Services, ref: PromptReference | ResourceTemplateReference, argument: str) -> list[str]:
    """Every value worth offering for this argument; none for free text or a reference this server lacks."""
    if isinstance(ref, ResourceTemplateReference):
        is_image = ref.uri == IMAGE_TEMPLATE.uri_template and argument == "id"
        return await _image_ids(services) if is_image else []
    recipe = BY_NAME.get(ref.name)
    kind = next((arg.values for arg in recipe.arguments if arg.name == argument), None) if recipe else None
    if kind is Values.IMAGE:
        return await _image_ids(services)
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
        candidates = await _candidates(services, params.ref, params.argument.name)
        return CompleteResult(completion=_matching(candidates, params.argument.value))

    server._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, complete)
