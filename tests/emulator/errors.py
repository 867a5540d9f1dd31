"""OpenAI's error bodies, so that clients meet the same shapes and wording here as in production."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

KEYS_PAGE = "https://platform.openai.com/account/api-keys"

# What the API says when a fault is scripted without a body: (message, type, code).
STATUS_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: (
        f"Incorrect API key provided. You can find your API key at {KEYS_PAGE}.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("You are not allowed to sample from this model.", "invalid_request_error", None),
    404: ("The requested resource does not exist.", "invalid_request_error", None),
    408: ("Request timed out.", "timeout", None),
    409: ("The request conflicted with another request.", "invalid_request_error", None),
    422: ("Unprocessable entity.", "invalid_request_error", None),
    429: (
        "Rate limit reached for images per minute. Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def status_body(status: int) -> dict[str, Any]:
    """A realistic body for a scripted status, falling back to the 4xx/5xx family's wording."""
    fallback = STATUS_ERRORS[500] if status >= 500 else STATUS_ERRORS[400]
    message, type_, code = STATUS_ERRORS.get(status, fallback)
    return error_body(message, type_, None, code)


class ApiError(Exception):
    """An error answer in OpenAI's shape; raised anywhere in a handler, turned into a response by the app."""

    def __init__(
        self, message: str, *, status: int = 400, type_: str = "invalid_request_error", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_, param, None)

    def with_code(self, code: str) -> ApiError:
        self.body["error"]["code"] = code
        return self

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def invalid_value(param: str, value: object, supported: list[str]) -> ApiError:
    return ApiError(
        f"Invalid value: '{value}'. Supported values are: {quoted_list(supported)}.", param=param
    ).with_code("invalid_value")


def unknown_parameter(param: str) -> ApiError:
    return ApiError(f"Unknown parameter: '{param}'.", param=param).with_code("unknown_parameter")


def unsupported_parameter(param: str) -> ApiError:
    return ApiError(f"Unsupported parameter: '{param}' is not supported with this model.", param=param).with_code(
        "unsupported_parameter"
    )


def missing_parameter(param: str) -> ApiError:
    return ApiError(f"Missing required parameter: '{param}'.", param=param).with_code("missing_required_parameter")


def invalid_type(param: str, expected: str, value: object) -> ApiError:
    return ApiError(
        f"Invalid type for '{param}': expected {expected}, but got {type_phrase(value)} instead.", param=param
    ).with_code("invalid_type")


def unsupported_mimetype(param: str, content_type: str | None) -> ApiError:
    return ApiError(
        f"Invalid file '{param}': unsupported mimetype ('{content_type or 'application/octet-stream'}'). "
        "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
        param=param,
    ).with_code("unsupported_file_mimetype")


def invalid_api_key(presented: str) -> ApiError:
    return ApiError(
        f"Incorrect API key provided: {mask_key(presented)}. You can find your API key at {KEYS_PAGE}.", status=401
    ).with_code("invalid_api_key")


def missing_api_key() -> ApiError:
    return ApiError(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer "
        f"auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from {KEYS_PAGE}.",
        status=401,
    )


def mask_key(key: str) -> str:
    """The key as OpenAI echoes it: first 3 and last 4 characters, so a leaked log line leaks nothing usable."""
    if len(key) <= 7:
        return "*" * len(key)
    return key[:3] + "*" * (len(key) - 7) + key[-4:]


def quoted_list(values: list[str]) -> str:
    """'a', 'b', and 'c': the way the API lists supported values."""
    quoted = [f"'{value}'" for value in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def type_phrase(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
