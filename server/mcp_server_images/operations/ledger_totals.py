"""A month of the spend ledger folded into running totals, so that a call reads only the entries written since.

The ledger is append-only and its entries never change, so what entries 0..N add up to never changes either: a
checkpoint keeps that (the month's spend by day, user, provider and model; the reservations not yet closed, as
they are; the recent costs per image that learned estimates use; each model's costs), and the next reader folds
in only the entries after N. The fold is exactly what reading the whole month gives: a call counts once, at its
latest amount; a reservation still open is kept whole, because whether it is pending or of unknown cost depends on
the moment it is read (ledger.Unsettled). Any process may write a checkpoint, and any checkpoint is right; a
damaged one is ignored (the month is then read from its first entry).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..clock import recorded_moment
from ..store.base import LedgerEntry
from . import learned

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 64
"""Entries folded in between two checkpoints a process writes: a reader reads at most about this many entries
more than were written since the last call."""
UNKNOWN_PROVIDER = "(unknown)"
"""Where spend recorded before entries named their provider is counted."""
NOT_SIGNED_IN = "(not signed in)"

Group = tuple[str, str | None, str | None, str]
"""Closed calls' spend is kept by (day, user, provider, model): enough to answer any day's and any user's totals."""


@dataclass
class Spent:
    """Totals of a ledger for one day and its month (UTC)."""

    today: float = 0.0
    month: float = 0.0
    user_today: float = 0.0
    user_month: float = 0.0
    images: int = 0
    calls: int = 0
    unknown_calls: int = 0
    """Calls of unknown cost: no usage or no published price, or reserved by a process that is gone."""
    pending_calls: int = 0
    """Calls reserved and not yet settled that may still be running (counted at their estimate)."""
    by_model: dict[str, float] = field(default_factory=dict)
    by_user: dict[str, float] = field(default_factory=dict)
    by_provider: dict[str, float] = field(default_factory=dict)
    """The month's spend by provider name ("(unknown)" for entries older than the field)."""
    by_provider_today: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Unsettled:
    """How to tell a reservation whose call may still be running from one whose process is gone."""

    instance: str
    """This process's name in the ledger."""
    running: frozenset[str] = frozenset()
    """The reservations this process has made and not yet closed."""
    lasts: timedelta = timedelta(hours=1)
    """The longest a call of another process can take: a reservation of another instance older than this is gone."""

    def pending(self, entry: LedgerEntry, now: datetime) -> bool:
        if entry.instance == self.instance:
            return entry.id in self.running
        return now - recorded_moment(entry.time) < self.lasts


@dataclass
class Totals:
    amount: float = 0.0
    images: int = 0
    calls: int = 0
    unknown: int = 0
    """Calls of unknown cost among them (counted at what they reserved)."""


@dataclass
class CostSums:
    """One model's exactly priced calls (learned.ModelCosts, summed as they come)."""

    calls: int = 0
    images: int = 0
    spent: float = 0.0
    estimated: float = 0.0
    actual: float = 0.0
    compared: int = 0


