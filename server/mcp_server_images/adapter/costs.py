"""Costs at the MCP edge: dry runs, the confirmation of expensive calls, and the usage report.

Every image-producing tool goes through `produce`: a dry run stops where the request would be sent and answers
with the plan and its estimate; above the confirmation threshold the user is asked first (form elicitation: the
2026-07-28 input-required round trip, or the older elicitation request mid-call), and nothing is sent before the
answer; otherwise the call runs as a job whose spending is reserved in the ledger and settled with the real cost.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import anyio
from mcp.server.elicitation import render_elicitation_schema
from mcp.types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    TextContent,
)
from mcp_types.version import is_version_at_least
from pydantic import BaseModel, Field

from ..errors import ImageServerError
from ..operations.budget import Caps, DryRun, Quote, Spent, WouldSendError, next_day, next_month
from ..operations.cost import Cost, usd
from ..operations.learned import ModelCosts
from ..operations.requests import Call
from ..services import Services
from ..store import Operation
from .context import Ctx, caller, services_of, wants_progress
from .jobs import Work, run_as_job
from .render import error_result

CONFIRM_KEY = "confirm_cost"
"""The key of the confirmation question in an input-required round trip."""
INPUT_REQUIRED_VERSION = "2026-07-28"
Answer = Literal["accept", "decline", "cancel", "unsupported"]


class CostConfirmation(BaseModel):
    """The form a client shows: one checkbox, ticked, to spend the estimate."""

    confirm: bool = Field(default=True, title="Spend this on the call", description="Untick, or decline, to cancel.")


async def produce(
    ctx: Ctx, operation: Operation, work: Work, *, dry_run: bool, confirm_cost: bool
) -> CallToolResult | InputRequiredResult:
    """The shared body of every image-producing tool: dry run, confirmation, then the call as a job."""
    services = services_of(ctx)
    partials = services.settings.partial_images if wants_progress(ctx) else 0
    caps = services.ledger.caps
    if dry_run or ((caps.confirm_above is not None or caps.capped) and not confirm_cost):
        try:
            quote = await _quote(services, work, partials, caller(ctx))
        except ImageServerError as exc:
            return error_result(str(exc))
        if dry_run:
            return dry_run_result(quote)
        why = _needs_confirmation(quote, caps)
        if why is not None:
            answer = await confirmation(ctx, _question(quote, why))
            if isinstance(answer, InputRequiredResult):
                return answer
            if answer != "accept":
                return error_result(_not_confirmed(answer, quote, why))
    return await run_as_job(ctx, operation, work)


def _needs_confirmation(quote: Quote, caps: Caps) -> str | None:
    """Why the user must confirm this call first, or None.

    Above the threshold, and also whenever a cap is in force but the cost cannot be estimated (an unpublished
    quality, a gateway's own model): the ledger could not stop such a call from passing the cap, so the user
    decides. The reason completes "this call is ...".
    """
    amount = quote.estimate.amount
    threshold = caps.confirm_above
    if threshold is not None and (amount is None or amount > threshold):
        return f"estimated at {usd(amount)}, above the {usd(threshold)} that needs confirmation (--confirm-above)"
    if amount is None and caps.capped:
        return (
            f"of a cost that cannot be estimated ({quote.estimate.basis}), so the spending caps in force cannot "
            "be checked before it is made"
        )
    return None


async def _quote(services: Services, work: Work, partials: int, user: str | None) -> Quote:
    """Run the call up to where it would send its request: every check a real call makes, nothing sent or paid."""
    try:
        await work(services.images, Call(partial_images=partials, user=user, spending=DryRun(services.ledger)))
    except WouldSendError as stop:
        return stop.quote
    raise ImageServerError("The call finished without reaching the image API, so it has no cost to show.")


def _question(quote: Quote, why: str) -> str:
    return f"This call is {why}. It would {quote.describe()}. Spend it?"


def _not_confirmed(answer: Answer, quote: Quote, why: str) -> str:
    if answer == "unsupported":
        return (
            f"Not made: this call is {why}, and this client cannot ask the user (it has no elicitation). Nothing "
            "was sent or paid. Call again with confirm_cost: true to accept the cost."
        )
    said = "declined" if answer == "decline" else "cancelled"
    return f"Not made: the user {said} spending {usd(quote.estimate.amount)} on this call. Nothing was sent or paid."


async def confirmation(ctx: Ctx, message: str) -> Answer | InputRequiredResult:
    """Ask the user to confirm: on 2026-07-28 and later by an input-required result the client answers when it
    retries the call; on earlier protocol versions by an elicitation request while the call waits."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    if elicitation is None or (elicitation.form is None and elicitation.url is not None):
        return "unsupported"
    version = ctx.protocol_version
    if version is not None and is_version_at_least(version, INPUT_REQUIRED_VERSION):
        answer = (ctx.input_responses or {}).get(CONFIRM_KEY)
        if isinstance(answer, ElicitResult):
            return _action(answer.action, answer.content)
        schema = render_elicitation_schema(CostConfirmation)
        question = ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))
        return InputRequiredResult(input_requests={CONFIRM_KEY: question})
    result = await ctx.elicit(message, CostConfirmation)
    data = result.data.model_dump() if result.action == "accept" else None
    return _action(result.action, data)


