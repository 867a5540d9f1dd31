"""A tool call as the operator sees it: what its result says for its span, its metrics and its log line."""

from __future__ import annotations

from typing import Any

from mcp.types import CallToolResult, InputRequiredResult, TextContent

from ..telemetry import CallReport

IMAGE_RESULTS = frozenset({"generate_image", "edit_image", "create_image_variation", "get_job"})
"""Tools whose structuredContent `images` are images a call made (list_images' are a listing)."""


def report_of(
    tool: str, arguments: dict[str, Any], result: CallToolResult | InputRequiredResult, seconds: float
) -> CallReport:
    """How the call ended, its model, images, usage and cost, from the result it answers with."""
    if isinstance(result, InputRequiredResult):
        return CallReport(tool, "input_required", seconds)
    structured: dict[str, Any] = result.structured_content or {}
    model = structured.get("model") or arguments.get("model")
    report = CallReport(tool, _outcome(result, structured), seconds, model=model if isinstance(model, str) else None)
    if result.is_error:
        report.error = next((block.text for block in result.content if isinstance(block, TextContent)), None)
    if tool in IMAGE_RESULTS and isinstance(structured.get("images"), list):
        report.images = len(structured["images"])
    if isinstance(structured.get("usage"), dict):
        report.usage = structured["usage"]
    cost = structured.get("cost")
    if report.outcome == "ok" and isinstance(cost, dict) and isinstance(cost.get("amount"), int | float):
        report.cost = float(cost["amount"])
    if structured.get("status") == "running" and isinstance(structured.get("job_id"), str):
        report.job_id = structured["job_id"]
    return report


def _outcome(result: CallToolResult, structured: dict[str, Any]) -> str:
    if result.is_error:
        return "error"
    if structured.get("status") == "running":
        return "job"
    if structured.get("dry_run"):
        return "dry_run"
    return "ok"
