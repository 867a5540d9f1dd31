"""What the store knows about an image: the metadata an operation hands over, and the record it keeps.

The record is the sidecar's content. Sidecars are a public, long-lived format: older ones (an operation written
as "generate (partial)" before the `partial` flag existed) are still read. A sidecar names its image by file name
only, so a folder of images can be copied into a bucket (or back) and still be read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from ..imaging.info import ImageInfo

URI_SCHEME = "images"
_LEGACY_PARTIAL_SUFFIX = " (partial)"


class Operation(StrEnum):
    """What made an image; the value is what the sidecar stores."""

    GENERATE = "generate"
    EDIT = "edit"
    VARIATION = "variation"

    @property
    def verb(self) -> str:
        """The past tense a result starts with: "Generated 2 images with …"."""
        return {"generate": "Generated", "edit": "Edited", "variation": "Made"}[self.value]


def image_uri(image_id: str) -> str:
    return f"{URI_SCHEME}://{image_id}"


@dataclass(frozen=True, kw_only=True)
class NewImage:
    """Metadata for an image about to be stored, as the operation knows it."""

    prompt: str | None
    model: str | None
    operation: Operation | None
    parameters: dict[str, Any] = field(default_factory=dict)
    partial: bool = False
    """Kept from a stream that ended before its final image: not a finished result."""
    revised_prompt: str | None = None
    usage: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None
    """The cost of the upstream request that made the image (structuredContent's `cost` object); None in sidecars
    written before costs were recorded."""
    request_id: str | None = None
    source_images: list[str] = field(default_factory=list)
    job_id: str | None = None
    user: str | None = None
    """Who made it: the signed-in user's subject (OAuth); None without sign-in."""
    api: str | None = None
    """The upstream API that made it: "images", "chat" or "responses" (None in sidecars older than the choice)."""
    response_id: str | None = None
    """The Responses API answer that made it: an edit of this image continues that conversation."""
    usage_parts: list[dict[str, Any]] = field(default_factory=list)
    """Usage per model ({"model", "usage"}) when several models worked on it (Responses: mainline and image)."""
    credentials: dict[str, Any] | None = None
    """The Content Credentials (C2PA) found in the image's bytes when it was stored (imaging/provenance.py's
    `Credentials`); None in sidecars written before they were looked for."""


@dataclass(frozen=True, kw_only=True)
class ImageRecord(NewImage):
    """What the sidecar says about one stored image, and where the store keeps it."""

    id: str
    name: str
    """The file (or object) name, `<UTC time>-<id>.<ext>`; the same in every store."""
    location: str
    """Where the full image is, for people: an absolute file path, or `s3://bucket/key`."""
    mime_type: str
    width: int
    height: int
    bytes: int
    created: str
    shared: bool = False
    """Its owner shared it: any signed-in user may read it by its full id (see store/owned.py). The one field that
    changes after the image is stored, and only by its owner's act."""

    @property
    def uri(self) -> str:
        return image_uri(self.id)

    @property
    def sidecar_name(self) -> str:
        return self.name.rsplit(".", 1)[0] + ".json"

    def sidecar(self) -> dict[str, Any]:
        """The sidecar's content: the record, with the image named by its file name only."""
        data = asdict(self)
        del data["name"], data["location"]
        data["path"] = self.name
        return data

    @classmethod
    def from_sidecar(cls, data: dict[str, Any], locate: Callable[[str], str]) -> ImageRecord:
        """Parse a sidecar, checking every field's type (pydantic's ValidationError is a ValueError); raises
        ValueError, TypeError or KeyError when it is not one. Fields a newer version added are ignored.
        `locate` turns the image's file name into its location in the store that read the sidecar.
        """
        name = data["path"]
        if not isinstance(name, str) or "/" in name or "\\" in name:
            raise ValueError(f"path must be a file name, not {name!r}")
        data = {key: value for key, value in data.items() if key not in ("path", "name", "location")}
        data |= {"name": name, "location": locate(name)}
        operation = data.get("operation")
        if isinstance(operation, str) and operation.endswith(_LEGACY_PARTIAL_SUFFIX):
            data["operation"], data["partial"] = operation.removesuffix(_LEGACY_PARTIAL_SUFFIX), True
        return _sidecar().validate_python(data)


@functools.cache
def _sidecar() -> TypeAdapter[ImageRecord]:
    """The sidecar's validator, built at the first read (not at import: building it takes milliseconds)."""
    return TypeAdapter(ImageRecord)


def new_record(
    meta: NewImage, info: ImageInfo, *, image_id: str, size: int, locate: Callable[[str], str], now: datetime
) -> ImageRecord:
    """The record of an image stored `now` (UTC, from the server's clock): named `<UTC time>-<id>.<ext>`, as every
    store names it."""
    name = f"{now:%Y%m%d-%H%M%S}-{image_id}.{info.extension}"
    return ImageRecord(
        **{f.name: getattr(meta, f.name) for f in fields(NewImage)},
        id=image_id,
        name=name,
        location=locate(name),
        mime_type=info.mime_type,
        width=info.width,
        height=info.height,
        bytes=size,
        created=now.isoformat(timespec="microseconds"),
    )