def _action(action: Literal["accept", "decline", "cancel"], content: dict[str, Any] | None) -> Answer:
    """An accepted form with the box unticked is a decline."""
    if action == "accept" and not (content or {}).get("confirm", True):
        return "decline"
    return action


def dry_run_result(quote: Quote) -> CallToolResult:
    """What the call would do and cost; `images` is empty, so the result keeps the images shape."""
    estimate = quote.estimate
    text = (
        f"Dry run: nothing was sent and nothing was paid. This call would {quote.describe()}.\n"
        f"Estimated cost: {usd(estimate.amount)} ({estimate.basis}).\n"
        "Call again without dry_run to make it."
    )
    cost = Cost(estimate.amount, exact=False, basis=estimate.basis, estimate=estimate)
    structured: dict[str, Any] = {
        "images": [],
        "model": quote.model,
        "usage": None,
        "cost": cost.public(),
        "dry_run": True,
        "plan": quote.public(),
    }
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def usage_summary(
    spent: Spent, caps: Caps, now: datetime, user: str | None, model_costs: list[ModelCosts] | None = None
) -> dict[str, Any]:
    """The usage report as data: spend today and this month (UTC), by model and user, images, caps and what is left,
    and per model what an image cost on average and how far the estimates were off."""
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
        "average_per_image": None if average is None else round(average, 6),
        "max_cost_per_call": caps.per_call,
        "confirm_above": caps.confirm_above,
        "per_model": {costs.model: _model_costs(costs) for costs in model_costs or []},
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


def usage_text(summary: dict[str, Any]) -> str:
    """The report for people: a few lines, caps and what remains included."""
    lines = []
    for key, label in (("today", "Today"), ("month", "This month")):
        period = summary[key]
        cap = (
            f" of {usd(period['cap'])} ({usd(period['remaining'])} left, resets {period['resets']})"
            if period["cap"] is not None
            else " (no cap)"
        )
        lines.append(f"{label} ({period['period']}, UTC): {usd(period['spent'])} spent{cap}.")
    images, average = summary["images"], summary["average_per_image"]
    lines.append(
        f"This month: {summary['calls']} call(s), {images} image(s)"
        + (f", {usd(average)} per image on average" if average is not None else "")
        + "."
    )
    if summary["calls_of_unknown_cost"]:
        lines.append(f"{summary['calls_of_unknown_cost']} call(s) of unknown cost (no usage or no published price).")
    if summary["by_model"]:
        lines.append("By model: " + ", ".join(f"{m} {usd(a)}" for m, a in summary["by_model"].items()) + ".")
    lines += [_model_line(model, costs) for model, costs in summary["per_model"].items()]
    if len(summary["by_user"]) > 1 or "user" in summary:
        lines.append("By user: " + ", ".join(f"{u} {usd(a)}" for u, a in summary["by_user"].items()) + ".")
    if summary["max_cost_per_call"] is not None:
        lines.append(f"Per-call cap: {usd(summary['max_cost_per_call'])}.")
    if summary["confirm_above"] is not None:
        lines.append(f"Calls estimated above {usd(summary['confirm_above'])} ask for confirmation.")
    return "\n".join(lines)


def _model_line(model: str, costs: dict[str, Any]) -> str:
    """One line per model: gpt-image-2: $0.125 per image on average (3 image(s)); estimates were 69% too high."""
    line = f"{model}: {usd(costs['average_per_image'])} per image on average ({costs['images']} image(s))"
    off = costs["estimate_off"]
    if off is not None:
        how = "right" if round(off * 100) == 0 else f"{abs(off):.0%} too {'high' if off > 0 else 'low'}"
        line += f"; estimates were {how} ({costs['calls_estimated']} call(s))"
    return line + "."


async def usage_of(services: Services, user: str | None) -> dict[str, Any]:
    ledger = services.ledger
    spent = await anyio.to_thread.run_sync(ledger.spent, user)
    model_costs = await anyio.to_thread.run_sync(ledger.model_costs)
    return usage_summary(spent, ledger.caps, ledger.clock.now(), user, model_costs)


def usage_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
