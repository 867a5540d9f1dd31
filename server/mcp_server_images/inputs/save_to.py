"""`save_to`: also writing a finished image where the user wants it, e.g. `assets/logo.png` in their project.

The destination is checked before anything is sent upstream, so a bad path or an existing file costs nothing;
the store keeps its own copy regardless. A file name whose extension asks for another format than the model
produced gets a converted copy (PNG and WebP lossless, JPEG at quality 95).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError
from ..imaging.convert import FORMAT_BY_EXTENSION, convert_to
from ..store import ImageRecord, write_atomic
from .paths import absolute, allowed, on_this_system
from .refs import parse_path

WRITABLE = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class SavePlan:
    """Where copies go: into `folder` under the store's file names, or to `files` one per image."""

    folder: Path | None
    files: list[Path]
    overwrite: bool


def plan_save(
    save_to: str,
    *,
    count: int,
    overwrite: bool,
    roots: Sequence[Path],
    bases: Sequence[Path],
    store_root: Path | None,
) -> SavePlan:
    """Check a destination for `count` images; raise ParameterError with what to change.

    `store_root` is the output folder when images are stored on this machine; with a bucket there is none, and
    save_to is the way to get a local copy.
    """
    shown = repr(save_to)
    ref = parse_path(save_to, windows=os.name == "nt")
    on_this_system(shown, windows=ref.windows)
    target = allowed(absolute(ref.path, bases), roots, shown)
    if store_root is not None and (target == store_root or target.is_relative_to(store_root)):
        raise ParameterError(
            "save_to",
            f"save_to {shown} is inside the output folder {store_root}, where every image is already stored; "
            "choose another folder.",
        )
    names_folder = save_to.rstrip().endswith(("/", "\\")) or target.is_dir() or not target.suffix
    if names_folder:
        if target.exists() and not target.is_dir():
            raise ParameterError("save_to", f"save_to {shown} is a file, not a folder.")
        return SavePlan(folder=target, files=[], overwrite=overwrite)
    if target.suffix.lower() not in WRITABLE:
        raise ParameterError(
            "save_to", f"save_to {shown} must end in .png, .jpg, .jpeg or .webp, or name a folder to save into."
        )
    files = [target] if count == 1 else [target.with_stem(f"{target.stem}-{i}") for i in range(1, count + 1)]
    if not overwrite:
        existing = [str(path) for path in files if path.exists()]
        if existing:
            raise ParameterError(
                "save_to",
                f"{', '.join(existing)} already exists; pass overwrite: true to replace it, or choose another name.",
            )
    return SavePlan(folder=None, files=files, overwrite=overwrite)


def write_copies(
    plan: SavePlan, records: Sequence[ImageRecord], files: Sequence[bytes]
) -> tuple[list[Path], list[str]]:
    """Write each image to its destination atomically; return the paths written and notes on conversions."""
    written: list[Path] = []
    notes: list[str] = []
    for index, (record, data) in enumerate(zip(records, files, strict=True)):
        destination = plan.folder / record.name if plan.folder is not None else plan.files[index]
        if destination.exists() and not plan.overwrite and plan.folder is None:
            raise ParameterError("save_to", f"{destination} appeared meanwhile; nothing was overwritten.")
        image_format = FORMAT_BY_EXTENSION[destination.suffix.lower()]
        payload = convert_to(data, record.mime_type, image_format)
        if payload is not data:
            notes.append(f"{destination.name} was converted from {record.mime_type} to {image_format}.")
        destination.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(destination, payload)
        written.append(destination)
    return written, notes
