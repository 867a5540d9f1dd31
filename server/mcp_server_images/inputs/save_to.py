"""`save_to`: also writing a finished image where the user wants it, e.g. `assets/logo.png` in their project.

The destination is checked before anything is sent upstream, so a bad path or an existing file costs nothing;
the store keeps its own copy regardless. A file name whose extension asks for another format than the model
produced gets a converted copy (PNG and WebP lossless, JPEG at quality 95; an SVG is rasterized, an animated GIF
gives its first frame; only an SVG can be saved as .svg).

The upstream call can take minutes, and the folders can change meanwhile, so the destination is checked again
when the copy is written, and the copy is written through a descriptor of the checked folder: every folder
from the allowed root down is opened without following links, so a folder swapped for a link to elsewhere
stops the write instead of redirecting it. Paths are compared with every link resolved on both sides, so no
spelling (a link, a HOME that is itself a link) reaches into the output folder. Copies get the user's usual
file mode (0666 less the umask), as any file they save would.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError
from ..imaging.convert import FORMAT_BY_EXTENSION, convert_to
from ..store import ImageRecord, write_atomic
from .paths import absolute, allowed, inside_real_roots, on_this_system, real_paths
from .refs import parse_path

WRITABLE = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".svg")
FILE_MODE = 0o666
"""Before the umask: copies are the user's files, readable as their other files are."""
DIRECTORY_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
DIR_FD_WRITES = {os.open, os.mkdir, os.rename, os.link, os.unlink} <= os.supports_dir_fd
"""Whether this system writes relative to an open folder (POSIX systems do; Windows does not)."""


@dataclass(frozen=True)
class SavePlan:
    """Where copies go: into `folder` under the store's file names, or to `files` one per image."""

    folder: Path | None
    files: list[Path]
    overwrite: bool
    roots: list[Path]
    """The allowed folders, to check each destination again when it is written."""
    store_root: Path | None
    """The output folder, when images are stored on this machine (None with a bucket)."""


def plan_save(
    save_to: str,
    *,
    count: int,
    overwrite: bool,
    roots: Sequence[Path],
    bases: Sequence[Path],
    store_root: Path | None,
    output_format: str | None = None,
) -> SavePlan:
    """Check a destination for `count` images; raise ParameterError with what to change.

    A `.svg` name is accepted only when the request asks for SVG output (`output_format`), because a raster image
    cannot become an SVG and the mistake would otherwise show only after the images were paid for.
    `store_root` is the output folder when images are stored on this machine; with a bucket there is none, and
    save_to is the way to get a local copy.
    """
    shown = repr(save_to)
    ref = parse_path(save_to, windows=os.name == "nt")
    on_this_system(shown, windows=ref.windows)
    target = checked_destination(absolute(ref.path, bases), roots, store_root, shown)
    names_folder = save_to.rstrip().endswith(("/", "\\")) or target.is_dir() or not target.suffix
    if names_folder:
        if target.exists() and not target.is_dir():
            raise ParameterError("save_to", f"save_to {shown} is a file, not a folder.")
        return SavePlan(folder=target, files=[], overwrite=overwrite, roots=list(roots), store_root=store_root)
    if target.suffix.lower() not in WRITABLE:
        raise ParameterError(
            "save_to",
            f"save_to {shown} must end in .png, .jpg, .jpeg, .webp, .gif or .svg, or name a folder to save into.",
        )
    if target.suffix.lower() == ".svg" and output_format != "svg":
        raise ParameterError(
            "save_to", f"save_to {shown} names an SVG file, but only output_format 'svg' makes SVG; use .png or .webp."
        )
    files = [target] if count == 1 else [target.with_stem(f"{target.stem}-{i}") for i in range(1, count + 1)]
    if not overwrite:
        existing = [str(path) for path in files if path.exists()]
        if existing:
            raise ParameterError(
                "save_to",
                f"{', '.join(existing)} already exists; pass overwrite: true to replace it, or choose another name.",
            )
    return SavePlan(folder=None, files=files, overwrite=overwrite, roots=list(roots), store_root=store_root)


