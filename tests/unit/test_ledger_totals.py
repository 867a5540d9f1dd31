"""A checkpoint changes nothing: totals folded up to it, saved, read back and folded on are the totals of the whole
month, for any mix of reservations, settles (of known and unknown cost), releases, users, days and providers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mcp_server_images.operations.ledger_totals import MonthTotals, Unsettled
from mcp_server_images.store.base import LedgerEntry

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


@st.composite
def months(draw: st.DrawFn) -> list[LedgerEntry]:
    """Calls in order of their reservations; each is settled, released or left open, its close written later."""
    entries: list[LedgerEntry] = []
    closes: list[LedgerEntry] = []
    for call in range(draw(st.integers(0, 30))):
        time = (NOW - timedelta(hours=draw(st.sampled_from([0, 2, 30])))).isoformat()
        reserve = LedgerEntry(
            id=f"c{call}",
            kind="reserve",
            time=time,
            amount=draw(st.sampled_from([None, 0.05, 0.2])),
            model=draw(st.sampled_from([None, "gpt-image-2", "acme/x"])),
            user=draw(st.sampled_from([None, "ana", "bo"])),
            provider=draw(st.sampled_from([None, "openai", "local"])),
            instance=draw(st.sampled_from(["here", "elsewhere"])),
            estimate=draw(st.sampled_from([None, 0.04])),
            quality=draw(st.sampled_from([None, "high"])),
        )
        entries.append(reserve)
        close = draw(st.sampled_from(["settle", "unknown", "release", "open"]))
        if close == "settle":
            amount = draw(st.sampled_from([0.0, 0.03, 0.12]))
            closes.append(replace(reserve, kind="settle", amount=amount, images=2, exact=True))
        elif close == "unknown":
            closes.append(replace(reserve, kind="settle", amount=None, images=1))
        elif close == "release":
            closes.append(replace(reserve, kind="release", amount=0.0))
        write_a_close: bool = draw(st.booleans())
        if closes and write_a_close:
            entries.append(closes.pop(0))
    return entries + closes


def folded(entries: list[LedgerEntry], start: MonthTotals | None = None, first: int = 0) -> MonthTotals:
    totals = start or MonthTotals()
    for number, entry in enumerate(entries, start=first):
        totals.add(number, entry)
    return totals


@given(months(), st.integers(0, 60))
def test_a_checkpoint_anywhere_gives_the_totals_of_the_whole_month(entries: list[LedgerEntry], cut: int) -> None:
    cut = min(cut, len(entries))
    whole = folded(entries)
    saved = folded(entries[:cut]).encode()
    resumed = folded(entries[cut:], MonthTotals.decode(saved, "test"), first=cut)
    unsettled = Unsettled("here", frozenset({"c1", "c2"}), timedelta(hours=1))

    for user in (None, "ana", "bo"):
        assert resumed.spent(NOW, user, unsettled) == whole.spent(NOW, user, unsettled)
        assert resumed.spent(NOW, user) == whole.spent(NOW, user)
        assert resumed.model_costs(user) == whole.model_costs(user)
    assert resumed.spent(NOW, "ana", unsettled, own=True) == whole.spent(NOW, "ana", unsettled, own=True)
    assert (resumed.recent, resumed.recent_of) == (whole.recent, whole.recent_of)
    assert resumed.through == whole.through == len(entries) - 1
