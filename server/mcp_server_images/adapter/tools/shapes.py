"""Results shaped for the host that asked: what each known MCP host can use of an image result.

Hosts differ in what they do with a tool result (README, "Results per host"): ChatGPT reads structuredContent and
needs an https link, Claude Code counts images against its token cap, the GitHub Copilot CLI and app drop image
blocks before the model sees them, Claude Desktop rejects results over 1 MiB, and Claude rejects images over
2000 px a side in requests that carry many images. A host is known by the name it gives (`clientInfo.name`) and,
for ChatGPT, by the `openai/` capabilities it declares; `--result-shape` forces one shape for every client. Every
other client gets the standard result, which is what every client got before shapes existed.

A shape only says what to leave out or bound; render.py builds the result from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mcp.types import ClientCapabilities

from ...imaging.previews import PREVIEW_MAX_SIDE
from ...settings import ResultShapeSetting
from ...store import ImageRecord
from ..context import Ctx

ShapeName = Literal["standard", "chatgpt", "claude-code", "claude-desktop", "text-links"]

CLAUDE_DESKTOP_LIMIT = 1_000_000
"""Claude Desktop fails a result over 1,048,576 bytes of JSON; this leaves room for the envelope."""
CLAUDE_CODE_TOKENS = 9_000
"""Claude Code caps MCP output at 25,000 tokens (MAX_MCP_OUTPUT_TOKENS) images included, and warns past 10,000."""
MANY_IMAGES_SIDE = 2_000
"""Claude rejects images over 2000 px a side in requests that carry many images."""
PIXELS_PER_TOKEN = 750
"""Anthropic's estimate of an image's tokens: width x height / 750."""
TEXT_BYTES_PER_TOKEN = 4


@dataclass(frozen=True)
class Shape:
    """What one kind of host gets of an image result."""

    name: ShapeName
    host: str
    """Who the shape is for, as results name it."""
    image_blocks: bool = True
    """False where the host never shows image blocks to its model (it reads structuredContent, or drops them)."""
    result_limit: int | None = None
    """Most bytes of a serialized result the host accepts, below the configured budget."""
    token_limit: int | None = None
    """Most tokens of a result (text and images) the host takes comfortably."""
    many_images_side: int | None = None
    """Longest side of every shown image when a result shows several."""
    open_lines: bool = False
    """Say per image where the user can open it (a file:// URL, a link): the only way such hosts show it."""
    https_links: bool = False
    """The host shows images only from https links in structuredContent."""

    def budget(self, configured: int) -> int:
        """The result budget: the configured one, within the host's own limit."""
        return configured if self.result_limit is None else min(configured, self.result_limit)

    def preview_sides(self, sizes: Sequence[tuple[int, int]], text_bytes: int) -> list[int | None]:
        """The longest side each shown image may have (None: no bound beyond the usual preview's).

        Within a token limit, the images share what the text leaves, at width x height / 750 tokens each.
        """
        sides: list[int | None] = [None] * len(sizes)
        if self.token_limit is not None and sizes:
            share = max(self.token_limit - text_bytes // TEXT_BYTES_PER_TOKEN, 0) * PIXELS_PER_TOKEN / len(sizes)
            sides = [_side_within(width, height, share) for width, height in sizes]
        if self.many_images_side is not None and len(sizes) > 1:
            sides = [min(side or self.many_images_side, self.many_images_side) for side in sides]
        return sides

    def not_shown(self) -> str:
        """Why an image is not shown inline in this shape."""
        if self.https_links:
            return f"Not shown inline: {self.host} shows images from their https link, not from image blocks."
        return f"Not shown inline: {self.host} does not pass images in results to the model; open the file."

    def open_line(self, record: ImageRecord, url: str | None) -> str | None:
        """Where the user can open an image, for hosts that show none: its file:// URL and its link."""
        if self.https_links:
            return f"   Link: {url}" if url and url.startswith("https://") else None
        if not self.open_lines:
            return None
        places = [Path(record.location).as_uri()] if Path(record.location).is_absolute() else []
        places += [url] if url else []
        return "   Open: " + " or ".join(places) if places else None

    def link_note(self, urls: Sequence[str | None]) -> str | None:
        """For hosts that need https links: what to set when an image has none."""
        if not self.https_links or all(url and url.startswith("https://") for url in urls):
            return None
        return (
            f"{self.host} shows images only from https links, and this server has none for these images: set "
            "MCP_IMAGES_PUBLIC_BASE_URL to this server's https address (or keep images in a bucket, "
            "MCP_IMAGES_STORE=s3)."
        )


def _side_within(width: int, height: int, pixels: float) -> int:
    """The longest side of a copy of a width x height image with at most `pixels` pixels (and no larger)."""
    scale = min(1.0, math.sqrt(pixels / max(width * height, 1)))
    return max(1, min(PREVIEW_MAX_SIDE, math.floor(max(width, height) * scale)))


SHAPES: dict[ShapeName, Shape] = {
    "standard": Shape("standard", "this client"),
    "chatgpt": Shape("chatgpt", "ChatGPT", image_blocks=False, https_links=True),
    "claude-code": Shape(
        "claude-code", "Claude Code", token_limit=CLAUDE_CODE_TOKENS, many_images_side=MANY_IMAGES_SIDE
    ),
    "claude-desktop": Shape(
        "claude-desktop", "Claude", result_limit=CLAUDE_DESKTOP_LIMIT, many_images_side=MANY_IMAGES_SIDE
    ),
    "text-links": Shape("text-links", "this client", image_blocks=False, open_lines=True),
}
STANDARD = SHAPES["standard"]

KNOWN_HOSTS: dict[str, ShapeName] = {
    "claude-ai": "claude-desktop",
    "anthropic/claudeai": "claude-desktop",
    "claude-code": "claude-code",
    "claude code": "claude-code",
    "openai-mcp": "chatgpt",
    "chatgpt": "chatgpt",
    "github-copilot-developer": "text-links",
    "copilot-cli": "text-links",
    "github copilot cli": "text-links",
}
"""`clientInfo.name` (lower case) of hosts whose results differ from the standard one, as they send it."""


def shape_for(setting: ResultShapeSetting, name: str | None, capabilities: ClientCapabilities | None) -> Shape:
    """The shape for a client that gave `name` and declared `capabilities`, unless the setting forces one."""
    if setting != "auto":
        return SHAPES[setting]
    known = KNOWN_HOSTS.get((name or "").strip().lower())
    if (
        known is None
        and capabilities is not None
        and any(key.startswith("openai/") for key in capabilities.experimental or {})
    ):
        known = "chatgpt"
    return SHAPES[known] if known is not None else STANDARD


def host_shape(ctx: Ctx, setting: ResultShapeSetting) -> Shape:
    """The shape for the client of this request."""
    params = ctx.session.client_params
    name = params.client_info.name if params is not None else None
    return shape_for(setting, name, ctx.client_capabilities)
