"""The MCP server class: MCPServer with answers a person can act on when a call does not fit.

Three of MCPServer's public methods are overridden. `list_tools` gives the tools' input schemas without
pydantic's titles and null wrappers (see `schemas.py`); the two others each replace an error text, not behaviour:
- `call_tool`: arguments that fail the input schema come back from the SDK as pydantic's multi-line dump with
  links to pydantic's docs. The SDK has no hook for that text, so the override re-raises the same `ToolError`
  (the SDK still turns it into an `isError` result and logs only the field names) with one line per argument.
- `get_prompt`: the SDK answers an unknown prompt or a missing argument with a bare ValueError, which reaches
  the client as an internal error (-32603, or code 0 on older protocol versions) and logs a traceback. The
  override checks name and argument names first and answers invalid params (-32602) with a message.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import CallToolResult, GetPromptResult, InputRequiredResult
from mcp.types import Tool as MCPTool
from pydantic import ValidationError

from ..services import Services
from .browse.prompts import checked_recipe
from .tools.arguments import argument_problems
from .tools.schemas import lean_schema


class ImagesServer(MCPServer[Services]):
    async def list_tools(self) -> list[MCPTool]:
        tools = await super().list_tools()
        return [tool.model_copy(update={"input_schema": lean_schema(tool.input_schema)}) for tool in tools]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Services, Any] | None = None
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
