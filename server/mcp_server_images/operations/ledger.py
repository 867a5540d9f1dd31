"""Budgets that refuse before paying, and the spend ledger they are checked against.

Every call that would reach the image API first reserves its estimate in the store's ledger, budget or not, so a
paid request is on record before it is sent (and a process that dies mid-request leaves it there); with caps in
force the reservation is checked against them together with what was already spent. Then the call settles the
reservation with the actual cost (or releases it when nothing came back). The check and the reservation are one
step: the ledger is an append-only sequence of numbered entries that each store creates atomically
(create-if-absent), so a process that read entries up to k and writes k+1 knows nobody wrote in between, and two
processes on one store can neither both pass a cap nor lose or double an entry.

A reservation not yet settled is pending while its call may still be running; once its process is gone (this
process did not make it, or it is older than any call can take) its cost is unknown. Both stay counted at their
estimate (erring on the safe side). Days and months are UTC. Unknown amounts (no usage, no published price) count
as nothing against a cap; a cap that is already used up still refuses every call.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import anyio

from ..clock import Clock
from ..errors import ImageServerError
from ..providers import Budget
from ..store import Store
from ..store.base import LedgerEntry
from .cost import Cost, Estimate, usd

UNKNOWN_PROVIDER = "(unknown)"
"""Where spend recorded before entries named their provider is counted."""
APPEND_ATTEMPTS = 200
"""Numbers tried before giving up on a ledger other writers keep taking; each try re-reads and re-checks."""


class BudgetError(ImageServerError):
    """A cap refused the call before any request: nothing was paid."""


@dataclass(frozen=True)
class Quote:
    """What a call is about to send, and its estimate: shown by dry_run, asked about, and reserved."""

    operation: str
    model: str
    endpoint: str
    parameters: dict[str, Any]
    requests: int
    estimate: Estimate
    provider: str | None = None
    """The name of the provider the call goes to."""

    def public(self) -> dict[str, Any]:
        shown = {
            "operation": self.operation,
            "model": self.model,
            "endpoint": self.endpoint,
            "parameters": self.parameters,
            "requests": self.requests,
        }
        return shown | ({"provider": self.provider} if self.provider else {})

    def describe(self) -> str:
        shown = ", ".join(f"{key} {value}" for key, value in self.parameters.items())
        requests = f" as {self.requests} concurrent requests" if self.requests > 1 else ""
        return f"{self.operation} with {self.model} on /{self.endpoint}{requests} ({shown})"


class Reservation(Protocol):
    async def settle(self, cost: Cost | None, images: int) -> None: ...

    async def release(self) -> None: ...


class Spending(Protocol):
    """Asked right before a call reaches the image API; raises to stop it (a budget, a dry run)."""

    async def reserve(self, quote: Quote) -> Reservation: ...


class _Nothing:
    async def settle(self, cost: Cost | None, images: int) -> None:
        return None

    async def release(self) -> None:
        return None


class Unmetered:
    """No ledger: for use cases driven without a server (tests, a future CLI)."""

    async def reserve(self, quote: Quote) -> Reservation:
        return _Nothing()


@dataclass(frozen=True)
class Caps:
    """The budgets in USD; None is no cap. User caps apply to each signed-in user, provider caps to the calls to
    that provider, on top of the totals."""

    per_call: float | None = None
    daily: float | None = None
    monthly: float | None = None
    user_daily: float | None = None
    user_monthly: float | None = None
    confirm_above: float | None = None
    providers: Mapping[str, Budget] = field(default_factory=dict)
    """By provider name, its own daily and monthly caps (a providers file's daily_budget, monthly_budget)."""

    def capped(self, provider: str | None) -> bool:
        """Whether any spending cap is in force for a call to `provider` (the confirmation threshold is not a
        cap; another provider's own budget does not apply)."""
        own = self.providers.get(provider or "")
        return any(
            cap is not None
            for cap in (
                *(self.per_call, self.daily, self.monthly, self.user_daily, self.user_monthly),
                *((own.daily, own.monthly) if own is not None else ()),
            )
        )


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
        return now - _moment(entry.time) < self.lasts


def _moment(time: str) -> datetime:
    moment = datetime.fromisoformat(time)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def tally(
    entries: list[LedgerEntry], now: datetime, user: str | None = None, unsettled: Unsettled | None = None
) -> Spent:
    """What the month's entries add up to: each call counts once, at its latest amount (a reservation not yet
    settled at its estimate, pending or of unknown cost by `unsettled`; older ledgers have calls made while no cap
    was set with only their settle entry)."""
    latest: dict[str, LedgerEntry] = {}
    for entry in entries:
        if entry.kind == "reserve" or entry.id not in latest:
            latest[entry.id] = entry
        else:
            latest[entry.id] = replace(
                latest[entry.id], kind=entry.kind, amount=entry.amount, images=entry.images, exact=entry.exact
            )
    spent = Spent()
    day = now.strftime("%Y-%m-%d")
    for entry in latest.values():
        if entry.kind == "release":
            continue
        amount = entry.amount or 0.0
        spent.calls += 1
        spent.images += entry.images
        open_ = entry.kind == "reserve" and unsettled is not None
        pending = open_ and unsettled is not None and unsettled.pending(entry, now)
        spent.pending_calls += pending
        spent.unknown_calls += entry.amount is None or (open_ and not pending)
        spent.month += amount
        today = entry.time.startswith(day)
        spent.today += amount if today else 0.0
        if user is not None and entry.user == user:
            spent.user_month += amount
            spent.user_today += amount if today else 0.0
        spent.by_model[entry.model or "unknown"] = spent.by_model.get(entry.model or "unknown", 0.0) + amount
        who = entry.user or "(not signed in)"
        spent.by_user[who] = spent.by_user.get(who, 0.0) + amount
        provider = entry.provider or UNKNOWN_PROVIDER
        spent.by_provider[provider] = spent.by_provider.get(provider, 0.0) + amount
        if today:
            spent.by_provider_today[provider] = spent.by_provider_today.get(provider, 0.0) + amount
    return spent


def next_day(now: datetime) -> datetime:
    return datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)


