"""Turning operation results into MCP tool results: the one place that knows content blocks and budgets.

An image result carries a short text summary, per image an `image` block (the image, or a preview sized so the
whole serialized result stays inside the inline budget) and a `resource_link` to the full image, and
`structuredContent` for clients that read only that (ChatGPT). The budget is measured on the encoded JSON,
because base64 makes images a third larger than their bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pybase64
from mcp.types import CallToolResult, ContentBlock, ImageContent, ResourceLink, TextContent

from ...imaging.convert import FORMAT_BY_EXTENSION
from ...imaging.info import MIME_BY_FORMAT
from ...imaging.previews import (
    Decoded,
    Inlinable,
    Preview,
    PreviewBound,
    Shown,
    decode_for_preview,
    fit_preview,
    preview_side,
)
from ...imaging.provenance import Credentials
from ...operations.analyze import Analysis
from ...operations.deletion import Deletion
from ...operations.listing import Listing
from ...operations.requests import ImagesOutcome
from ...store import ImageRecord, Operation
from .results import DeletedImages, NotDeleted, entry, listed
from .shapes import STANDARD, Shape

InlineMode = Literal["preview", "full", "none"]

ENVELOPE_SLACK = 2_048
"""Room for the JSON-RPC envelope and the `_meta` the SDK stamps on a result."""
IMAGE_BLOCK_OVERHEAD = 96
"""JSON around one image block's base64: type, mimeType, quotes and commas."""
MIN_INLINE_BYTES = 2_048
"""Below this an image is not worth showing; the result carries links and text only."""
THUMBNAIL_SIDE = 256
UNDECODABLE = "Not shown: its pixels do not decode, though the file is stored as the API sent it."


def inline_capacity(budget: int, used: int, count: int) -> int:
    """Bytes each of `count` images may have once `used` bytes of JSON are spent (base64 adds a third)."""
    return ((budget - used - ENVELOPE_SLACK) // max(count, 1) - IMAGE_BLOCK_OVERHEAD) * 3 // 4


def fit_in_budget(budget: int, count: int, build: Callable[[int | None], CallToolResult]) -> CallToolResult:
    """A result whose `count` images share what the budget leaves, measured on the real JSON and tightened.

    `build(None)` makes the result as it will look without the image data (to measure), `build(0)` the final
    result without images, and `build(n)` the result with each image at most `n` bytes.
    """
    reserve = 0
    skeleton = _serialized_size(build(None))
    for _ in range(4):
        per_image = inline_capacity(budget, skeleton + reserve, count)
        if per_image < MIN_INLINE_BYTES:
            break
        result = build(per_image)
        size = _serialized_size(result) + ENVELOPE_SLACK
        if size <= budget:
            return result
        reserve += size - budget + 1_024
    return build(0)


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def image_block(data: bytes, mime_type: str) -> ImageContent:
    return ImageContent(type="image", data=pybase64.b64encode_as_string(data), mime_type=mime_type)


def keeping_text(*, local: bool, expiry_days: float | None) -> str:
    """How a result's images are referred to later, and how long they are kept, as true for the store in use."""
    kept = "" if expiry_days is None else f" for {expiry_days:g} days"
    if local:
        return f"Refer to an image by its id (or path) in later calls; the files stay on disk{kept}."
    return f"Refer to an image by its id in later calls; it stays in the shared store{kept}."


def job_status_result(
    job_id: str, elapsed: float, partial: bytes | None, partial_note: str, budget: int, shape: Shape = STANDARD
) -> CallToolResult:
    """A job that has not finished: its id, how long it has run, the latest partial preview (where the host shows
    images), and what to do."""
    text = (
        f"The image API is still working after {elapsed:.0f} s; job {job_id} keeps running and its images will "
        f'be stored when they are ready. Call get_job with job_id "{job_id}" to wait for the result.'
    )
    structured = {"job_id": job_id, "status": "running", "elapsed_seconds": round(elapsed, 1)}
    if partial is None or not shape.image_blocks:
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)
    shown = f"{text} Shown below: the latest partial image ({partial_note})."

    def build(max_bytes: int | None) -> CallToolResult:
        content: list[ContentBlock] = [TextContent(type="text", text=shown if max_bytes != 0 else text)]
        if max_bytes:
            preview = fit_preview(partial, max_bytes)
            content.append(image_block(preview.data, preview.mime_type))
        return CallToolResult(content=content, structured_content=structured)

    return fit_in_budget(shape.budget(budget), 1, build)


