"""One error type for everything the upstream API can say, rendered so a person can act on it.

OpenAI answers `{"error": {"message", "type", "param", "code"}}`; Dedalus (FastAPI) validation answers
`{"detail": [{"loc", "msg", "type"}]}` or `{"detail": "..."}`. Both, and bodies that are neither, become an
`UpstreamError` whose text carries the HTTP status, the upstream's own words and its request id.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ImageServerError

_STATUS_HINTS = {
    401: "Check that the API key is valid for this provider.",
    403: "The key has no access to this model or endpoint; check the account's permissions or pick another model.",
    404: "The model or endpoint does not exist at this provider; check the model name and base URL.",
    429: "The provider is rate limiting or the account is out of credit; wait and try again, or check billing.",
}


class UpstreamError(ImageServerError):
    """A failed upstream call: an error answer, or no answer at all."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.param = param
        self.error_type = error_type
        self.request_id = request_id
        super().__init__(self._render())

    def _render(self) -> str:
        if self.status is None or 200 <= self.status < 300:  # no answer, or a success the server cannot use
            return f"{self.message} (request id {self.request_id})" if self.request_id else self.message
        labels = ", ".join(str(x) for x in (f"HTTP {self.status}", self.code) if x)
        text = f"The image API refused the request ({labels}): {self.message}"
        if self.param:
            text += f" [parameter: {self.param}]"
        hint = _STATUS_HINTS.get(self.status)
        if hint and self.code not in ("moderation_blocked", "content_policy_violation"):
            text += f" {hint}"
        if self.code in ("moderation_blocked", "content_policy_violation"):
            text += " Rephrase the prompt; the provider's safety system rejected it."
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    @classmethod
    def from_body(cls, status: int, body: bytes, request_id: str | None) -> UpstreamError:
        """Parse whichever error shape the provider used; fall back to the raw text."""
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            error = parsed.get("error")
            if isinstance(error, dict):
                return cls(
                    str(error.get("message") or "no message"),
                    status=status,
                    code=_text(error.get("code")),
                    param=_text(error.get("param")),
                    error_type=_text(error.get("type")),
                    request_id=request_id,
                )
            if isinstance(error, str):
                return cls(error, status=status, request_id=request_id)
            if "detail" in parsed:
                return cls(_detail_text(parsed["detail"]), status=status, request_id=request_id)
        text = body.decode("utf-8", "replace").strip()[:500] or "empty response body"
        return cls(text, status=status, request_id=request_id)


class ConnectionBrokenError(UpstreamError):
    """The connection broke or timed out while an answer was on its way; not retried, as it may already be paid."""


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _detail_text(detail: object) -> str:
    """FastAPI's `detail`: a string, or a list of `{"loc": [...], "msg": ...}` items."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                msg = str(item.get("msg", item))
                parts.append(f"{loc}: {msg}" if loc else msg)
            else:
                parts.append(str(item))
        return "; ".join(parts) or "validation failed"
    return str(detail)
