"""Turning operation results into MCP tool results: the one place that knows content blocks and budgets.

An image result carries a short text summary, per image an `image` block (the image, or a preview sized so the
whole serialized result stays inside the inline budget) and a `resource_link` to the full image, and
`structuredContent` for clients that read only that (ChatGPT). The budget is measured on the encoded JSON,
because base64 makes images a third larger than their bytes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Literal

from mcp.types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent
from pydantic import BaseModel, ConfigDict, Field

from ..imaging.previews import PREVIEW_MAX_SIDE, fit_preview
from ..operations.analyze import Analysis
from ..operations.images import ImagesOutcome
from ..store import ImageRecord, ImageStore

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
    """structuredContent of every image-producing tool and of get_job; keys may be added, never renamed.

    It is one of two shapes: the images that were made (`images`, `model`, `usage`, and `saved_to` / `method`
    where they apply), or, when the image API outlived the response deadline, the job to ask about (`job_id`,
    `status`, `elapsed_seconds`). The fields are optional here so that both shapes validate; the advertised
    schema says which keys each shape requires.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["images", "model", "usage"]},
                {"required": ["job_id", "status", "elapsed_seconds"]},
            ]
        }
    )

    images: list[ImageEntry] | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    saved_to: list[str] | None = Field(default=None, description="Where save_to copies were written, if asked.")
    method: Literal["variations", "edits"] | None = Field(
        default=None, description="Variations only: dall-e-2's native endpoint, or emulated through edits."
    )
    job_id: str | None = Field(default=None, description="Pass to get_job when the images are not ready yet.")
    status: Literal["running", "succeeded", "failed"] | None = None
    elapsed_seconds: float | None = None


@dataclass(frozen=True)
class Inline:
    data: bytes
    mime_type: str
    width: int
    height: int
    is_preview: bool


def job_status_result(
    job_id: str, elapsed: float, partial: bytes | None, partial_note: str, budget: int
) -> CallToolResult:
    """A job that has not finished: its id, how long it has run, the latest partial preview, and what to do."""
    text = (
        f"The image API is still working after {elapsed:.0f} s; job {job_id} keeps running and its images will "
        f'be stored when they are ready. Call get_job with job_id "{job_id}" to wait for the result.'
    )
    content: list[ContentBlock] = [TextContent(type="text", text=text)]
    if partial is not None:
        text += f" Shown below: the latest partial image ({partial_note})."
        preview = fit_preview(
            partial, max(2_048, (budget - ENVELOPE_SLACK - len(text)) * 3 // 4 - IMAGE_BLOCK_OVERHEAD)
        )
        content = [
            TextContent(type="text", text=text),
            ImageContent(
                type="image", data=base64.b64encode(preview.data).decode("ascii"), mime_type=preview.mime_type
            ),
        ]
    structured = {"job_id": job_id, "status": "running", "elapsed_seconds": round(elapsed, 1)}
    return CallToolResult(content=content, structured_content=structured)


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def images_result(
    outcome: ImagesOutcome, *, verb: str, mode: InlineMode, budget: int, files: list[bytes]
) -> CallToolResult:
    """Render stored images (their bytes in `files`, same order) within `budget` bytes of serialized JSON."""
    structured: dict[str, Any] = {
        "images": [_entry(record).model_dump() for record in outcome.images],
        "model": outcome.model,
        "usage": outcome.usage,
    }
    if outcome.saved:
        structured["saved_to"] = [str(path) for path in outcome.saved]
    if outcome.method is not None:
        structured["method"] = outcome.method
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
    if outcome.saved:
        lines.append("Also saved to: " + ", ".join(str(path) for path in outcome.saved) + ".")
    if outcome.method == "variations":
        lines.append("Made with the native /images/variations endpoint.")
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


THUMBNAIL_SIDE = 256


class ListedImage(ImageEntry):
    prompt: str | None
    model: str | None
    created: str


class ImageList(BaseModel):
    images: list[ListedImage]


def analysis_result(analysis: Analysis) -> CallToolResult:
    """Text answers as text; structured answers as `data` with the same JSON as text."""
    structured: dict[str, Any] = {"model": analysis.model, "usage": analysis.usage}
    if analysis.data is not None:
        structured["data"] = analysis.data
        text = json.dumps(analysis.data, indent=2, ensure_ascii=False)
    else:
        structured["text"] = analysis.text
        text = analysis.text
    if analysis.notes:
        text += "\n\n" + "\n".join(f"Note: {note}" for note in analysis.notes)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def listing_result(records: list[ImageRecord], store: ImageStore, budget: int, query: str | None) -> CallToolResult:
    """The store's images as structured entries and a compact table; thumbnails only when `budget` is set."""
    entries = [
        ListedImage(**_entry(r).model_dump(), prompt=r.prompt, model=r.model, created=r.created) for r in records
    ]
    structured = ImageList(images=entries).model_dump()
    content: list[ContentBlock] = [TextContent(type="text", text=_table(records, query))]
    if budget and records:
        per_image = (budget - len(json.dumps(structured)) - ENVELOPE_SLACK) // len(records) - IMAGE_BLOCK_OVERHEAD
        max_bytes = per_image * 3 // 4
        if max_bytes >= 2_048:
            for record in records:
                thumbnail = fit_preview(store.read(record), max_bytes, max_side=THUMBNAIL_SIDE)
                encoded = base64.b64encode(thumbnail.data).decode("ascii")
                content.append(ImageContent(type="image", data=encoded, mime_type=thumbnail.mime_type))
    return CallToolResult(content=content, structured_content=structured)


def _table(records: list[ImageRecord], query: str | None) -> str:
    if not records:
        return f"No stored images match {query!r}." if query else "No images are stored yet."
    matching = f" matching {query!r}" if query else ""
    lines = [f"{len(records)} image{'s' if len(records) != 1 else ''}{matching}, newest first:"]
    lines.append("id       | created (UTC)    | size      | model        | prompt")
    for r in records:
        prompt = (r.prompt or f"({r.operation})").replace("\n", " ")
        prompt = prompt if len(prompt) <= 60 else prompt[:57] + "..."
        created = r.created[:16].replace("T", " ")
        lines.append(f"{r.id} | {created} | {r.width}x{r.height} | {r.model or '-'} | {prompt}")
    lines.append("Pass an id to edit_image, create_image_variation or analyze_image; paths are in structuredContent.")
    return "\n".join(lines)
