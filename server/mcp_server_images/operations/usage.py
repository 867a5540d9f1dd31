"""The usage report as data: spend today and this month (UTC), by model and user, images, caps and what is left,
and per model what an image cost on average and how far the estimates were off.

Read from the spend ledger with the server's clock; the adapter renders it for people and as JSON (the tool
usage_report and the resource images://usage).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio

from .learned import ModelCosts
from .ledger import Caps, Ledger, Spent, next_day, next_month


async def usage_of(ledger: Ledger, user: str | None) -> dict[str, Any]:
    """The report for `user` (the per-user part only when signed in); reads the ledger off the event loop."""
    spent = await anyio.to_thread.run_sync(ledger.spent, user)
    model_costs = await anyio.to_thread.run_sync(ledger.model_costs)
    return usage_summary(spent, ledger.caps, ledger.clock.now(), user, model_costs)


def usage_summary(
    spent: Spent, caps: Caps, now: datetime, user: str | None, model_costs: list[ModelCosts]
) -> dict[str, Any]:
    """The report's data; `model_costs` are this month's exact costs per model."""
    average = spent.month / spent.images if spent.images else None
    summary: dict[str, Any] = {
        "currency": "USD",
        "today": _period(now.strftime("%Y-%m-%d"), spent.today, caps.daily, next_day(now)),
        "month": _period(now.strftime("%Y-%m"), spent.month, caps.monthly, next_month(now)),
        "by_model": {model: round(amount, 6) for model, amount in sorted(spent.by_model.items())},
        "by_user": {who: round(amount, 6) for who, amount in sorted(spent.by_user.items())},
        "calls": spent.calls,
        "images": spent.images,
        "calls_of_unknown_cost": spent.unknown_calls,
        "calls_pending": spent.pending_calls,
        "average_per_image": None if average is None else round(average, 6),
        "max_cost_per_call": caps.per_call,
        "confirm_above": caps.confirm_above,
        "per_model": {costs.model: _model_costs(costs) for costs in model_costs},
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


def _period(name: str, spent: float, cap: float | None, resets: datetime) -> dict[str, Any]:
    remaining = None if cap is None else round(max(cap - spent, 0.0), 6)
    return {
        "period": name,
        "spent": round(spent, 6),
        "cap": cap,
        "remaining": remaining,
        "resets": resets.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
