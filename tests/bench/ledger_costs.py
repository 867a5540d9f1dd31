"""A capped call's reservation on a month of many ledger entries, on the local store and on the S3 store.

The month is written straight into the store's folder (as servers would have written it, without the per-entry
sync that makes real appends durable), then one ledger reads it once, as a server that ran all month did, leaving
the month's checkpoint. The bucket gets the same entries, one object each (put several at once), and that
checkpoint: the entries are what a month of calls leaves, so all of them are written. Measured: the first
reservation of a server started afterwards (it reads the checkpoint and the entries after it), and later
reservations of a running one.
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import obstore

from mcp_server_images.clock import Clock
from mcp_server_images.operations.ledger import Caps, Ledger
from mcp_server_images.operations.ledger_totals import Spent
from mcp_server_images.store import LocalStore, Store
from mcp_server_images.store.base import LEDGER_CHECKPOINT, LedgerEntry, encode_entry, ledger_name
from tests.support.s3 import S3Server, team_store


def write_month(root: Path, month: str, when: str, calls: int) -> None:
    """`calls` calls of three users, each a reservation and its settle, numbered as appends number them."""
    folder = root / ".ledger" / month
    folder.mkdir(parents=True)
    for call in range(calls // 2):
        user = f"user-{call % 3}"
        reserve = LedgerEntry(id=f"c{call}", kind="reserve", time=when, amount=0.04, model="gpt-image-2", user=user)
        settle = LedgerEntry(
            id=f"c{call}", kind="settle", time=when, amount=0.03, model="gpt-image-2", user=user, images=1, exact=True
        )
        (folder / ledger_name(2 * call)).write_bytes(encode_entry(reserve))
        (folder / ledger_name(2 * call + 1)).write_bytes(encode_entry(settle))


def within_budget(spent: Spent) -> str | None:
    return None if spent.today < 1e9 else "over"


def reservation(ledger: Ledger, clock: Clock) -> float:
    """Seconds to check the caps against the month and append one reservation."""
    now = clock.now()
    entry = LedgerEntry(
        id=secrets.token_hex(8), kind="reserve", time=now.isoformat(), amount=0.04, model="gpt-image-2", user="bench"
    )
    started = time.perf_counter()
    ledger.append(entry, within_budget)
    return time.perf_counter() - started


def reservation_ms(entries: int, runs: int) -> dict[str, float]:
    """Median ms of a started server's first reservation, and of a running server's later ones."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_checkpointed_month(root, clock, entries)
        return reservations_ms([LocalStore(root, clock) for _ in range(runs + 1)], clock)


def bucket_reservation_ms(s3: S3Server, entries: int, runs: int) -> dict[str, float]:
    """The same on the S3 store; also how long writing the month into the bucket took."""
    clock = Clock()
    month = clock.now().strftime("%Y-%m")
    prefix = f"bench-ledger-{entries}/"
    bucket = s3.bucket_view(prefix)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_checkpointed_month(root, clock, entries)
        began = time.perf_counter()
        files = sorted((root / ".ledger" / month).iterdir())
        keys = [f"ledger/{month}/{file.name}" for file in files]
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(obstore.put, [bucket] * len(files), keys, [file.read_bytes() for file in files]))
        written = time.perf_counter() - began
        stores: list[Store] = [team_store(s3, prefix, root / f"cache-{run}", clock) for run in range(runs + 1)]
        return {"written_s": written, **reservations_ms(stores, clock)}


def write_checkpointed_month(root: Path, clock: Clock, entries: int) -> None:
    """The month, and its checkpoint as a server that ran all month leaves it."""
    now = clock.now()
    write_month(root, now.strftime("%Y-%m"), now.isoformat(), entries)
    Ledger(LocalStore(root, clock), Caps(daily=1e9), clock).spent()
    assert (root / ".ledger" / now.strftime("%Y-%m") / LEDGER_CHECKPOINT).is_file()


def reservations_ms(stores: list[Store], clock: Clock) -> dict[str, float]:
    """The first reservation of a server started on each store but the last; then later ones on the last."""
    caps = Caps(daily=1e9)
    *starting, last = stores
    first = [reservation(Ledger(store, caps, clock, instance=f"b{run}"), clock) for run, store in enumerate(starting)]
    running = Ledger(last, caps, clock)
    reservation(running, clock)
    later = [reservation(running, clock) for _ in starting]
    return {"first_ms": statistics.median(first) * 1000, "later_ms": statistics.median(later) * 1000}
