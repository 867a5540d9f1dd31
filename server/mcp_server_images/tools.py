"""MCP tool handlers: parse arguments, call an operation, render the result. Nothing else lives here.

Parameter descriptions are written for the assistant that calls the tool: what each parameter does and which
models take it, so that a first call is usually a valid one.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from .catalog import ImageOptions
from .errors import ImageServerError
from .operations import GenerateRequest, ImageService, ImagesOutcome
from .render import ImagesResult, error_result, images_result
from .settings import Settings

Prompt = Annotated[
    str,
    Field(
        description="What the image should show. Be specific about subject, style, composition and any text. "
        "Up to 32000 characters for GPT image models, 4000 for dall-e-3, 1000 for dall-e-2."
    ),
]
Model = Annotated[
    str | None,
    Field(
        description="Image model. Catalogued: gpt-image-2, gpt-image-1.5, gpt-image-1, gpt-image-1-mini, dall-e-3, "
        "dall-e-2; either spelling works (gpt-image-1 or openai/gpt-image-1). Other names are passed to the "
        "provider as given. Default: the server's configured model."
    ),
]
Count = Annotated[
    int,
    Field(
        ge=1,
        le=10,
        description="How many images to make (1-10). dall-e-3 makes one per request; the server sends several.",
    ),
]
Size = Annotated[
    str | None,
    Field(
        description="WIDTHxHEIGHT. GPT image models: 1024x1024, 1536x1024 (landscape), 1024x1536 (portrait) or "
        "auto; gpt-image-2 also any size with sides multiple of 16, aspect 1:3 to 3:1, up to 3840x2160. "
        "dall-e-3: 1024x1024, 1792x1024, 1024x1792. dall-e-2: 256x256, 512x512, 1024x1024."
    ),
]
Quality = Annotated[
    str | None,
    Field(description="GPT image models: auto, low, medium or high (higher is slower). dall-e-3: standard or hd."),
]
Style = Annotated[str | None, Field(description="dall-e-3 only: vivid (dramatic) or natural.")]
Background = Annotated[
    str | None,
    Field(
        description="GPT image models only: transparent, opaque or auto. transparent needs output_format png or webp."
    ),
]
OutputFormat = Annotated[str | None, Field(description="GPT image models only: png (default), jpeg or webp.")]
OutputCompression = Annotated[
    int | None,
    Field(ge=0, le=100, description="GPT image models with jpeg or webp output: compression level 0-100."),
]
Moderation = Annotated[
    str | None, Field(description="GPT image models only: auto (default) or low (less restrictive filtering).")
]


def service_of(ctx: Context[ImageService, Any]) -> ImageService:
    """The ImageService the server's lifespan created for this connection."""
    service: ImageService = ctx.request_context.lifespan_context
    return service


async def render_outcome(
    settings: Settings, service: ImageService, outcome: ImagesOutcome, verb: str
) -> CallToolResult:
    """Read the stored files and render them within the inline budget, off the event loop."""

    def render() -> CallToolResult:
        files = [service.store.read(record) for record in outcome.images]
        return images_result(outcome, verb=verb, mode=settings.inline, budget=settings.inline_budget, files=files)

    return await anyio.to_thread.run_sync(render)


def register_tools(server: MCPServer[ImageService], settings: Settings) -> None:
    """Add the image tools to the server."""

    @server.tool(
        title="Generate image",
        annotations=ToolAnnotations(
            title="Generate image", read_only_hint=False, destructive_hint=False, open_world_hint=True
        ),
    )
    async def generate_image(
        prompt: Prompt,
        ctx: Context[ImageService, Any],
        model: Model = None,
        n: Count = 1,
        size: Size = None,
        quality: Quality = None,
        style: Style = None,
        background: Background = None,
        output_format: OutputFormat = None,
        output_compression: OutputCompression = None,
        moderation: Moderation = None,
    ) -> Annotated[CallToolResult, ImagesResult]:
        """Create images from a text prompt.

        Every image is saved to disk and gets a short id; the result shows each image (a downscaled preview when
        the original is too large to inline), links to the full file, and lists ids, paths and sizes. Use an id
        in later calls instead of copying image data. Parameters left out use the model's defaults.
        """
        service = service_of(ctx)
        options = ImageOptions(
            n=n,
            size=size,
            quality=quality,
            style=style,
            background=background,
            output_format=output_format,
            output_compression=output_compression,
            moderation=moderation,
        )
        try:
            outcome = await service.generate(GenerateRequest(prompt=prompt, model=model, options=options))
        except ImageServerError as exc:
            return error_result(str(exc))
        return await render_outcome(settings, service, outcome, "Generated")
