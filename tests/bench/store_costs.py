"""What the stores' read paths cost on a folder or a bucket of many images.

The folder is written straight to disk (each image a few bytes with the sidecar a server writes beside it), then
a store opened on it as a started server opens it. The bucket gets what its index is read from, as a server that
stored the images would have left it: the latest snapshot of the index and the journal entries written since the
snapshot before it. Its images and sidecars are not written: no read measured here touches them (they are read
only to reconcile, in the sweep), and putting 200,000 objects would take SeaweedFS minutes on a small machine.

Measured, in ms: the first listing of a started server, its store opened then as a server opens it at its first
use (the local store sweeps stale temporaries and reads its folder's index; an S3 instance restarted on its machine
reads its cache and the journal's new entries), later listings, a lookup by full id and by an 8-character prefix,
and two prompt searches. Medians; the first listing is a new store each time. The S3 figures ask the journal at
every read (`index_ttl` 0), the most a read can cost; a new machine's first listing (no cache: it loads the
snapshot) and the time to write the bucket are reported beside them.
"""

from __future__ import annotations

import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import obstore

from mcp_server_images.clock import Clock
from mcp_server_images.imaging.info import ImageInfo
from mcp_server_images.store import ImageRecord, LocalStore, NewImage, Operation, Store
from mcp_server_images.store.records import new_record
from mcp_server_images.store.s3_index import (
    SNAPSHOT_EVERY,
    encode_changes,
    encode_snapshot,
    journal_key,
    sidecar_text,
    snapshot_key,
)
from tests.support.s3 import S3Server, team_store

PNG = ImageInfo(mime_type="image/png", width=1024, height=1024, has_alpha=False)


PAGE = 20
"""Images a listing or a search asks for."""
PHRASE = "lighthouse"
"""A word held by the prompts of PAGE images spread through the store, whatever its size (a user looking for the
images of one subject); every other prompt is of a numbered fox in the snow."""


def prompt_of(number: int, images: int) -> str:
    if number % (images // PAGE) == 0:
        return f"a {PHRASE} number {number} at dusk"
    return f"a fox number {number} in the snow"


def images_of(images: int, locate: Callable[[str], str]) -> list[ImageRecord]:
    """`images` records of the last days, oldest first."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    records = []
    for number in range(images):
        meta = NewImage(prompt=prompt_of(number, images), model="gpt-image-2", operation=Operation.GENERATE)
        now = start + timedelta(seconds=number)
        records.append(new_record(meta, PNG, image_id=secrets.token_hex(4), size=8, locate=locate, now=now))
    return records


def write_folder(root: Path, images: int) -> list[str]:
    """`images` images of the last days, each file and its sidecar; their ids, oldest first."""
    records = images_of(images, lambda name: str(root / name))
    for record in records:
        (root / record.name).write_bytes(b"\x89PNG....")
        (root / record.sidecar_name).write_text(json.dumps(record.sidecar()))
    return [record.id for record in records]


def write_bucket_index(s3: S3Server, prefix: str, images: int) -> list[str]:
    """The index of `images` images as the bucket holds it after the server stored them one by one: a snapshot of
    all of them, and the entries since the snapshot before it. Their ids, oldest first."""
    records = images_of(images, f"s3://{s3.bucket}/{prefix}".__add__)
    bucket = s3.bucket_view(prefix)
    obstore.put(bucket, snapshot_key(images), encode_snapshot(images - 1, map(sidecar_text, records)))
    since = range(max(0, images - SNAPSHOT_EVERY), images)
    entries = [encode_changes([records[number]], []) for number in since]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(obstore.put, [bucket] * len(since), map(journal_key, since), entries))
    return [record.id for record in records]


def timed_ms(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def started(root: Path, clock: Clock) -> LocalStore:
    """The store as a server opens it at its start: stale temporaries are swept before the first listing."""
    store = LocalStore(root, clock)
    store.remove_stale_temporaries()
    return store


def first_listing(root: Path, clock: Clock) -> None:
    """A started server's first list_images: its store is opened (and swept) at that first use."""
    started(root, clock).recent(limit=PAGE)


def first_bucket_listing(s3: S3Server, prefix: str, cache: Path, clock: Clock) -> None:
    """An S3 instance's first list_images after its start: its store is opened then."""
    team_store(s3, prefix, cache, clock).recent(limit=PAGE)


def store_ms(images: int, runs: int) -> dict[str, float]:
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ids = write_folder(root, images)
        first = statistics.median(timed_ms(partial(first_listing, root, clock)) for _ in range(runs))
        return {"first_list_ms": first, **reads_ms(started(root, clock), ids, images, runs)}


def bucket_store_ms(s3: S3Server, images: int, runs: int) -> dict[str, float]:
    """The S3 store's figures; its instances keep their index caches in a folder of their own."""
    clock = Clock()
    prefix = f"bench-images-{images}/"
    began = time.perf_counter()
    ids = write_bucket_index(s3, prefix, images)
    written = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        new_machine = timed_ms(partial(first_bucket_listing, s3, prefix, cache, clock))
        first = [timed_ms(partial(first_bucket_listing, s3, prefix, cache, clock)) for _ in range(runs)]
        return {
            "written_s": written,
            "new_machine_list_ms": new_machine,
            "first_list_ms": statistics.median(first),
            **reads_ms(team_store(s3, prefix, cache, clock), ids, images, runs),
        }


def reads_ms(store: Store, ids: list[str], images: int, runs: int) -> dict[str, float]:
    """Later listings, lookups and searches on a store that has listed once. The phrase search finds PAGE images in
    a store of any size; the number search finds the one image of a number, but the trigrams of its query are in
    more prompts the more numbers there are (" 50" starts 11 of 1,000 numbers and 1,111 of 100,000): it shows that
    a search costs what its candidates cost, not what the store's size does."""
    store.recent(limit=PAGE)
    wanted = [ids[len(ids) * run // runs] for run in range(runs)]
    return {
        "later_list_ms": statistics.median(timed_ms(partial(store.recent, limit=PAGE)) for _ in range(runs)),
        "id_ms": statistics.median(timed_ms(partial(store.get, image_id)) for image_id in wanted),
        "prefix_ms": statistics.median(timed_ms(partial(store.get, image_id[:6])) for image_id in wanted),
        "search_ms": statistics.median(timed_ms(partial(store.recent, limit=PAGE, query=PHRASE)) for _ in range(runs)),
        "number_search_ms": statistics.median(
            timed_ms(partial(store.recent, limit=PAGE, query=f"number {images // 2} ")) for _ in range(runs)
        ),
    }
