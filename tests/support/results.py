"""Reading what a user sees: the tools listed, a result's blocks and structuredContent, the images the store kept."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent

from tests.support.waiting import until

TOOLS = [
    "generate_image",
    "edit_image",
    "create_image_variation",
    "analyze_image",
    "list_images",
    "list_models",
    "get_job",
    "usage_report",
    "delete_images",
]
"""Every tool the server lists, in the order it lists them."""
SIDECAR_NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{8}\.json$")
"""How the store names the metadata it writes after each image (`20261104-093012-3f9a2c7b.json`)."""


def text_of(result: CallToolResult) -> str:
    """The text blocks of a result, joined."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def images_in(result: CallToolResult) -> list[ImageContent]:
    return [block for block in result.content if isinstance(block, ImageContent)]


def links_in(result: CallToolResult) -> list[ResourceLink]:
    return [block for block in result.content if isinstance(block, ResourceLink)]


def entries(result: CallToolResult) -> list[dict[str, Any]]:
    """The `images` of a result's structuredContent (the test fails, with the result's text, if it has none)."""
    assert result.structured_content is not None, text_of(result)
    images: list[dict[str, Any]] = result.structured_content["images"]
    return images


def serialized_size(result: CallToolResult) -> int:
    """Bytes of the result as it goes on the wire inside a JSON-RPC response."""
    body = result.model_dump_json(by_alias=True, exclude_none=True)
    return len(f'{{"jsonrpc":"2.0","id":123456,"result":{body}}}'.encode())


def sidecar_of(image: str | Path) -> dict[str, Any]:
    """The sidecar stored beside an image file."""
    loaded: dict[str, Any] = json.loads(Path(image).with_suffix(".json").read_text())
    return loaded


def visible_files(output_dir: Path) -> list[str]:
    """What a user sees in the output folder: every name but the server's hidden records (the spend ledger, job
    records, idempotency keys)."""
    if not output_dir.is_dir():
        return []
    return sorted(path.name for path in output_dir.iterdir() if not path.name.startswith("."))


def stored_images(output_dir: Path) -> list[Path]:
    """The images the store has finished writing, in the order of their names (when they were stored, to the second).

    The store writes an image and then its sidecar, each through a `.partial-*` temporary: an image counts once its
    sidecar is there, and temporaries never do.
    """
    if not output_dir.is_dir():
        return []
    sidecars = sorted(path for path in output_dir.iterdir() if SIDECAR_NAME.match(path.name))
    return [sidecar.with_name(json.loads(sidecar.read_text())["path"]) for sidecar in sidecars]


async def wait_for_images(output_dir: Path, count: int) -> list[Path]:
    """Wait until the store has finished writing `count` images (a job that outlived its call stores them later)."""
    await until(lambda: len(stored_images(output_dir)) >= count, f"{count} stored image(s) in {output_dir}")
    return stored_images(output_dir)