def next_month(now: datetime) -> datetime:
    return datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Limit:
    name: str
    cap: float
    spent: float
    resets: datetime | None
    flag: str


def _limits(caps: Caps, spent: Spent, now: datetime, user: str | None, provider: str | None) -> list[_Limit]:
    limits = []
    own = caps.providers.get(provider or "")
    if own is not None and own.daily is not None:
        spent_today = spent.by_provider_today.get(provider or "", 0.0)
        limits.append(_Limit(f"daily budget of provider {provider}", own.daily, spent_today, next_day(now), ""))
    if own is not None and own.monthly is not None:
        spent_month = spent.by_provider.get(provider or "", 0.0)
        limits.append(_Limit(f"monthly budget of provider {provider}", own.monthly, spent_month, next_month(now), ""))
    if caps.daily is not None:
        limits.append(_Limit("daily budget", caps.daily, spent.today, next_day(now), "daily-budget"))
    if caps.monthly is not None:
        limits.append(_Limit("monthly budget", caps.monthly, spent.month, next_month(now), "monthly-budget"))
    if user is not None and caps.user_daily is not None:
        who = f"daily budget of user {user}"
        limits.append(_Limit(who, caps.user_daily, spent.user_today, next_day(now), "user-daily-budget"))
    if user is not None and caps.user_monthly is not None:
        who = f"monthly budget of user {user}"
        limits.append(_Limit(who, caps.user_monthly, spent.user_month, next_month(now), "user-monthly-budget"))
    return limits


def refusal(
    caps: Caps, estimate: Estimate, spent: Spent, now: datetime, user: str | None, provider: str | None = None
) -> str | None:
    """Why the call may not be made, or None. Unknown estimates count as nothing: only a used-up cap refuses them."""
    amount = estimate.amount or 0.0
    if caps.per_call is not None and amount > caps.per_call:
        return (
            f"Refused before any request: this call is estimated at {usd(amount)} ({estimate.basis}), above the "
            f"per-call cap of {usd(caps.per_call)}. Ask for fewer or smaller images or a lower quality, or raise "
            f"the cap with --max-cost-per-call (MCP_IMAGES_MAX_COST_PER_CALL)."
        )
    for limit in _limits(caps, spent, now, user, provider):
        if limit.spent + amount > limit.cap or limit.spent >= limit.cap:
            remaining = max(limit.cap - limit.spent, 0.0)
            resets = limit.resets.strftime("%Y-%m-%d %H:%M UTC") if limit.resets else "never"
            env = "MCP_IMAGES_" + limit.flag.upper().replace("-", "_")
            raise_it = f"--{limit.flag} ({env})" if limit.flag else "its budget in the providers file"
            return (
                f"Refused before any request: this call is estimated at {usd(estimate.amount)}, and "
                f"{usd(limit.spent)} of the {limit.name} of {usd(limit.cap)} is spent, so {usd(remaining)} remains. "
                f"It resets at {resets}. To allow more, raise {raise_it}, or ask for a cheaper call "
                "(fewer or smaller images, lower quality); dry_run: true shows what a call would cost."
            )
    return None


