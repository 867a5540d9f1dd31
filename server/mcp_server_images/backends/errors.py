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
    401: "Check that the API key{source} is valid for this provider.",
    403: "The key{source} has no access to this model or endpoint; check the account's permissions or pick another "
    "model.",
    404: "The model or endpoint does not exist at this provider; check the model name and base URL.",
    429: "The provider is rate limiting or the account is out of credit; wait and try again, or check billing.",
}
SERVER_ERROR_HINT = "The provider had a problem answering; try again in a while."


class UpstreamError(ImageServerError):
    """A failed upstream call: an error answer, or no answer at all."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        attempts: int = 1,
        key_source: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.code = code
        self.param = param
        self.request_id = request_id
        self.attempts = attempts
        """How many times the request was sent (retries included) before this answer."""
        self.key_source = key_source
        """The variable (or flag) that supplied the API key, named in 401 and 403 hints; never the key."""
        super().__init__(self._render())

    def _render(self) -> str:
        if self.status is None or 200 <= self.status < 300:  # no answer, or a success the server cannot use
            return f"{self.message} (request id {self.request_id})" if self.request_id else self.message
        labels = ", ".join(str(x) for x in (f"HTTP {self.status}", self.code) if x)
        tried = f", on each of {self.attempts} attempts" if self.attempts > 1 else ""
        what = "failed" if self.status >= 500 else "refused the request"
        text = f"The image API {what} ({labels}{tried}): {self.message}"
        if self.param:
            text += f" [parameter: {self.param}]"
        source = f" in {self.key_source}" if self.key_source else ""
        hint = SERVER_ERROR_HINT if self.status >= 500 else _STATUS_HINTS.get(self.status, "").format(source=source)
        if hint and self.code not in ("moderation_blocked", "content_policy_violation"):
            text += f" {hint}"
        if self.code in ("moderation_blocked", "content_policy_violation"):
            text += " Rephrase the prompt; the provider's safety system rejected it."
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    @classmethod
    def from_body(
        cls, status: int, body: bytes, request_id: str | None, *, attempts: int = 1, key_source: str | None = None
    ) -> UpstreamError:
        """Parse whichever error shape the provider used; fall back to the raw text. `attempts` and `key_source`
        are told in the message (see `__init__`)."""
        message, code, param = _parsed(body)
        return cls(
            message,
            status=status,
            code=code,
            param=param,
            request_id=request_id,
            attempts=attempts,
            key_source=key_source,
        )


def _parsed(body: bytes) -> tuple[str, str | None, str | None]:
    """(message, code, param) of an error body in OpenAI's shape, FastAPI's, a bare string, or raw text."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or "no message")
            return message, _text(error.get("code")), _text(error.get("param"))
        if isinstance(error, str):
            return error, None, None
        if "detail" in parsed:
            return _detail_text(parsed["detail"]), None, None
    return body.decode("utf-8", "replace").strip()[:500] or "empty response body", None, None


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
