"""Keeping secrets out of everything the upstream says.

An upstream, or a proxy in front of it, can echo the API key or the server's HTTP token back: in an error body,
a header, a revised prompt, a stream event, a chat answer. Every string that comes from upstream passes through
one `Redactor` at the backends' boundary, before it can reach a result, a log line, a sidecar or an exception,
so nothing above this package ever holds a secret. A secret is found however it is spelled: raw, JSON-escaped
(`\\u0073k-…`, `\\/`) or percent-encoded, in any mix of these, and base64-encoded (standard or URL-safe, on its own
or inside a longer encoded text such as a Basic authorization header), itself spelled any of those ways.

The same redactor knows every secret the settings hold (Settings.secrets: API keys, the HTTP token, the S3
secret) and also filters every log record the server writes (`RedactingFilter`).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
IMAGE_DATA_KEYS = frozenset({"b64_json"})
"""JSON fields holding image data: decoded to bytes, never shown as text, and too large to scan for nothing."""


class Redactor:
    """Replaces every known secret in upstream text with `[redacted]`.

    One redactor serves every provider of a server; it learns the keys that are only known once a key file is read
    or a key command has run (`learn`), so a key from either is redacted like one given in a variable.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = {secret for secret in secrets if secret}
        self._pattern = self._compiled()

    def learn(self, secret: str) -> None:
        """Redact `secret` from now on too."""
        if secret and secret not in self._secrets:
            self._secrets.add(secret)
            self._pattern = self._compiled()

    def _compiled(self) -> re.Pattern[str] | None:
        forms = {form for secret in self._secrets for form in (secret, *_base64_cores(secret))}
        patterns = [_spellings(form) for form in sorted(forms, key=len, reverse=True)]
        return re.compile("|".join(patterns)) if patterns else None

    def text(self, value: str) -> str:
        return value if self._pattern is None else self._pattern.sub(REDACTED, value)

    def optional(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def json(self, value: Any) -> Any:
        """A parsed JSON value with every string (keys included) redacted; image data is left as it is."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(item) for item in value]
        if isinstance(value, dict):
            return {
                self.text(str(key)): item if key in IMAGE_DATA_KEYS else self.json(item) for key, item in value.items()
            }
        return value


class RedactingFilter(logging.Filter):
    """A log filter that redacts a record's whole message (arguments filled in) with the redactor."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._redactor.text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


MIN_CORE = 8
"""Base64 forms shorter than this are not looked for: too short to be told from chance."""


def _base64_cores(secret: str) -> list[str]:
    """The base64 characters that encode the secret whatever comes before and after it, at each of the three
    alignments a secret can have inside an encoded text, in the standard and the URL-safe alphabet.

    At alignment `shift`, character i of the encoding covers bits 6i to 6i+6 of (shift padding bytes + secret);
    those lying wholly within the secret's bits depend on the secret alone.
    """
    raw = secret.encode()
    cores = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        core = encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6]
        if len(core) >= MIN_CORE:
            cores += [core, core.translate(_URL_SAFE)]
    return cores


_URL_SAFE = str.maketrans("+/", "-_")


def _spellings(secret: str) -> str:
    """A pattern matching the secret with each character raw, JSON-escaped or percent-encoded."""
    return "".join(_character(char) for char in secret)


def _character(char: str) -> str:
    options = [re.escape(char)]
    if ord(char) <= 0xFFFF:
        options.append(r"\\u" + _hex(f"{ord(char):04x}"))
    if char in '/"\\':
        options.append(re.escape("\\" + char))
    if char == " ":
        options.append(r"\+")
    options.append("".join("%" + _hex(f"{byte:02x}") for byte in char.encode()))
    return "(?:" + "|".join(options) + ")"


def _hex(digits: str) -> str:
    """Hex digits matched in either case (`%2F` and `%2f`, `\\u002F` and `\\u002f`)."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in digits)
