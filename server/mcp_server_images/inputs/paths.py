"""Which local paths the server may read and write: only inside the allowed folders.

Allowed: the output folder, the user's home folder, the roots the MCP client offers, and MCP_IMAGES_ALLOWED_DIRS.
Refused: anything else, any hidden file or folder below a root (`~/.ssh/…`), and symlinks whose target leaves
the roots. The checks run on the path as written and on the path with every link resolved, so neither `..` nor
a link can step outside.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePath

from ..errors import ImageServerError


class PathRefusedError(ImageServerError):
    """A path outside the allowed folders, hidden, or leading out through a link."""


def on_this_system(shown: str, *, windows: bool) -> None:
    """Refuse a Windows path on a POSIX server and the other way round, with a message that says so."""
    if windows != (os.name == "nt"):
        kind = "Windows" if windows else "POSIX"
        here = "Windows" if os.name == "nt" else "a POSIX system (macOS or Linux)"
        raise PathRefusedError(f"{shown} is a {kind} path, but this server runs on {here}; give a path on its machine.")


def absolute(path: PurePath, bases: Sequence[Path]) -> Path:
    """Expand `~`; a relative path is taken from the first base folder in which it exists (else the first)."""
    expanded = Path(path).expanduser()
    if expanded.is_absolute():
        return expanded
    for base in bases:
        if (base / expanded).exists():
            return base / expanded
    return (bases[0] if bases else Path.cwd()) / expanded


def _within(path: Path, roots: Sequence[Path]) -> Path | None:
    """The deepest root that contains `path`, or None."""
    inside = [root for root in roots if path == root or path.is_relative_to(root)]
    return max(inside, key=lambda root: len(root.parts)) if inside else None


def _hidden_part(path: Path, root: Path) -> str | None:
    return next((part for part in path.relative_to(root).parts if part.startswith(".")), None)


def allowed(path: Path, roots: Sequence[Path], shown: str) -> Path:
    """`path` normalised, after checking it (and where its links lead) against the roots. It need not exist yet."""
    if "\x00" in str(path):
        raise PathRefusedError(f"{shown} contains a NUL character, which no file name can hold.")
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    written = Path(os.path.normpath(path))
    written_root = _within(written, [*roots, *real_roots])
    if written_root is None:
        folders = ", ".join(str(root) for root in roots)
        raise PathRefusedError(
            f"{shown} is outside the folders this server may use ({folders}). Use a path inside one of them, or "
            "add its folder to MCP_IMAGES_ALLOWED_DIRS."
        )
    hidden = _hidden_part(written, written_root)
    if hidden is not None:
        raise PathRefusedError(
            f"{shown} is inside a hidden file or folder ({hidden!r}); the server does not use hidden paths."
        )
    real = Path(os.path.realpath(written))
    real_root = _within(real, real_roots)
    if real_root is None:
        raise PathRefusedError(
            f"{shown} goes through a symbolic link that leads outside the allowed folders (to {real}); the server "
            "does not follow it."
        )
    hidden = _hidden_part(real, real_root)
    if hidden is not None:
        raise PathRefusedError(
            f"{shown} leads to a hidden file or folder ({hidden!r}); the server does not use hidden paths."
        )
    return written


def read_file(path: Path, roots: Sequence[Path], shown: str, max_bytes: int) -> bytes:
    """The bytes of an allowed, existing regular file no larger than `max_bytes`."""
    checked = allowed(path, roots, shown)
    if not checked.exists():
        raise PathRefusedError(f"No file at {checked} (from {shown}).")
    if not checked.is_file():
        raise PathRefusedError(f"{shown} is not a file.")
    size = checked.stat().st_size
    if size > max_bytes:
        raise PathRefusedError(f"{shown} is {size:,} bytes; the largest image the server reads is {max_bytes:,} bytes.")
    return checked.read_bytes()
