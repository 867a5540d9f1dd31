"""Writing files so that readers never see half of one: the local store's images, sidecars and records, and
save_to's copies."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMPORARY_PREFIX = ".partial-"
"""Temporary files of writes in progress; the local store removes old ones a crash left behind."""


def write_atomic(path: Path, data: bytes, *, temporaries: Path | None = None) -> None:
    """Write through a temporary file, fsync, then rename: readers never see half a file. The temporary is made in
    `temporaries` when given (a folder on the same file system, so the rename stays atomic), else beside `path`."""
    folder = path.parent if temporaries is None else temporaries
    handle, temp_name = tempfile.mkstemp(dir=folder, prefix=TEMPORARY_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def create_exclusive(path: Path, data: bytes, *, sync: bool = False) -> bool:
    """Write the file complete under a temporary name, then hard-link it to `path`: False (nothing written) when
    `path` exists already, whoever (another process, another thread) created it; nobody ever sees half of it."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX, suffix=path.suffix)
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            if sync:
                os.fsync(temp.fileno())
        try:
            os.link(temp_name, path)
        except FileExistsError:
            return False
    finally:
        Path(temp_name).unlink(missing_ok=True)
    return True
