"""Costs at the MCP edge: dry runs, the confirmation of expensive calls, and the usage report.

Every image-producing tool goes through `produce`: the call is planned first (every check, nothing sent); a dry
run answers with the plan and its estimate; above the confirmation threshold the user is asked first (form
elicitation: the 2026-07-28 input-required round trip, or the older elicitation request mid-call), and nothing is
sent before the answer; otherwise the plan runs as a job whose spending is reserved in the ledger and settled with
the real cost.
"""

from __future__ import annotations

import json
from dataclasses import replace
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

from ...errors import ImageServerError
from ...operations.calls import plan_call
from ...operations.cost import Cost, usd
from ...operations.job_records import JobNotFoundError
from ...operations.jobs import JobManager
from ...operations.ledger import Caps, Quote
from ...operations.requests import CallContext, ImageCallRequest
from ..context import Ctx, audience_of, caller, services_of, wants_progress
from .jobs import answer_found, find, run_as_job, showing_of
from .render import error_result, job_status_result, likely_preview
from .shapes import host_shape

REPEATED = "Answered from the earlier call with this idempotency_key"
CONFIRM_KEY = "confirm_cost"
"""The key of the confirmation question in an input-required round trip."""
INPUT_REQUIRED_VERSION = "2026-07-28"
Answer = Literal["accept", "decline", "cancel", "unsupported"]


class CostConfirmation(BaseModel):
    """The form a client shows: one checkbox, ticked, to spend the estimate."""

    confirm: bool = Field(default=True, title="Spend this on the call", description="Untick, or decline, to cancel.")


async def produce(
    ctx: Ctx, request: ImageCallRequest, *, dry_run: bool, confirm_cost: bool, key: str | None
) -> CallToolResult | InputRequiredResult:
    """The shared body of every image-producing tool: plan the call (every check, nothing sent), then a dry run
    answers with the plan, a confirmation asks about its quote, and otherwise the plan runs as a job.

    With an idempotency `key` an earlier call holds (on any instance, within the retention window), the answer is
    that call's, before anything is planned; otherwise the key is tied to the new job before anything is sent.
    """
    services = services_of(ctx)
    user = caller(ctx)
    key = (key or "").strip() or None  # an empty key is no key
    try:
        earlier = None if key is None or dry_run else await anyio.to_thread.run_sync(services.keys.holder, key, user)
    except ImageServerError as exc:
        return error_result(str(exc))
    if earlier is not None:
        return await repeated(ctx, earlier)
    call = CallContext(
        partial_images=services.settings.partial_images if wants_progress(ctx) else 0,
        user=user,
        spending=services.ledger.for_user(user),
        audience=audience_of(ctx),
    )
    try:
        plan = await plan_call(services.images, request, call)
    except ImageServerError as exc:
        return error_result(str(exc))
    if dry_run:
        return dry_run_result(plan.quote)
    shape = host_shape(ctx, services.settings.result_shape)
    call = replace(call, preview=likely_preview(showing_of(services, shape), plan.quote.images))
    refused = None if confirm_cost else await _unconfirmed(ctx, plan.quote)
    if refused is not None:
        return refused
    job_id = JobManager.new_id()
    if key is not None:
        try:
            holder = await anyio.to_thread.run_sync(services.keys.claim, key, user, job_id)
        except ImageServerError as exc:
            return error_result(str(exc))
        if holder != job_id:
            return await repeated(ctx, holder)  # a call with the same key got there a moment before this one
    return await run_as_job(ctx, request, plan, call, job_id)


async def _unconfirmed(ctx: Ctx, quote: Quote) -> CallToolResult | InputRequiredResult | None:
    """None when the call may go ahead; else the question to the user (input required) or why it may not."""
    why = _needs_confirmation(quote, services_of(ctx).ledger.caps)
    if why is None:
        return None
    answer = await confirmation(ctx, _question(quote, why))
    if isinstance(answer, InputRequiredResult):
        return answer
    return None if answer == "accept" else error_result(_not_confirmed(answer, quote, why))


async def repeated(ctx: Ctx, job_id: str) -> CallToolResult:
    """The answer of the earlier call with this idempotency key: its job's result, failure or status, waiting up
    to the response deadline while it runs (here or on another instance)."""
    services = services_of(ctx)
    try:
        job = await anyio.to_thread.run_sync(find(services), job_id)
    except JobNotFoundError:
        # The call holding the key claimed it a moment ago and has not published its job yet.
        answer = job_status_result(job_id, 0.0, None, "", services.settings.inline_budget)
    except ImageServerError as exc:
        return error_result(str(exc))
    else:
        answer = await answer_found(ctx, job, services.settings.response_deadline)
    note = TextContent(type="text", text=f"{REPEATED} (job {job_id}); nothing was sent or paid again.")
    return answer.model_copy(update={"content": [*answer.content, note]})


def _needs_confirmation(quote: Quote, caps: Caps) -> str | None:
    """Why the user must confirm this call first, or None.

    Above the threshold, and also whenever a cap is in force but the cost cannot be estimated (an unpublished
    quality, a gateway's own model): the user decides whether to spend an unknown amount. Confirming accepts the
    price only: the ledger still counts such a call at its worst case against every cap. The reason completes
    "this call is ...".
    """
    amount = quote.estimate.amount
    threshold = caps.confirm_above
    if threshold is not None and (amount is None or amount > threshold):
        return f"estimated at {usd(amount)}, above the {usd(threshold)} that needs confirmation (--confirm-above)"
    if amount is None and caps.capped(quote.provider):
        return (
            f"of a cost that cannot be estimated ({quote.estimate.basis}); the spending caps count it as "
            f"{usd(caps.counted(quote).amount)} until its cost is known"
        )
    return None


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
    if summary["calls_pending"]:
        lines.append(f"{summary['calls_pending']} call(s) still running, counted at their estimate.")
    if summary["calls_of_unknown_cost"]:
        lines.append(
            f"{summary['calls_of_unknown_cost']} call(s) of unknown cost (no usage or no published price, or their "
            "server stopped before they were settled; those count at their estimate)."
        )
    if summary["by_model"]:
        lines.append("By model: " + ", ".join(f"{m} {usd(a)}" for m, a in summary["by_model"].items()) + ".")
    lines += [_model_line(model, costs) for model, costs in summary["per_model"].items()]
    lines += _provider_lines(summary)
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


def _provider_lines(summary: dict[str, Any]) -> list[str]:
    """Spend by provider when there are several, and each provider's own budgets."""
    lines = []
    if len(summary["by_provider"]) > 1:
        lines.append("By provider: " + ", ".join(f"{p} {usd(a)}" for p, a in summary["by_provider"].items()) + ".")
    for name, periods in summary.get("provider_budgets", {}).items():
        for key, label in (("today", "today"), ("month", "this month")):
            shown = periods[key]
            if shown["cap"] is not None:
                lines.append(
                    f"Provider {name} {label}: {usd(shown['spent'])} of {usd(shown['cap'])} "
                    f"({usd(shown['remaining'])} left)."
                )
    return lines


def usage_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2)