@dataclass(frozen=True)
class Showing:
    """How a result shows its images: the configured inline mode and budget, the host's shape, and the line that
    closes the text (how to refer to the images later, and how long they are kept)."""

    mode: InlineMode
    budget: int
    keeping: str
    shape: Shape = STANDARD


SKELETON_ALLOWANCE = 6_144
"""Bytes of a result's JSON beside its images, as a rule (one image's result takes 2 to 3 KB): what a preview
made before its result is written leaves them."""


def likely_preview(showing: Showing, count: int) -> PreviewBound | None:
    """The bound within which the result of `count` new images will likely show each, known before they arrive
    (its text is not): so their previews can be made as soon as their pixels are decoded. None when it shows no
    image, or when the bound depends on that text (a host's token limit)."""
    shape = showing.shape
    if showing.mode == "none" or not shape.image_blocks or shape.token_limit is not None or count < 1:
        return None
    max_bytes = inline_capacity(shape.budget(showing.budget), SKELETON_ALLOWANCE, count)
    if max_bytes < MIN_INLINE_BYTES:
        return None
    return PreviewBound(max_bytes, preview_side(shape.many_images_side if count > 1 else None))


def images_result(
    outcome: ImagesOutcome,
    *,
    operation: Operation,
    showing: Showing,
    files: list[bytes],
    urls: Sequence[str | None] = (),
    pixels: Sequence[Decoded | None] = (),
) -> CallToolResult:
    """Render stored images (their bytes in `files`, their links in `urls`, same order) within the budget of
    serialized JSON, as the host's shape says it can use them."""
    mode, shape = showing.mode, showing.shape
    links = list(urls) or [None] * len(outcome.images)
    structured: dict[str, Any] = {
        "images": [entry(record, url).public() for record, url in zip(outcome.images, links, strict=True)],
        "model": outcome.model,
        "usage": outcome.usage,
    }
    if outcome.saved:
        structured["saved_to"] = [str(path) for path in outcome.saved]
        structured["saved_copies"] = saved_copies(outcome.images, outcome.saved)
    if outcome.method is not None:
        structured["method"] = outcome.method
    if outcome.cost is not None:
        structured["cost"] = outcome.cost.public()
    if outcome.usage_parts:
        structured["usage_parts"] = [part._asdict() for part in outcome.usage_parts]
    summary = _Summary(outcome, operation.verb, mode, showing.keeping, shape, links)
    decoded = list(pixels) or [None] * len(files)
    sources = [
        Inlinable(data, record.mime_type, (record.width, record.height), kept)
        for record, data, kept in zip(outcome.images, files, decoded, strict=True)
    ]
    sides: list[int | None] = []
    """The longest side each image may be shown at, from what the text leaves of the host's token limit."""

    def build(max_bytes: int | None) -> CallToolResult:
        inlines = [
            source.inline(max_bytes, full=mode == "full", max_side=side) if max_bytes else None
            for source, side in zip(sources, sides or [None] * len(sources), strict=True)
        ]
        undecodable = {record.id for record, source in zip(outcome.images, sources, strict=True) if source.undecodable}
        text = summary.text(inlines, pending=max_bytes is None, undecodable=undecodable)
        return _result(outcome, text, inlines, structured)

    if mode == "none" or not shape.image_blocks or not outcome.images:
        return build(0)
    text_bytes = _serialized_size(build(None)) + ENVELOPE_SLACK + IMAGE_BLOCK_OVERHEAD * len(sources)
    sides[:] = shape.preview_sides([source.size for source in sources], text_bytes)
    return fit_in_budget(shape.budget(showing.budget), len(outcome.images), build)


