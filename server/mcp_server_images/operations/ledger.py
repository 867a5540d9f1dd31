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
estimate (erring on the safe side), and so does a call settled with an unknown cost (no usage, no published
price). Days and months are UTC.

A cap is a limit: while any cap is set, a call whose cost cannot be estimated (an unpublished quality, a gateway's
own model) reserves its worst case, its images at the catalog's highest per-image figure (or
MCP_IMAGES_UNKNOWN_COST_PER_IMAGE) scaled to their size, so neither concurrency nor confirm_cost lets such calls
past a cap.

A call reads only what was written since it last read: each month's entries are folded into running totals as
they are read (ledger_totals.py), and every so often those totals are saved beside the entries as the month's
checkpoint, so a process that starts on a month of many calls reads the checkpoint and the entries after it.

A quote's estimate is first informed by the costs of earlier calls alike (learned.py), and its entry keeps that
estimate beside the actual cost, so later estimates learn from it; a cap counts the higher of the learned and the
catalog's figure.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import anyio

from ..catalog.spec import REFERENCE_PIXELS
from ..clock import Clock
from ..errors import ImageServerError
from ..providers import Budget
from ..store import Store
from ..store.base import LedgerEntry
from . import learned
from .cost import Cost, Estimate, usd
from .ledger_totals import CHECKPOINT_EVERY, MonthTotals, Spent, Unsettled

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
    images: int = 1
    """How many images the call asks for, over all its requests."""
    pixels: int = REFERENCE_PIXELS
    """The pixels of each: what a worst case scales with."""
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
    """Who pays for a call: asked to inform its quote when it is planned, and to reserve it right before the call
    reaches the image API (raising to stop it: a budget)."""

    async def informed(self, quote: Quote) -> Quote: ...

    async def reserve(self, quote: Quote) -> Reservation: ...


class _Nothing:
    async def settle(self, cost: Cost | None, images: int) -> None:
        return None

    async def release(self) -> None:
        return None


class Unmetered:
    """No ledger: for use cases driven without a server (tests, a future CLI)."""

    async def informed(self, quote: Quote) -> Quote:
        return quote

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
    unknown_per_image: float = 0.0
    """What a 1024x1024 image of a call of unknown cost counts against the caps: the setting, else the catalog's
    highest per-image figure (see services.caps)."""
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

    def counted(self, quote: Quote) -> Estimate:
        """What the call counts against the caps: its estimate, or, while a cap is set and the estimate is unknown,
        its worst case (None when there is no figure to make one from)."""
        estimate = quote.estimate
        if estimate.amount is not None or not self.capped(quote.provider):
            return estimate
        scale = max(quote.pixels / REFERENCE_PIXELS, 1.0)
        amount = quote.images * self.unknown_per_image * scale
        return Estimate(
            amount,
            f"its cost cannot be estimated ({estimate.basis}), so it counts as its worst case: {quote.images} "
            f"image(s) at {usd(self.unknown_per_image)} per 1024x1024 image (the catalog's highest per-image figure, "
            "or MCP_IMAGES_UNKNOWN_COST_PER_IMAGE)" + (f" x {scale:g} for their size" if scale > 1 else ""),
        )


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
    """Why the call may not be made, or None. `estimate` is what the call counts (Caps.counted)."""
    amount = estimate.reserved or 0.0
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
                f"Refused before any request: this call is estimated at {usd(amount)}{_unless(estimate)}, and "
                f"{usd(limit.spent)} of the {limit.name} of {usd(limit.cap)} is spent, so {usd(remaining)} remains. "
                f"It resets at {resets}. To allow more, raise {raise_it}, or ask for a cheaper call "
                "(fewer or smaller images, lower quality); dry_run: true shows what a call would cost."
            )
    return None


def _unless(estimate: Estimate) -> str:
    """The basis of a worst case, which the refusal must explain; an ordinary estimate's basis is in dry runs."""
    return f" ({estimate.basis})" if estimate.basis.startswith("its cost cannot be estimated") else ""


