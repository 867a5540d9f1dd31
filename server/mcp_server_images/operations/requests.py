"""The plain typed requests the use cases take and the outcome they return: no MCP, no wire format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..backends.base import UsagePart
from ..catalog.options import ImageOptions
from ..catalog.spec import Api
from ..imaging.masks import Region
from ..imaging.previews import Decoded, PreviewBound
from ..store import ImageRecord, Operation
from .cost import Cost
from .ledger import Spending, Unmetered
from .progress import NoProgress, Progress


@dataclass(frozen=True)
class SaveRequest:
    """`save_to` and `overwrite` as the user gave them."""

    save_to: str
    overwrite: bool = False


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    model: str | None = None
    options: ImageOptions = field(default_factory=ImageOptions)
    save: SaveRequest | None = None
    client_roots: Sequence[Path] = ()
    api: Api | None = None
    """The upstream API the call asks for; None lets the catalog and the settings decide."""


@dataclass(frozen=True)
class MaskRequest:
    """Where an edit applies: a mask image or shapes (not both), optionally inverted."""

    image: str | None = None
    regions: Sequence[Region] | None = None
    invert: bool = False


@dataclass(frozen=True)
class EditRequest:
    images: Sequence[str]
    prompt: str
    mask: MaskRequest = field(default_factory=MaskRequest)
    model: str | None = None
    options: ImageOptions = field(default_factory=ImageOptions)
    save: SaveRequest | None = None
    client_roots: Sequence[Path] = ()
    api: Api | None = None
    """The upstream API the call asks for; None lets the catalog and the settings decide."""


@dataclass(frozen=True)
class VariationRequest:
    image: str
    model: str | None = None
    n: int = 1
    size: str | None = None
    save: SaveRequest | None = None
    client_roots: Sequence[Path] = ()


ImageCallRequest = GenerateRequest | EditRequest | VariationRequest
"""What an image-producing tool asks for: planned and run through the pipeline (operations/calls.py)."""


def operation_of(request: ImageCallRequest) -> Operation:
    """The tool's operation, as its result tells it ("Generated", "Edited", "Made")."""
    if isinstance(request, GenerateRequest):
        return Operation.GENERATE
    return Operation.EDIT if isinstance(request, EditRequest) else Operation.VARIATION


@dataclass(frozen=True)
class FreshImage:
    data: bytes
    pixels: Decoded | None


@dataclass(frozen=True)
class ImagesOutcome:
    """What an image-producing operation made: stored records, the model, summed usage, and notes for the user."""

    images: list[ImageRecord]
    model: str
    usage: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    method: Literal["variations", "edits"] | None = None
    """For variations: "variations" (native endpoint) or "edits" (emulated)."""
    saved: list[Path] = field(default_factory=list)
    cost: Cost | None = None
    """What the call cost (from usage), with the estimate made before it."""
    usage_parts: list[UsagePart] = field(default_factory=list)
    """Usage per model when several models worked on the call (Responses: mainline and image model)."""
    fresh: dict[str, FreshImage] = field(default_factory=dict, compare=False, repr=False)
    """The images just received, by id, for their first rendering only (taken then, to free the memory): the
    bytes, so the file just written is not read back, and for large ones their decoded pixels."""


@dataclass(frozen=True)
class CallContext:
    """How one call runs: where its progress goes, which job it is, and how many partial images to stream."""

    progress: Progress = field(default_factory=NoProgress)
    job_id: str | None = None
    partial_images: int = 0
    """Above 0, models that can stream are asked to, with this many partial images."""
    user: str | None = None
    """The signed-in user's subject (OAuth), recorded with every image the call makes."""
    spending: Spending = field(default_factory=Unmetered)
    """Asked right before anything is sent upstream: records the estimate in the spend ledger (a budget may refuse
    it there); settled with the actual cost afterwards."""
    audience: str | None = None
    """Who is told a note said once per session (a default moved before its shutdown): the client's session;
    None for a caller that cannot be told apart (stateless HTTP, a dry run), who is told every time and marks
    nothing as told."""
    preview: PreviewBound | None = None
    """The bound the result will likely show each new image within, when known before the answer: a large image's
    preview is then made as soon as its pixels are decoded, while the answer is checked and stored."""