def _result(
    outcome: ImagesOutcome, text: str, inlines: list[Preview | None], structured: dict[str, Any]
) -> CallToolResult:
    content: list[ContentBlock] = [TextContent(type="text", text=text)]
    for record, inline in zip(outcome.images, inlines, strict=True):
        if inline is not None:
            content.append(image_block(inline.data, inline.mime_type))
        content.append(_link(record))
    return CallToolResult(content=content, structured_content=structured)


@dataclass(frozen=True)
class _Summary:
    """The text block of an image result; its per-image lines depend on what could be shown inline."""

    outcome: ImagesOutcome
    verb: str
    mode: InlineMode
    keeping: str
    shape: Shape = STANDARD
    links: Sequence[str | None] = ()

    def text(self, inlines: list[Preview | None], *, pending: bool, undecodable: set[str]) -> str:
        outcome = self.outcome
        count = len(outcome.images)
        lines = [f"{self.verb} {count} image{'s' if count != 1 else ''} with {outcome.model}."]
        for number, (record, inline) in enumerate(zip(outcome.images, inlines, strict=True), start=1):
            kind = record.mime_type.removeprefix("image/").upper()
            lines.append(
                f"{number}. id {record.id}: {record.width}x{record.height} {kind}, {_human_bytes(record.bytes)}, "
                f"saved to {record.location} ({record.uri})."
            )
            shown = "" if record.id not in undecodable else UNDECODABLE
            lines.append("   " + (shown or self._shown(inline, record, pending=pending)))
            opened = self.shape.open_line(record, self.links[number - 1] if self.links else None)
            if opened is not None:
                lines.append(opened)
            lines.extend(_credentials_lines(record, inline, pending=pending))
            if record.revised_prompt:
                lines.append(f"   Revised prompt: {record.revised_prompt}")
        if outcome.saved:
            lines.append("Also saved to: " + ", ".join(str(path) for path in outcome.saved) + ".")
        if outcome.method == "variations":
            lines.append("Made with the native /images/variations endpoint.")
        if outcome.usage:
            lines.append(f"Usage: {_usage_text(outcome.usage)}.")
        if outcome.cost is not None:
            lines.append(outcome.cost.text())
        lines.extend(f"Note: {note}" for note in outcome.notes)
        link_note = self.shape.link_note(self.links or [None] * count) if count else None
        if link_note is not None:
            lines.append(f"Note: {link_note}")
        if self.keeping:
            lines.append(self.keeping)
        return "\n".join(lines)

    def _shown(self, inline: Preview | None, record: ImageRecord, *, pending: bool) -> str:
        if not self.shape.image_blocks:
            return self.shape.not_shown()
        if pending:
            # Same length class as the final wording, so the skeleton measures close to the real result.
            return f"Shown below as a preview of {record.width}x{record.height} pixels; the full image is in the file."
        if inline is None:
            if self.mode == "none":
                return "Not shown inline (inline mode 'none'); open the file to see it."
            return "Too large to show inline within the result budget; open the file to see it."
        if inline.shows is Shown.ORIGINAL:
            return "Shown below at full resolution."
        if inline.shows is Shown.ANIMATION:
            return "Shown below: the animation itself."
        kind = inline.mime_type.removeprefix("image/").upper()
        return (
            f"Shown below as {inline.shows} ({inline.width}x{inline.height} {kind}); "
            f"the full-resolution image is the file above."
        )


def _signer(record: ImageRecord) -> str:
    credentials = Credentials.from_sidecar(record.credentials or {})
    if not credentials.checked:
        return f"{record.id} (not checked)"
    verdict = "" if credentials.valid else ", INVALID"
    return f"{record.id} (issued by {credentials.issuer or 'an unnamed signer'}{verdict})"


def credentials_text(record: ImageRecord) -> str | None:
    """The line about an image's Content Credentials, when it carries any."""
    found = record.credentials
    return Credentials.from_sidecar(found).text() if found and found.get("found") else None


def _credentials_lines(record: ImageRecord, inline: Preview | None, *, pending: bool) -> list[str]:
    """What the image's Content Credentials say, and that a preview shown of it is derived and carries none."""
    said = credentials_text(record)
    if said is None:
        return []
    lines = ["   " + said]
    if not pending and inline is not None and inline.shows is not Shown.ORIGINAL:
        lines.append("   The image shown is a derived preview without them; the stored file keeps them.")
    return lines


