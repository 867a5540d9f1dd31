"""Turning operation results into MCP tool results: the one place that knows content blocks and budgets.

An image result carries a short text summary, per image an `image` block (the image, or a preview sized so the
whole serialized result stays inside the inline budget) and a `resource_link` to the full image, and
`structuredContent` for clients that read only that (ChatGPT). The budget is measured on the encoded JSON,
because base64 makes images a third larger than their bytes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Literal

from mcp.types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel

from .imaging import PREVIEW_MAX_SIDE, fit_preview
from .operations import ImagesOutcome
from .store import ImageRecord

InlineMode = Literal["preview", "full", "none"]

ENVELOPE_SLACK = 2_048
"""Room for the JSON-RPC envelope and the `_meta` the SDK stamps on a result."""
IMAGE_BLOCK_OVERHEAD = 96
"""JSON around one image block's base64: type, mimeType, quotes and commas."""


class ImageEntry(BaseModel):
    id: str
    uri: str
    path: str
    mime_type: str
    width: int
    height: int
    bytes: int
    revised_prompt: str | None


class ImagesResult(BaseModel):
    """structuredContent of every image-producing tool; keys may be added, never renamed."""

    images: list[ImageEntry]
    model: str
    usage: dict[str, Any] | None


@dataclass(frozen=True)
class Inline:
    data: bytes
    mime_type: str
    width: int
    height: int
    is_preview: bool


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def images_result(
    outcome: ImagesOutcome, *, verb: str, mode: InlineMode, budget: int, files: list[bytes]
) -> CallToolResult:
    """Render stored images (their bytes in `files`, same order) within `budget` bytes of serialized JSON."""
    structured = ImagesResult(
        images=[_entry(record) for record in outcome.images], model=outcome.model, usage=outcome.usage
    ).model_dump()
    links: list[ContentBlock] = [_link(record) for record in outcome.images]
    inlines: list[Inline | None] = [None] * len(outcome.images)
    if mode == "none" or not outcome.images:
        return _result(outcome, verb, inlines, links, structured, mode)
    # Size the images from what is left after everything else, then check the real total and tighten if needed.
    reserve = 0
    for _ in range(4):
        skeleton = _result(outcome, verb, [None] * len(inlines), links, structured, mode, pending=True)
        free = budget - _serialized_size(skeleton) - ENVELOPE_SLACK - reserve
        per_image = (free // len(outcome.images) - IMAGE_BLOCK_OVERHEAD) * 3 // 4
        inlines = [_inline(record, data, mode, per_image) for record, data in zip(outcome.images, files, strict=True)]
        result = _result(outcome, verb, inlines, links, structured, mode)
        size = _serialized_size(result) + ENVELOPE_SLACK
        if size <= budget:
            return result
        reserve += size - budget + 1_024
    inlines = [None] * len(inlines)
    return _result(outcome, verb, inlines, links, structured, mode)


def _inline(record: ImageRecord, data: bytes, mode: InlineMode, max_bytes: int) -> Inline | None:
    if max_bytes < 2_048:
        return None
    fits = len(data) <= max_bytes
    if fits and (mode == "full" or max(record.width, record.height) <= PREVIEW_MAX_SIDE):
        return Inline(data, record.mime_type, record.width, record.height, is_preview=False)
    preview = fit_preview(data, max_bytes)
    return Inline(preview.data, preview.mime_type, preview.width, preview.height, is_preview=True)


def _result(
    outcome: ImagesOutcome,
    verb: str,
    inlines: list[Inline | None],
    links: list[ContentBlock],
    structured: dict[str, Any],
    mode: InlineMode,
    *,
    pending: bool = False,
) -> CallToolResult:
    content: list[ContentBlock] = [TextContent(type="text", text=_summary(outcome, verb, inlines, mode, pending))]
    for inline, link in zip(inlines, links, strict=True):
        if inline is not None:
            encoded = base64.b64encode(inline.data).decode("ascii")
            content.append(ImageContent(type="image", data=encoded, mime_type=inline.mime_type))
        content.append(link)
    return CallToolResult(content=content, structured_content=structured)


def _summary(outcome: ImagesOutcome, verb: str, inlines: list[Inline | None], mode: InlineMode, pending: bool) -> str:
    count = len(outcome.images)
    lines = [f"{verb} {count} image{'s' if count != 1 else ''} with {outcome.model}."]
    for number, (record, inline) in enumerate(zip(outcome.images, inlines, strict=True), start=1):
        kind = record.mime_type.removeprefix("image/").upper()
        lines.append(
            f"{number}. id {record.id}: {record.width}x{record.height} {kind}, {_human_bytes(record.bytes)}, "
            f"saved to {record.path} ({record.uri})."
        )
        lines.append("   " + _shown(inline, mode, pending, record))
        if record.revised_prompt:
            lines.append(f"   Revised prompt: {record.revised_prompt}")
    if outcome.usage:
        lines.append(f"Usage: {_usage_text(outcome.usage)}.")
    lines.extend(f"Note: {note}" for note in outcome.notes)
    lines.append("Refer to an image by its id (or path) in later calls; the files stay on disk.")
    return "\n".join(lines)


def _shown(inline: Inline | None, mode: InlineMode, pending: bool, record: ImageRecord) -> str:
    if pending:
        # Same length class as the final wording, so the skeleton measures close to the real result.
        return f"Shown below as a preview of {record.width}x{record.height} pixels; the full image is in the file."
    if inline is None:
        if mode == "none":
            return "Not shown inline (inline mode 'none'); open the file to see it."
        return "Too large to show inline within the result budget; open the file to see it."
    if inline.is_preview:
        kind = inline.mime_type.removeprefix("image/").upper()
        return (
            f"Shown below as a preview ({inline.width}x{inline.height} {kind}); "
            f"the full-resolution image is the file above."
        )
    return "Shown below at full resolution."


def _entry(record: ImageRecord) -> ImageEntry:
    return ImageEntry(
        id=record.id,
        uri=record.uri,
        path=str(record.path),
        mime_type=record.mime_type,
        width=record.width,
        height=record.height,
        bytes=record.bytes,
        revised_prompt=record.revised_prompt,
    )


def _link(record: ImageRecord) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=record.uri,
        name=record.path.name,
        mime_type=record.mime_type,
        size=record.bytes,
        description=f"Full-resolution image {record.id} ({record.width}x{record.height})",
    )


def _serialized_size(result: CallToolResult) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


def _usage_text(usage: dict[str, Any]) -> str:
    parts = [f"{usage[key]} {key.replace('_', ' ')}" for key in ("input_tokens", "output_tokens") if key in usage]
    return ", ".join(parts) or ", ".join(f"{k}={v}" for k, v in usage.items() if not isinstance(v, dict))


def _human_bytes(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} KB"
    return f"{size} bytes"
