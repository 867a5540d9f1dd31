"""The usage report as data: spend today and this month (UTC), by model, user and provider, images, caps and what is
left, and per model what an image cost on average and how far the estimates were off.

Read from the spend ledger with the server's clock; the adapter renders it for people and as JSON (the tool
usage_report and the resource images://usage). Who sees what is the viewer's business: administrators (and every
caller of a server that does not keep its users apart) see the whole ledger with the spend by user; a user of a
team server sees their own calls only, never another user's name or spend, with what is left for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio

from ..store.owned import Viewer
from .learned import ModelCosts
from .ledger import Caps, Ledger, next_day, next_month
from .ledger_totals import Spent


async def usage_of(ledger: Ledger, viewer: Viewer) -> dict[str, Any]:
    """The report as `viewer` may see it (the per-user part only when signed in); reads the ledger off the event
    loop."""
    if viewer.sees_all or viewer.subject is None:
        spent = await anyio.to_thread.run_sync(ledger.spent, viewer.subject)
        model_costs = await anyio.to_thread.run_sync(ledger.model_costs)
        return usage_summary(spent, ledger.caps, ledger.clock.now(), viewer.subject, model_costs)
    own, everyone = await anyio.to_thread.run_sync(ledger.spent_by, viewer.subject)
    own_costs = await anyio.to_thread.run_sync(ledger.model_costs, viewer.subject)
    return usage_summary(own, ledger.caps, ledger.clock.now(), viewer.subject, own_costs, team=everyone)


def usage_summary(
    spent: Spent,
    caps: Caps,
    now: datetime,
    user: str | None,
    model_costs: list[ModelCosts],
    team: Spent | None = None,
) -> dict[str, Any]:
    """The usage report as data: spend today and this month (UTC), by model, user and provider, images, caps and what
    is left, and per model (`model_costs`, the calls the viewer may see) the average cost per image and the
    estimates' error.

    With `team` (the whole ledger, for a user who sees only their own calls), `spent` is that user's own: no other
    user is named, and each period's cap and remaining are the tightest of the user's cap and the team's.
    """
    average = spent.month / spent.images if spent.images else None
    day, month = now.strftime("%Y-%m-%d"), now.strftime("%Y-%m")
    if team is None:
        today = _period(day, spent.today, caps.daily, next_day(now))
        this_month = _period(month, spent.month, caps.monthly, next_month(now))
        by_user = spent.by_user
    else:
        today = _tightest(day, spent.today, [(caps.daily, team.today), (caps.user_daily, spent.today)], next_day(now))
        monthly = [(caps.monthly, team.month), (caps.user_monthly, spent.month)]
        this_month = _tightest(month, spent.month, monthly, next_month(now))
        by_user = {user or "(not signed in)": spent.month}
    summary: dict[str, Any] = {
        "currency": "USD",
        "today": today,
        "month": this_month,
        "by_model": {model: round(amount, 6) for model, amount in sorted(spent.by_model.items())},
        "by_user": {who: round(amount, 6) for who, amount in sorted(by_user.items())},
        "by_provider": {name: round(amount, 6) for name, amount in sorted(spent.by_provider.items())},
        "calls": spent.calls,
        "images": spent.images,
        "calls_of_unknown_cost": spent.unknown_calls,
        "calls_pending": spent.pending_calls,
        "average_per_image": None if average is None else round(average, 6),
        "max_cost_per_call": caps.per_call,
        "confirm_above": caps.confirm_above,
        "per_model": {costs.model: _model_costs(costs) for costs in model_costs},
    }
    budgets = {name: budget for name, budget in caps.providers.items() if budget.daily or budget.monthly}
    if budgets:
        summary["provider_budgets"] = {
            name: {
                "today": _period(
                    now.strftime("%Y-%m-%d"), spent.by_provider_today.get(name, 0.0), budget.daily, next_day(now)
                ),
                "month": _period(
                    now.strftime("%Y-%m"), spent.by_provider.get(name, 0.0), budget.monthly, next_month(now)
                ),
            }
            for name, budget in sorted(budgets.items())
        }
    if user is not None:
        summary["user"] = {
            "name": user,
            "today": _period(now.strftime("%Y-%m-%d"), spent.user_today, caps.user_daily, next_day(now)),
            "month": _period(now.strftime("%Y-%m"), spent.user_month, caps.user_monthly, next_month(now)),
        }
    return summary


def _model_costs(costs: ModelCosts) -> dict[str, Any]:
    """One model's calls of the month whose exact cost is known: per image on average, and the estimates' error
    (`estimate_off` +0.25: estimates were 25% above the costs) over the calls that had an estimate."""
    per_image, off = costs.per_image, costs.off
    return {
        "calls": costs.calls,
        "images": costs.images,
        "spent": round(costs.spent, 6),
        "average_per_image": None if per_image is None else round(per_image, 6),
        "calls_estimated": costs.compared,
        "estimate_off": None if off is None else round(off, 4),
    }


def _tightest(name: str, spent: float, limits: list[tuple[float | None, float]], resets: datetime) -> dict[str, Any]:
    """A period of one user's spend under the cap, of several (cap, what counts against it), that leaves least."""
    capped = [(cap, counted) for cap, counted in limits if cap is not None]
    if not capped:
        return _period(name, spent, None, resets)
    cap, counted = min(capped, key=lambda limit: limit[0] - limit[1])
    return _period(name, spent, cap, resets) | {"remaining": round(max(cap - counted, 0.0), 6)}


def _period(name: str, spent: float, cap: float | None, resets: datetime) -> dict[str, Any]:
    remaining = None if cap is None else round(max(cap - spent, 0.0), 6)
    return {
        "period": name,
        "spent": round(spent, 6),
        "cap": cap,
        "remaining": remaining,
        "resets": resets.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
