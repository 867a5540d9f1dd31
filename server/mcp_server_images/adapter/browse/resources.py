"""Stored images as MCP resources: `resources/list` newest first with pagination, `resources/read` as blobs, and
the template `images://{id}` that says how to name any stored image (its ids complete, see completions.py).

MCPServer's built-in resource handlers serve a fixed list registered up front and one mime type per template;
the store grows while the server runs and mixes PNG, JPEG and WebP, so these two handlers replace them.
"""

from __future__ import annotations

import base64
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    BlobResourceContents,
    ListResourcesResult,
    ListResourceTemplatesResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextResourceContents,
)

from ...errors import ImageServerError
from ...services import Services
from ...store import URI_SCHEME, ImageRecord
from ..app.ui import read_app
from ..context import services_for

PAGE_SIZE = 50
USAGE_URI = f"{URI_SCHEME}://usage"
"""The usage report (as usage_report returns it) as JSON; read by URI, not listed among the images."""
IMAGE_TEMPLATE = ResourceTemplate(
    uri_template=f"{URI_SCHEME}://{{id}}",
    name="image",
    title="Stored image",
    description="Any stored image by its id (8 hex characters, or a unique prefix of at least 4), "
    "e.g. images://3f9a2c7b. The full-resolution file as PNG, JPEG or WebP.",
)


def _resource(record: ImageRecord) -> Resource:
    described = record.prompt or record.operation or "image"
    return Resource(
        uri=record.uri,
        name=record.name,
        title=f"{record.id}: {described[:80]}",
        description=f"{record.width}x{record.height} {record.mime_type}, {record.model}, created {record.created}",
        mime_type=record.mime_type,
        size=record.bytes,
    )


def _cursor_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise MCPError(code=INVALID_PARAMS, message=f"invalid cursor {cursor!r}")
    return int(cursor)


def register_resources(server: MCPServer[Services]) -> None:
    """Install the list and read handlers on the server's low-level dispatcher."""

    async def list_images(
        ctx: ServerRequestContext[Services, Any], params: PaginatedRequestParams
    ) -> ListResourcesResult:
        offset = _cursor_offset(params.cursor)
        store = services_for(ctx.lifespan_context, ctx.request).store
        page = await anyio.to_thread.run_sync(lambda: store.recent(offset=offset, limit=PAGE_SIZE + 1))
        more = len(page) > PAGE_SIZE
        return ListResourcesResult(
            resources=[_resource(record) for record in page[:PAGE_SIZE]],
            next_cursor=str(offset + PAGE_SIZE) if more else None,
        )

    async def read_image(
        ctx: ServerRequestContext[Services, Any], params: ReadResourceRequestParams
    ) -> ReadResourceResult:
        prefix = f"{URI_SCHEME}://"
        services = services_for(ctx.lifespan_context, ctx.request)
        if params.uri == USAGE_URI:
            from ...operations.usage import usage_of
            from ..tools.costs import usage_json

            summary = await usage_of(services.ledger, services.store.viewer)
            return ReadResourceResult(
                contents=[TextResourceContents(uri=USAGE_URI, text=usage_json(summary), mime_type="application/json")]
            )
        if params.uri.startswith("ui://"):
            return await read_app(server, params.uri)
        if not params.uri.startswith(prefix):
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"unknown resource {params.uri!r}; image URIs look like {prefix}<id>",
                data={"uri": params.uri},
            )
        store = services.store
        try:
            record = await anyio.to_thread.run_sync(store.get, params.uri.removeprefix(prefix))
            data = await anyio.to_thread.run_sync(store.read, record)
        except ImageServerError as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc), data={"uri": params.uri}) from exc
        blob = base64.b64encode(data).decode("ascii")
        return ReadResourceResult(
            contents=[BlobResourceContents(uri=params.uri, blob=blob, mime_type=record.mime_type)]
        )

    async def list_templates(
        ctx: ServerRequestContext[Services, Any], params: PaginatedRequestParams
    ) -> ListResourceTemplatesResult:
        return ListResourceTemplatesResult(resource_templates=[IMAGE_TEMPLATE])

    lowlevel = server._lowlevel_server  # MCPServer has no public hook for dynamic resources
    lowlevel.add_request_handler("resources/list", PaginatedRequestParams, list_images)
    lowlevel.add_request_handler("resources/read", ReadResourceRequestParams, read_image)
    # MCPServer's own template list would need a read function per template, and reads are handled above.
    lowlevel.add_request_handler("resources/templates/list", PaginatedRequestParams, list_templates)