@dataclass
class LedgerReservation:
    ledger: Ledger
    entry: LedgerEntry
    done: bool = False

    async def settle(self, cost: Cost | None, images: int) -> None:
        amount = cost.amount if cost is not None else None
        exact = cost.exact if cost is not None else False
        if amount is not None and not (math.isfinite(amount) and amount >= 0):
            amount, exact = None, False  # never a figure no cap could compare against
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

    _reading: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    """One fold of new entries at a time: the month's totals are shared by every call of this process."""
    _months: dict[str, MonthTotals] = field(default_factory=dict, compare=False, repr=False)
    """What each month's entries read so far add up to (ledger_totals.py)."""

    def spent(self, user: str | None = None) -> Spent:
        now = self.clock.now()
        with self._reading:
            return self._totals(now.strftime("%Y-%m")).spent(now, user, self.unsettled())

    def spent_by(self, user: str) -> tuple[Spent, Spent]:
        """One user's own calls, and everyone's (what the team's caps count)."""
        now = self.clock.now()
        unsettled = self.unsettled()
        with self._reading:
            totals = self._totals(now.strftime("%Y-%m"))
            return totals.spent(now, user, unsettled, own=True), totals.spent(now, user, unsettled)

    def unsettled(self) -> Unsettled:
        return Unsettled(self.instance, frozenset(self.running), self.call_lasts)

    def model_costs(self, user: str | None = None) -> list[learned.ModelCosts]:
        """This month's exact costs per image by model, and how far their estimates were off: of `user`'s own calls
        when given (a user who sees only their own), else of every call."""
        with self._reading:
            return self._totals(self.clock.now().strftime("%Y-%m")).model_costs(user)

    def informed(self, quote: Quote, user: str | None = None) -> Quote:
        """The quote with its estimate taken from the recorded costs of calls alike, when there are enough (this
        month's and last month's); a signed-in user's estimates learn from their own calls only, which is what
        "your last calls" says and what keeps another user's spend out of them."""
        now = self.clock.now()
        last_month = (datetime(now.year, now.month, 1, tzinfo=UTC) - timedelta(days=1)).strftime("%Y-%m")
        alike = learned.Alike.of(quote.model, quote.operation, quote.parameters)
        with self._reading:
            costs = [self._totals(month).recent_costs(alike, user) for month in (last_month, now.strftime("%Y-%m"))]
        latest = [*costs[0], *costs[1]][-learned.WINDOW :]
        return replace(quote, estimate=learned.informed(quote.estimate, latest, quote.parameters.get("n", 1)))

    def _totals(self, month: str) -> MonthTotals:
        """The month's totals with every entry written so far folded in: only the entries after the last one read
        (or after the store's checkpoint, at a process's first read) are read. Every CHECKPOINT_EVERY entries the
        totals are saved as the month's checkpoint. Call with `_reading` held."""
        totals = self._months.get(month)
        if totals is None:
            where = f"{self.store.location} ({month})"
            totals = self._months[month] = MonthTotals.decode(self.store.ledger_checkpoint(month), where)
        for number, entry in self.store.ledger(month, after=totals.through).items():
            totals.add(number, entry)
        if totals.through - totals.saved >= CHECKPOINT_EVERY:
            self.store.save_ledger_checkpoint(month, totals.encode())
            totals.saved = totals.through
        return totals

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
                with self._reading:
                    totals = self._totals(month)
                    if check is not None:
                        problem = check(totals.spent(now, entry.user))
                        if problem is not None:
                            raise BudgetError(problem)
                    number = totals.through + 1
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

    async def informed(self, quote: Quote) -> Quote:
        """The quote with its estimate learned from the recorded costs of calls alike (read off the event loop)."""
        return await anyio.to_thread.run_sync(self.ledger.informed, quote, self.user)

    async def reserve(self, quote: Quote) -> Reservation:
        """Record the call's estimate before anything is sent; with caps in force, only if they allow it."""
        now = self.ledger.clock.now()
        estimate = quote.estimate
        caps = self.ledger.caps
        counted = caps.counted(quote)
        entry = LedgerEntry(
            id=secrets.token_hex(8),
            kind="reserve",
            time=now.isoformat(timespec="microseconds"),
            amount=counted.reserved,
            model=quote.model,
            user=self.user,
            instance=self.ledger.instance,
            estimate=estimate.amount,
            operation=quote.operation,
            quality=_asked(quote, "quality"),
            size=_asked(quote, "size"),
            output_format=_asked(quote, "output_format"),
            provider=quote.provider,
        )

        def check(spent: Spent) -> str | None:
            return refusal(caps, counted, spent, now, self.user, quote.provider)

        self.ledger.running.add(entry.id)
        try:
            await anyio.to_thread.run_sync(self.ledger.append, entry, check if caps.capped(quote.provider) else None)
        except BaseException:
            self.ledger.running.discard(entry.id)
            raise
        return LedgerReservation(self.ledger, entry)


def _asked(quote: Quote, name: str) -> str | None:
    """A parameter the call gave, as a ledger entry keeps it so that calls alike can be found (learned.Alike)."""
    value = quote.parameters.get(name)
    return None if value is None else str(value)
