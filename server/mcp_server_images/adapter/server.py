"""The MCP server class: MCPServer with one door for every tool call, and answers a person can act on.

Three of MCPServer's public methods are overridden. `list_tools` gives the tools' input schemas without
pydantic's titles and null wrappers (see `schemas.py`). `call_tool` is every tool call's one door: a stopping
server refuses new calls there (operations/drain.py); each call gets its span, metrics and log line there
(telemetry/); and it replaces an error text: arguments that fail
the input schema come back from the SDK as pydantic's multi-line dump with links to pydantic's docs. The SDK has
no hook for that text, so the override re-raises the same `ToolError` (the SDK still turns it into an `isError`
result and logs only the field names) with one line per argument. `get_prompt` replaces an error text too:
the SDK answers an unknown prompt or a missing argument with a bare ValueError, which reaches the client as an
internal error (-32603, or code 0 on older protocol versions) and logs a traceback. The override checks name and
argument names first and answers invalid params (-32602) with a message.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, GetPromptResult, InputRequiredResult, TextContent
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from ..services import Services, Serving
from ..telemetry import CallReport
from ..telemetry.logs import call_context
from .browse.prompts import checked_recipe
from .observed import report_of
from .serving.auth import access_of
from .tools.arguments import argument_problems
from .tools.schemas import lean_schema

STOPPING = (
    "This server is stopping and takes no new calls; nothing was sent or paid. Call again: another instance (or "
    "this one once it is back) answers. With the same idempotency_key a repeated call is never paid twice."
)


class ImagesServer(MCPServer[Services]):
    def __init__(self, *args: Any, serving: Serving, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.serving = serving
        """The server's clock, its way out (drain) and its recorder (telemetry), which the transports use too."""

    async def list_tools(self) -> list[MCPTool]:
        tools = await super().list_tools()
        return [tool.model_copy(update={"input_schema": lean_schema(tool.input_schema)}) for tool in tools]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Services, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        drain, telemetry = self.serving.drain, self.serving.telemetry
        if drain.draining:
            return CallToolResult(content=[TextContent(type="text", text=STOPPING)], is_error=True)
        access = access_of(context.request_context.request) if context is not None else None
        user = access.subject if access is not None else None
        request_id = str(context.request_id) if context is not None else None
        started = time.monotonic()
        with call_context(request_id=request_id, user=user, tool=name), telemetry.call_span(name) as span:
            try:
                result = await self._call_tool(name, arguments, context)
            except Exception as exc:
                failed = CallReport(name, "error", time.monotonic() - started, user=user, error=str(exc))
                telemetry.call_finished(failed, span)
                raise
            except anyio.get_cancelled_exc_class():
                telemetry.call_finished(CallReport(name, "cancelled", time.monotonic() - started, user=user), span)
                raise
            report = report_of(name, arguments, result, time.monotonic() - started)
            report.user = user
            telemetry.call_finished(report, span)
            return result

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Services, Any] | None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            schema = next((tool.input_schema for tool in await self.list_tools() if tool.name == name), {})
            raise ToolError(argument_problems(name, cause, schema)) from cause

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Services, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        checked_recipe(name, arguments)
        return await super().get_prompt(name, arguments, context)
