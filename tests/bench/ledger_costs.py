"""A capped call's reservation on a month of many ledger entries, on the local store.

The month is written straight into the store's folder (as servers would have written it, without the per-entry
sync that makes real appends durable), then one ledger reads it once, as a server that ran all month did, leaving
the month's checkpoint. Measured: the first reservation of a server started afterwards (it reads the checkpoint and
the entries after it), and later reservations of a running one.
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from pathlib import Path

from mcp_server_images.clock import Clock
from mcp_server_images.operations.ledger import Caps, Ledger
from mcp_server_images.operations.ledger_totals import Spent
from mcp_server_images.store import LocalStore
from mcp_server_images.store.base import LedgerEntry, encode_entry, ledger_name


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
    now = clock.now()
    caps = Caps(daily=1e9)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_month(root, now.strftime("%Y-%m"), now.isoformat(), entries)
        Ledger(LocalStore(root, clock), caps, clock).spent()  # the server that ran all month
        first = [
            reservation(Ledger(LocalStore(root, clock), caps, clock, instance=f"b{run}"), clock) for run in range(runs)
        ]
        running = Ledger(LocalStore(root, clock), caps, clock)
        reservation(running, clock)
        later = [reservation(running, clock) for _ in range(runs)]
    return {"first_ms": statistics.median(first) * 1000, "later_ms": statistics.median(later) * 1000}
