"""The image app (MCP Apps, `io.modelcontextprotocol/ui`): one HTML document the host shows beside a tool's result.

The app is `app.html` beside this module, shipped in the package (no build step, no Node at install). It speaks the
ext-apps postMessage protocol to the host and reaches the server only through it: tools/call, and resources/read for the
full-resolution images. Tool results are the same for every client; what Apps adds is the tools' `_meta.ui`
binding, the `ui://` resource, and `image_details`, a tool only the app calls.

The document carries its own Content-Security-Policy with the hashes of its one script and one style block:
nothing else runs, and it can load nothing but the images it builds from data the host hands it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import Any

from mcp.server.apps import APP_MIME_TYPE, Apps, ResourceCsp, client_supports_apps
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
    ReadResourceResult,
    TextResourceContents,
)

from ...services import Services
from ..tools.handlers import AppBinding

APP_URI = "ui://mcp-server-images/app.html"
CSP_PLACEHOLDER = "<!--CSP-->"


def app_html() -> str:
    """The shipped document with its CSP meta tag filled in from the script and style it contains."""
    html = (resources.files(__package__) / "app.html").read_text(encoding="utf-8")
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_hashes(html, 'script')}",
            f"style-src {_hashes(html, 'style')}",
            "img-src data: blob:",
            "connect-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return html.replace(CSP_PLACEHOLDER, f'<meta http-equiv="Content-Security-Policy" content="{policy}">', 1)


def _hashes(html: str, tag: str) -> str:
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.DOTALL)
    digests = (base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() for block in blocks)
    return " ".join(f"'sha256-{digest}'" for digest in digests) or "'none'"


def apps_extension() -> Apps:
    """The Apps extension: advertises `io.modelcontextprotocol/ui` and holds the app's `ui://` resource."""
    apps = Apps()
    apps.add_html_resource(
        APP_URI,
        app_html(),
        name="images-app",
        title="Images",
        description="See results at full size, browse the gallery, paint masks and edit.",
        csp=ResourceCsp(),
        prefers_border=True,
    )
    return apps


def tool_meta(binding: AppBinding | None) -> dict[str, Any] | None:
    """A tool's `_meta` for its app binding: the resource it shows, and for app-only tools who may call it."""
    if binding is None:
        return None
    ui: dict[str, Any] = {"resourceUri": APP_URI}
    if binding == "app_only":
        ui["visibility"] = ["app"]
    return {"ui": ui}


def is_app_only(meta: dict[str, Any] | None) -> bool:
    visibility: object = (meta or {}).get("ui", {}).get("visibility")
    return visibility == ["app"]


def register_app_listing(server: MCPServer[Services]) -> None:
    """tools/list without the app-only tools for clients that cannot show the app (they could never use them).

    The SDK lists every tool whatever its `_meta.ui.visibility`; hiding app-only tools from the model is the
    host's job once the client has Apps. A client without Apps sees exactly the tools it saw before the app.
    """

    async def list_tools(ctx: ServerRequestContext[Services, Any], params: PaginatedRequestParams) -> ListToolsResult:
        tools = await server.list_tools()
        if not client_supports_apps(ctx):
            tools = [tool for tool in tools if not is_app_only(tool.meta)]
        return ListToolsResult(tools=tools)

    server._lowlevel_server.add_request_handler("tools/list", PaginatedRequestParams, list_tools)


async def read_app(server: MCPServer[Services], uri: str) -> ReadResourceResult:
    """resources/read of a `ui://` resource, which the image resources' own handler leaves to MCPServer."""
    try:
        found = await server.read_resource(uri)
    except ResourceError as exc:
        raise MCPError(code=INVALID_PARAMS, message=f"unknown resource {uri!r}; the app is {APP_URI}") from exc
    if isinstance(found, InputRequiredResult):  # only resource templates ask for input; the app is a plain resource
        raise TypeError(f"{uri} asked for input")
    return ReadResourceResult(
        contents=[
            TextResourceContents(uri=uri, text=str(item.content), mime_type=APP_MIME_TYPE, _meta=item.meta)
            for item in found
        ]
    )
