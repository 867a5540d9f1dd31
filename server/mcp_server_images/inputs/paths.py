"""Which local paths the server may read and write: only inside the allowed folders.

Allowed: the output folder, the user's home folder, the roots the MCP client offers, and MCP_IMAGES_ALLOWED_DIRS.
Refused: anything else, any hidden file or folder below a root (`~/.ssh/…`), and symlinks whose target leaves
the roots. The checks run on the path as written and on the path with every link resolved, so neither `..` nor
a link can step outside. A file is then read from the one descriptor that was checked: opened without following
a link in its last component, and its real location confirmed inside the roots after opening, so a link swapped
in between the check and the read cannot redirect it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePath

from ..errors import ImageServerError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


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
    return _found_in(expanded, bases) or (bases[0] if bases else Path.cwd()) / expanded


def _found_in(relative: Path, bases: Sequence[Path]) -> Path | None:
    return next((base / relative for base in bases if (base / relative).exists()), None)


def existing(path: PurePath, bases: Sequence[Path], shown: str) -> Path:
    """The file a path names for reading: expanded as written when absolute; a relative one from the first base
    folder that holds it. A relative path found in none is refused saying where it was looked for, not as a path
    outside the allowed folders (which it may not be: the user likely meant another folder, or mistyped)."""
    expanded = Path(path).expanduser()
    if expanded.is_absolute():
        return expanded
    found = _found_in(expanded, bases)
    if found is not None:
        return found
    folders = ", ".join(str(base) for base in bases)
    raise PathRefusedError(
        f"No file {shown} in the folders a relative path is looked for in ({folders}). Give the image's full path "
        f"(for example ~/Pictures/{expanded.name}), or a stored image id."
    )


def _within(path: Path, roots: Sequence[Path]) -> Path | None:
    """The deepest root that contains `path`, or None."""
    inside = [root for root in roots if path == root or path.is_relative_to(root)]
    return max(inside, key=lambda root: len(root.parts)) if inside else None


def _hidden_part(path: Path, root: Path) -> str | None:
    return next((part for part in path.relative_to(root).parts if part.startswith(".")), None)


def allowed(path: Path, roots: Sequence[Path], shown: str) -> Path:
    """`path` normalised, after checking it (and where its links lead) against the roots. It need not exist yet."""
    if "\0" in str(path):
        raise PathRefusedError(
            f"{shown} contains a NUL character (\\x00), which no file name can hold; check how the path was written."
        )
    real_roots = real_paths(roots)
    written = Path(os.path.normpath(path))
    written_root = _within(written, [*roots, *real_roots])
    if written_root is None:
        folders = ", ".join(str(root) for root in roots)
        raise PathRefusedError(
            f"{shown} is outside the folders this server may use ({folders}), so it was not looked at. Use a path "
            "inside one of them, or add its folder to MCP_IMAGES_ALLOWED_DIRS."
        )
    hidden = _hidden_part(written, written_root)
    if hidden is not None:
        raise PathRefusedError(
            f"{shown} is inside a hidden file or folder ({hidden!r}); the server does not use hidden paths."
        )
    real = Path(os.path.realpath(written))
    if inside_real_roots(real, real_roots, shown) is None:
        raise PathRefusedError(
            f"{shown} goes through a symbolic link that leads outside the allowed folders (to {real}); the server "
            "does not follow it."
        )
    return written


def real_paths(paths: Sequence[Path]) -> list[Path]:
    return [Path(os.path.realpath(path)) for path in paths]


def inside_real_roots(real: Path, real_roots: Sequence[Path], shown: str) -> Path | None:
    """The deepest real root holding the fully resolved `real`, or None; a hidden part below it is refused."""
    real_root = _within(real, real_roots)
    if real_root is not None:
        hidden = _hidden_part(real, real_root)
        if hidden is not None:
            raise PathRefusedError(
                f"{shown} leads to a hidden file or folder ({hidden!r}); the server does not use hidden paths."
            )
    return real_root


def opened_path(descriptor: int) -> Path | None:
    """Where an open descriptor really is (every link resolved), where the system can say (Linux, macOS)."""
    proc = Path(f"/proc/self/fd/{descriptor}")
    if proc.exists():
        return Path(os.readlink(proc))
    get_path = getattr(fcntl, "F_GETPATH", None) if fcntl is not None else None
    if get_path is not None:
        raw: bytes = fcntl.fcntl(descriptor, get_path, bytes(1024))
        return Path(os.fsdecode(raw.split(b"\0", 1)[0]))
    return None


def read_file(path: Path, roots: Sequence[Path], shown: str, max_bytes: int) -> bytes:
    """The bytes of an allowed, existing regular file no larger than `max_bytes`, read from a checked descriptor."""
    checked = allowed(path, roots, shown)
    real = Path(os.path.realpath(checked))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(real, flags)
    except FileNotFoundError as exc:
        raise PathRefusedError(f"No file at {checked} (from {shown}).") from exc
    except OSError as exc:
        raise PathRefusedError(
            f"{shown} cannot be opened ({exc.strerror}); it may have changed while being read."
        ) from exc
    with os.fdopen(descriptor, "rb") as file:
        _check_opened(descriptor, real, roots, shown)
        size = os.fstat(descriptor).st_size
        data = file.read(max_bytes + 1) if size <= max_bytes else b""
        if size > max_bytes or len(data) > max_bytes:
            raise PathRefusedError(
                f"{shown} is {max(size, len(data)):,} bytes; the largest image the server reads is {max_bytes:,} bytes."
            )
        return data


def _check_opened(descriptor: int, real: Path, roots: Sequence[Path], shown: str) -> None:
    """The descriptor is a regular file inside the roots: the file that was checked, not one swapped in since."""
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        raise PathRefusedError(f"{shown} is not a file.")
    where = opened_path(descriptor)
    if where is None:
        # No way to ask where the descriptor is: it must be the very file the checked path names now.
        current = os.stat(real, follow_symlinks=False)
        same = (current.st_dev, current.st_ino) == (status.st_dev, status.st_ino)
        where = real if same else None
    if where is None or inside_real_roots(where, real_paths(roots), shown) is None:
        raise PathRefusedError(
            f"{shown} changed while it was being read and no longer leads to a file inside the allowed folders; "
            "it was not read."
        )
