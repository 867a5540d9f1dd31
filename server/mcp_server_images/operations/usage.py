"""The usage report as data: spend today and this month (UTC), by model, user and provider, images, caps and what is
left.

Read from the spend ledger with the server's clock; the adapter renders it for people and as JSON (the tool
usage_report and the resource images://usage).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio

from .ledger import Caps, Ledger, Spent, next_day, next_month


async def usage_of(ledger: Ledger, user: str | None) -> dict[str, Any]:
    """The report for `user` (the per-user part only when signed in); reads the ledger off the event loop."""
    spent = await anyio.to_thread.run_sync(ledger.spent, user)
    return usage_summary(spent, ledger.caps, ledger.clock.now(), user)


def usage_summary(spent: Spent, caps: Caps, now: datetime, user: str | None) -> dict[str, Any]:
    """The usage report as data: spend today and this month (UTC), by model, user and provider, images, caps and what is
    left."""
    average = spent.month / spent.images if spent.images else None
    summary: dict[str, Any] = {
        "currency": "USD",
        "today": _period(now.strftime("%Y-%m-%d"), spent.today, caps.daily, next_day(now)),
        "month": _period(now.strftime("%Y-%m"), spent.month, caps.monthly, next_month(now)),
        "by_model": {model: round(amount, 6) for model, amount in sorted(spent.by_model.items())},
        "by_user": {who: round(amount, 6) for who, amount in sorted(spent.by_user.items())},
        "by_provider": {name: round(amount, 6) for name, amount in sorted(spent.by_provider.items())},
        "calls": spent.calls,
        "images": spent.images,
        "calls_of_unknown_cost": spent.unknown_calls,
        "calls_pending": spent.pending_calls,
        "average_per_image": None if average is None else round(average, 6),
        "max_cost_per_call": caps.per_call,
        "confirm_above": caps.confirm_above,
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


def _period(name: str, spent: float, cap: float | None, resets: datetime) -> dict[str, Any]:
    remaining = None if cap is None else round(max(cap - spent, 0.0), 6)
    return {
        "period": name,
        "spent": round(spent, 6),
        "cap": cap,
        "remaining": remaining,
        "resets": resets.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
