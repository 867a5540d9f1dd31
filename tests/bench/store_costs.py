"""What the local store's read paths cost on a folder of many images.

The folder is written straight to disk (each image a few bytes with the sidecar a server writes beside it), then
a store opened on it as a started server opens it. Measured, in ms: the first listing of a started server (it reads
the folder), later listings, a lookup by full id and by an 8-character prefix, and a prompt search. Medians; the
first listing is a new store each time.
"""

from __future__ import annotations

import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from mcp_server_images.clock import Clock
from mcp_server_images.imaging.info import ImageInfo
from mcp_server_images.store import LocalStore, NewImage, Operation
from mcp_server_images.store.records import new_record

PNG = ImageInfo(mime_type="image/png", width=1024, height=1024, has_alpha=False)


def write_folder(root: Path, images: int) -> list[str]:
    """`images` images of the last days, each file and its sidecar; their ids, oldest first."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    ids = []
    for number in range(images):
        meta = NewImage(prompt=f"a fox number {number} in the snow", model="gpt-image-2", operation=Operation.GENERATE)
        image_id = secrets.token_hex(4)
        now = start + timedelta(seconds=number)
        record = new_record(meta, PNG, image_id=image_id, size=8, locate=lambda name: str(root / name), now=now)
        (root / record.name).write_bytes(b"\x89PNG....")
        (root / record.sidecar_name).write_text(json.dumps(record.sidecar()))
        ids.append(image_id)
    return ids


def timed_ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def started(root: Path, clock: Clock) -> LocalStore:
    """The store as a server opens it at its start: stale temporaries are swept before the first listing."""
    store = LocalStore(root, clock)
    store.remove_stale_temporaries()
    return store


def store_ms(images: int, runs: int) -> dict[str, float]:
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ids = write_folder(root, images)
        first = statistics.median(timed_ms(partial(started(root, clock).recent, limit=20)) for _ in range(runs))
        store = started(root, clock)
        store.recent(limit=20)
        wanted = [ids[len(ids) * run // runs] for run in range(runs)]
        return {
            "first_list_ms": first,
            "later_list_ms": statistics.median(timed_ms(lambda: store.recent(limit=20)) for _ in range(runs)),
            "id_ms": statistics.median(timed_ms(partial(store.get, image_id)) for image_id in wanted),
            "prefix_ms": statistics.median(timed_ms(partial(store.get, image_id[:6])) for image_id in wanted),
            "search_ms": statistics.median(
                timed_ms(lambda: store.recent(limit=20, query=f"number {images // 2} ")) for _ in range(runs)
            ),
        }