def checked_destination(path: Path, roots: Sequence[Path], store_root: Path | None, shown: str) -> Path:
    """`path` normalised, when it is allowed and outside the output folder however either is spelled."""
    target = allowed(path, roots, shown)
    if store_root is None:
        return target
    if _in_store(target, store_root) or _in_store(Path(os.path.realpath(target)), store_root):
        raise ParameterError(
            "save_to",
            f"save_to {shown} is inside the output folder {store_root}, where every image is already stored; "
            "choose another folder.",
        )
    return target


def _in_store(path: Path, store_root: Path) -> bool:
    """Whether `path` is the output folder or inside it, as written or with the folder's links resolved."""
    return any(path == root or path.is_relative_to(root) for root in (store_root, Path(os.path.realpath(store_root))))


def write_copies(
    plan: SavePlan, records: Sequence[ImageRecord], files: Sequence[bytes]
) -> tuple[list[Path], list[str]]:
    """Write each image to its destination atomically; return the paths written and notes on conversions."""
    written: list[Path] = []
    notes: list[str] = []
    for index, (record, data) in enumerate(zip(records, files, strict=True)):
        destination = plan.folder / record.name if plan.folder is not None else plan.files[index]
        destination = checked_destination(destination, plan.roots, plan.store_root, repr(str(destination)))
        image_format = FORMAT_BY_EXTENSION[destination.suffix.lower()]
        payload = convert_to(data, record.mime_type, image_format)
        if payload is not data:
            derived = " (a derived copy: the Content Credentials stay in the stored original)" if signed(record) else ""
            notes.append(f"{destination.name} was converted from {record.mime_type} to {image_format}{derived}.")
        replace = plan.overwrite or plan.folder is not None
        if DIR_FD_WRITES:
            with checked_folder(destination.parent, plan.roots, plan.store_root) as folder:
                write_in(folder, destination, payload, replace=replace)
        else:  # Windows: no descriptor-relative calls; the checks just made are what protects the write
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.exists() and not replace:
                raise ParameterError("save_to", f"{destination} appeared meanwhile; nothing was overwritten.")
            write_atomic(destination, payload)
        written.append(destination)
    return written, notes


def signed(record: ImageRecord) -> bool:
    """Whether the stored image carries Content Credentials, which a converted copy loses."""
    return bool((record.credentials or {}).get("found"))


@contextmanager
def checked_folder(folder: Path, roots: Sequence[Path], store_root: Path | None) -> Iterator[int]:
    """A descriptor of `folder` (created if missing), reached from its allowed root without following links.

    The folder's path is resolved once; each part below the root is then opened (or made) relative to the one
    above it with O_NOFOLLOW, so a part replaced by a link after the checks makes the write fail instead of
    landing elsewhere.
    """
    real = Path(os.path.realpath(folder))
    root = inside_real_roots(real, real_paths(roots), repr(str(folder)))
    if root is None or (store_root is not None and _in_store(real, store_root)):
        raise ParameterError("save_to", f"{folder} changed while the image was being made; nothing was written there.")
    descriptor = os.open(root, DIRECTORY_FLAGS)
    try:
        for part in real.relative_to(root).parts:
            child = _subfolder(descriptor, part, folder)
            os.close(descriptor)
            descriptor = child
        yield descriptor
    finally:
        os.close(descriptor)


def _subfolder(parent: int, name: str, folder: Path) -> int:
    """A descriptor of the sub-folder `name` of the open folder `parent`, made if missing, never through a link."""
    try:
        with suppress(FileExistsError):
            os.mkdir(name, dir_fd=parent)
        return os.open(name, DIRECTORY_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise ParameterError(
                "save_to",
                f"{folder} changed while the image was being made (a folder became a link); nothing was written there.",
            ) from exc
        raise


def write_in(folder: int, destination: Path, data: bytes, *, replace: bool) -> None:
    """Write `data` as `destination.name` inside the open `folder`: a temporary file, fsync, then rename.

    Without `replace`, an existing file is never overwritten: the temporary file is linked to its name, which
    fails if the name is taken.
    """
    temp = f".partial-{secrets.token_hex(6)}{destination.suffix}"
    handle = os.open(
        temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), FILE_MODE, dir_fd=folder
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.rename(temp, destination.name, src_dir_fd=folder, dst_dir_fd=folder)
        else:
            try:
                os.link(temp, destination.name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
            except FileExistsError as exc:
                raise ParameterError("save_to", f"{destination} appeared meanwhile; nothing was overwritten.") from exc
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=folder)