def saved_copies(records: Sequence[ImageRecord], saved: Sequence[Path]) -> list[dict[str, Any]]:
    """The save_to copies, each marked derived when it was converted to another format than the stored image."""
    return [
        {"path": str(path), "derived": MIME_BY_FORMAT[FORMAT_BY_EXTENSION[path.suffix.lower()]] != record.mime_type}
        for record, path in zip(records, saved, strict=False)
    ]


def _link(record: ImageRecord) -> ResourceLink:
    return ResourceLink(
        type="resource_link",
        uri=record.uri,
        name=record.name,
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


def listing_result(
    listing: Listing,
    files: list[bytes] | None,
    budget: int,
    urls: Sequence[str | None] = (),
    shape: Shape = STANDARD,
) -> CallToolResult:
    """The store's images as structured entries and a compact table; thumbnails when `files` are given and the
    host shows images."""
    records = listing.images
    links = list(urls) or [None] * len(records)
    structured = {
        "images": [listed(r, url).public() for r, url in zip(records, links, strict=True)],
        "total": listing.total,
        "next_cursor": listing.next_cursor,
    }
    text = _table(listing)

    decoded: list[Decoded] = []

    def build(max_bytes: int | None) -> CallToolResult:
        content: list[ContentBlock] = [TextContent(type="text", text=text)]
        if max_bytes and files is not None:
            decoded[:] = decoded or [decode_for_preview(data, THUMBNAIL_SIDE) for data in files]
            for pixels in decoded:
                thumbnail = fit_preview(pixels, max_bytes, max_side=THUMBNAIL_SIDE)
                content.append(image_block(thumbnail.data, thumbnail.mime_type))
        return CallToolResult(content=content, structured_content=structured)

    if files is None or not shape.image_blocks or not records:
        return build(0)
    return fit_in_budget(shape.budget(budget), len(records), build)


def _table(listing: Listing) -> str:
    records, query = listing.images, listing.query
    if not records:
        if listing.offset:
            return f"No more images: all {listing.total} are listed on the earlier pages."
        return f"No stored images match {query!r}." if query else "No images are stored yet."
    matching = f" matching {query!r}" if query else ""
    first, last = listing.offset + 1, listing.offset + len(records)
    lines = [f"Images {first}-{last} of {listing.total}{matching}, newest first:"]
    lines.append("id       | created (UTC)    | size      | model        | prompt")
    for r in records:
        prompt = (r.prompt or f"({r.operation})").replace("\n", " ")
        prompt = prompt if len(prompt) <= 60 else prompt[:57] + "..."
        created = r.created[:16].replace("T", " ")
        lines.append(f"{r.id} | {created} | {r.width}x{r.height} | {r.model or '-'} | {prompt}")
    signed = [r for r in records if (r.credentials or {}).get("found")]
    if signed:
        lines.append("With Content Credentials (C2PA): " + "; ".join(_signer(r) for r in signed) + ".")
    if listing.next_cursor is not None:
        more = listing.total - last
        lines.append(f"{more} more: call list_images again with cursor {listing.next_cursor!r} for the next page.")
    lines.append("Pass an id to edit_image, create_image_variation or analyze_image; paths are in structuredContent.")
    return "\n".join(lines)


def deletion_result(deletion: Deletion) -> CallToolResult:
    """What was deleted and what was not (an error only when nothing was)."""
    lines = []
    if deletion.deleted:
        ids = ", ".join(record.id for record in deletion.deleted)
        lines.append(
            f"Deleted {len(deletion.deleted)} image(s) with their metadata: {ids}. Links to them stop working."
        )
    lines.extend(f"Not deleted: {ref}: {why}" for ref, why in deletion.kept)
    structured = DeletedImages(
        deleted=[record.id for record in deletion.deleted],
        not_deleted=[NotDeleted(image=ref, reason=why) for ref, why in deletion.kept],
    )
    return CallToolResult(
        content=[TextContent(type="text", text="\n".join(lines))],
        structured_content=structured.model_dump(),
        is_error=not deletion.deleted,
    )