@dataclass
class MonthTotals:
    """Entries 0..`through` of one month, folded."""

    through: int = -1
    """The highest entry number folded in (-1: none)."""
    saved: int = -1
    """The `through` of the checkpoint last written or read: when to write the next one."""
    closed: dict[Group, Totals] = field(default_factory=dict)
    open: dict[str, LedgerEntry] = field(default_factory=dict)
    """Reservations without a settle or release yet, by call id."""
    recent: dict[learned.Alike, list[float]] = field(default_factory=dict)
    """The latest exact costs per image of calls alike (at most learned.WINDOW), oldest first: every user's."""
    recent_of: dict[tuple[str | None, learned.Alike], list[float]] = field(default_factory=dict)
    """The same, of each user's own calls."""
    costs: dict[tuple[str | None, str], CostSums] = field(default_factory=dict)
    """Each user's exactly priced calls by model, in order of first use."""

    def add(self, number: int, entry: LedgerEntry) -> None:
        """Fold in entry `number` (entries come in order of their numbers)."""
        self.through = max(self.through, number)
        if entry.kind == "reserve":
            self.open[entry.id] = entry
            return
        if entry.kind == "settle":
            self._learn(entry)
        reserved = self.open.pop(entry.id, None)
        unknown = entry.kind == "settle" and entry.amount is None
        if reserved is None:
            call = entry  # a settle written while no cap was set, before reservations were always recorded
        else:
            amount = reserved.amount if unknown else entry.amount
            call = replace(reserved, kind=entry.kind, amount=amount, images=entry.images, exact=entry.exact)
        if call.kind == "release":
            return
        totals = self.closed.setdefault((call.time[:10], call.user, call.provider, call.model or "unknown"), Totals())
        totals.amount += call.amount or 0.0
        totals.images += call.images
        totals.calls += 1
        totals.unknown += unknown or call.amount is None

    def _learn(self, entry: LedgerEntry) -> None:
        if not entry.exact or entry.amount is None:
            return
        if entry.images > 0:
            alike = learned.Alike.of_entry(entry)
            for window in (self.recent.setdefault(alike, []), self.recent_of.setdefault((entry.user, alike), [])):
                window.append(entry.amount / entry.images)
                del window[: -learned.WINDOW]
        sums = self.costs.setdefault((entry.user, entry.model or "unknown"), CostSums())
        sums.calls += 1
        sums.images += entry.images
        sums.spent += entry.amount
        if entry.estimate is not None:
            sums.estimated += entry.estimate
            sums.actual += entry.amount
            sums.compared += 1

    def spent(
        self, now: datetime, user: str | None = None, unsettled: Unsettled | None = None, *, own: bool = False
    ) -> Spent:
        """What the month adds up to on `now`'s day (with `user`'s share); with `own`, of `user`'s calls only."""
        spent = Spent()
        day = now.strftime("%Y-%m-%d")
        for (when, who, provider, model), totals in self.closed.items():
            if own and who != user:
                continue
            spent.calls += totals.calls
            spent.images += totals.images
            spent.unknown_calls += totals.unknown
            theirs = user is not None and who == user
            _count(spent, totals.amount, today=when == day, theirs=theirs, who=who, provider=provider, model=model)
        for entry in self.open.values():
            if own and entry.user != user:
                continue
            pending = unsettled is not None and unsettled.pending(entry, now)
            spent.calls += 1
            spent.images += entry.images
            spent.pending_calls += pending
            spent.unknown_calls += entry.amount is None or (unsettled is not None and not pending)
            _count(
                spent,
                entry.amount or 0.0,
                today=entry.time.startswith(day),
                theirs=user is not None and entry.user == user,
                who=entry.user,
                provider=entry.provider,
                model=entry.model or "unknown",
            )
        return spent

    def recent_costs(self, alike: learned.Alike, user: str | None) -> list[float]:
        """The latest exact costs per image of calls alike: `user`'s own, or everyone's for None."""
        return list(self.recent.get(alike, []) if user is None else self.recent_of.get((user, alike), []))

    def model_costs(self, user: str | None) -> list[learned.ModelCosts]:
        """Per model, in order of first use, the exactly priced calls: `user`'s own, or everyone's for None."""
        by_model: dict[str, CostSums] = {}
        for (who, model), sums in self.costs.items():
            if user is not None and who != user:
                continue
            total = by_model.setdefault(model, CostSums())
            for name, value in asdict(sums).items():
                setattr(total, name, getattr(total, name) + value)
        return [learned.ModelCosts(model=model, **asdict(sums)) for model, sums in by_model.items()]

    def encode(self) -> bytes:
        return json.dumps(
            {
                "through": self.through,
                "closed": [[*group, *asdict(totals).values()] for group, totals in self.closed.items()],
                "open": [asdict(entry) for entry in self.open.values()],
                "recent": [[*asdict(alike).values(), costs] for alike, costs in self.recent.items()],
                "recent_of": [
                    [user, *asdict(alike).values(), costs] for (user, alike), costs in self.recent_of.items()
                ],
                "costs": [[user, model, *asdict(sums).values()] for (user, model), sums in self.costs.items()],
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes | None, where: str) -> MonthTotals:
        """The checkpoint `raw`, or empty totals (read from the first entry) when there is none or it is damaged."""
        if raw is None:
            return cls()
        try:
            data: dict[str, Any] = json.loads(raw)
            through = int(data["through"])
            return cls(
                through=through,
                saved=through,
                closed={
                    (g[0], g[1], g[2], g[3]): Totals(float(g[4]), int(g[5]), int(g[6]), int(g[7]))
                    for g in data["closed"]
                },
                open={entry["id"]: LedgerEntry(**entry) for entry in data["open"]},
                recent={learned.Alike(*row[:5]): [float(c) for c in row[5]] for row in data["recent"]},
                recent_of={(row[0], learned.Alike(*row[1:6])): [float(c) for c in row[6]] for row in data["recent_of"]},
                costs={(row[0], row[1]): CostSums(*row[2:]) for row in data["costs"]},
            )
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning(
                "ignoring damaged ledger checkpoint %s (the month is read from its first entry): %s", where, exc
            )
            return cls()


def _count(
    spent: Spent, amount: float, *, today: bool, theirs: bool, who: str | None, provider: str | None, model: str
) -> None:
    spent.month += amount
    spent.today += amount if today else 0.0
    if theirs:
        spent.user_month += amount
        spent.user_today += amount if today else 0.0
    spent.by_model[model] = spent.by_model.get(model, 0.0) + amount
    spent.by_user[who or NOT_SIGNED_IN] = spent.by_user.get(who or NOT_SIGNED_IN, 0.0) + amount
    name = provider or UNKNOWN_PROVIDER
    spent.by_provider[name] = spent.by_provider.get(name, 0.0) + amount
    if today:
        spent.by_provider_today[name] = spent.by_provider_today.get(name, 0.0) + amount
