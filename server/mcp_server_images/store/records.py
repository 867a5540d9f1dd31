"""What the store knows about an image: the metadata an operation hands over, and the record it keeps.

The record is the sidecar's content. Sidecars are a public, long-lived format: older ones (an operation written
as "generate (partial)" before the `partial` flag existed) are still read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

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
    request_id: str | None = None
    source_images: list[str] = field(default_factory=list)
    job_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ImageRecord(NewImage):
    """What the sidecar says about one stored image; `path` is absolute."""

    id: str
    path: Path
    mime_type: str
    width: int
    height: int
    bytes: int
    created: str

    @property
    def uri(self) -> str:
        return image_uri(self.id)

    def sidecar(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = self.path.name
        return data

    @classmethod
    def from_sidecar(cls, data: dict[str, Any], folder: Path) -> ImageRecord:
        """Parse a sidecar, checking every field's type (pydantic's ValidationError is a ValueError); raises
        ValueError, TypeError or KeyError when it is not one. Fields a newer version added are ignored.
        """
        data = dict(data, path=folder / data["path"])
        operation = data.get("operation")
        if isinstance(operation, str) and operation.endswith(_LEGACY_PARTIAL_SUFFIX):
            data["operation"], data["partial"] = operation.removesuffix(_LEGACY_PARTIAL_SUFFIX), True
        return _SIDECAR.validate_python(data)


_SIDECAR = TypeAdapter(ImageRecord)