@dataclass
class LedgerReservation:
    ledger: Ledger
    entry: LedgerEntry
    done: bool = False

    async def settle(self, cost: Cost | None, images: int) -> None:
        amount = cost.amount if cost is not None else None
        exact = cost.exact if cost is not None else False
        await self._close(replace(self.entry, kind="settle", amount=amount, images=images, exact=exact))

    async def release(self) -> None:
        await self._close(replace(self.entry, kind="release", amount=0.0))

    async def _close(self, entry: LedgerEntry) -> None:
        if self.done:
            return
        self.done = True
        try:
            await anyio.to_thread.run_sync(self.ledger.append, entry, None)
        finally:
            self.ledger.running.discard(entry.id)


@dataclass(frozen=True)
class Ledger:
    """The spend ledger in a store, with the caps it enforces."""

    store: Store
    caps: Caps
    clock: Clock
    """The server's clock: which day and month a call counts in."""
    instance: str = "this server"
    """This process's name in the entries it writes (settings.instance())."""
    call_lasts: timedelta = timedelta(hours=1)
    """The longest a call can take (retries and the shutdown grace included): another instance's reservation older
    than this belongs to a call that will never settle."""
    running: set[str] = field(default_factory=set, compare=False, repr=False)
    """The reservations this process made and has not closed yet: their calls may still be running."""
    _appending: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    """One append at a time in this process: concurrent calls would otherwise all race for the same number and
    retry, each retry a scan and a synced write. Other processes sharing the store still race, and retry."""
    _next: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    """The number after this process's last entry, by month: where an unchecked entry is tried first."""

    def spent(self, user: str | None = None) -> Spent:
        now = self.clock.now()
        return tally(list(self.store.ledger(now.strftime("%Y-%m")).values()), now, user, self.unsettled())

    def unsettled(self) -> Unsettled:
        return Unsettled(self.instance, frozenset(self.running), self.call_lasts)

    def append(self, entry: LedgerEntry, check: Callable[[Spent], str | None] | None) -> None:
        """Append `entry` to its month, after `check` passed on everything written before it (raises BudgetError)."""
        month = entry.time[:7]
        now = self.clock.now()
        with self._appending:
            self._append(entry, check, month, now)

    def _append(
        self, entry: LedgerEntry, check: Callable[[Spent], str | None] | None, month: str, now: datetime
    ) -> None:
        for attempt in range(APPEND_ATTEMPTS):
            if check is None and attempt == 0 and month in self._next:
                # Nothing to check (a settle, or no cap): no need to read the month first. Should another
                # process have taken the number, the next attempt reads the month and takes the next free one.
                number = self._next[month]
            else:
                entries = self.store.ledger(month)
                if check is not None:
                    problem = check(tally(list(entries.values()), now, entry.user))
                    if problem is not None:
                        raise BudgetError(problem)
                number = max(entries, default=-1) + 1
            if self.store.append_ledger(month, number, entry):
                self._next[month] = number + 1
                return
        raise ImageServerError(f"The spend ledger in {self.store.location} is too busy to record this call; try again.")

    def for_user(self, user: str | None) -> Spending:
        return _Metered(self, user)


@dataclass(frozen=True)
class _Metered:
    ledger: Ledger
    user: str | None

    async def reserve(self, quote: Quote) -> Reservation:
        """Record the call's estimate before anything is sent; with caps in force, only if they allow it."""
        now = self.ledger.clock.now()
        entry = LedgerEntry(
            id=secrets.token_hex(8),
            kind="reserve",
            time=now.isoformat(timespec="microseconds"),
            amount=quote.estimate.amount,
            model=quote.model,
            user=self.user,
            instance=self.ledger.instance,
            provider=quote.provider,
        )
        caps = self.ledger.caps

        def check(spent: Spent) -> str | None:
            return refusal(caps, quote.estimate, spent, now, self.user, quote.provider)

        self.ledger.running.add(entry.id)
        try:
            await anyio.to_thread.run_sync(self.ledger.append, entry, check if caps.capped(quote.provider) else None)
        except BaseException:
            self.ledger.running.discard(entry.id)
            raise
        return LedgerReservation(self.ledger, entry)
