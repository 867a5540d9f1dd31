"""JSON answers parsed without copying their megabytes of base64 into Python strings.

An image answer is a few hundred bytes of JSON around megabytes of base64. Parsed whole, the base64 is copied
into a string, and decoding copies it once more; each fresh megabyte costs time (the pages are new to the
process) and peak memory. Here the base64 values of one key are left where they are in the body: the JSON
around them is parsed with a short placeholder in each value's place, and the parsed answer then carries a view
of the body's bytes where the string would have been. `pybase64` decodes a view as it decodes a string, with
the same validation.

Only a value that is plain base64 text between quotes is lifted. Should any value of the key hold an escape
sequence (valid JSON, never seen from a real API), nothing is lifted and the body is parsed whole as before.

`LiftedStream` finds the same values while the body is still arriving, by the same rule, and hands their decoded
bytes on piece by piece (`EarlyImages`), so that an image can be decoded while the rest of it is on the wire.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

import pybase64
from pydantic_core import from_json

from .base import ArrivingImage, EarlyImages

PLACEHOLDER = "*lifted*"
"""Starts each placeholder (followed by the value's index); `*` is not a base64 character."""


def parse_lifting(body: bytes | bytearray, key: str) -> Any:
    """The parsed JSON body, each string value of `key` replaced by a memoryview of its text in `body`.

    Raises ValueError when the body is not JSON, as `from_json` does.
    """
    spans = _value_spans(body, key)
    if not spans:
        return from_json(body)
    view = memoryview(body)
    pieces: list[bytes | memoryview] = []
    start = 0
    for index, (begin, end) in enumerate(spans):
        pieces += [view[start:begin], f"{PLACEHOLDER}{index}".encode()]
        start = end
    pieces.append(view[start:])
    parsed = from_json(b"".join(pieces))
    lifted = [view[begin:end] for begin, end in spans]
    restored = _restore(parsed, key, lifted)
    if restored is None:  # a placeholder landed elsewhere than a value of `key` (an escaped quote fooled the search)
        return from_json(body)
    return restored


def _value_spans(body: bytes | bytearray, key: str) -> list[tuple[int, int]]:
    """Where each string value of `key` lies in `body` (between its quotes); [] when one holds an escape.

    A quoted `key` followed by a colon is an object key unless its first quote is an escaped one inside another
    string; `parse_lifting` notices that case when the placeholders do not all come back. The value ends at the
    next quote, since plain base64 holds no quotes and no backslashes.
    """
    pattern = _key_pattern(key)
    spans: list[tuple[int, int]] = []
    found = pattern.search(body)
    while found is not None:
        begin = found.end()
        end = body.find(b'"', begin)
        if end < 0 or body.find(b"\\", begin, end) >= 0:
            return []
        spans.append((begin, end))
        found = pattern.search(body, end + 1)
    return spans


def _restore(value: Any, key: str, lifted: list[memoryview]) -> Any:
    """The parsed value with each placeholder under `key` replaced by its view; None unless every one came back."""
    seen: set[int] = set()
    done = _put_back(value, key, lifted, seen)
    return done if len(seen) == len(lifted) else None


def _put_back(value: Any, key: str, lifted: list[memoryview], seen: set[int]) -> Any:
    if isinstance(value, list):
        return [_put_back(item, key, lifted, seen) for item in value]
    if isinstance(value, dict):
        return {
            name: _view(item, lifted, seen) if name == key else _put_back(item, key, lifted, seen)
            for name, item in value.items()
        }
    return value


def _view(value: Any, lifted: list[memoryview], seen: set[int]) -> Any:
    number = value[len(PLACEHOLDER) :] if isinstance(value, str) and value.startswith(PLACEHOLDER) else ""
    if not (number.isascii() and number.isdigit() and int(number) < len(lifted)):
        return value
    seen.add(int(number))
    return lifted[int(number)]


def _key_pattern(key: str) -> re.Pattern[bytes]:
    """A quoted `key`, its colon and the opening quote of its value."""
    return re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*"')


LOOK_BACK = 256
"""Bytes before a piece's start searched again for the key: a key split between two pieces is still found (the
whitespace around a colon is never this long in a real answer; if it were, the value is only not streamed)."""


class LiftedStream:
    """The string values of one key, decoded from base64 as the body arrives, each handed to `EarlyImages`.

    `arrived` is called with the body so far after each piece. Decoding goes in whole groups of four characters.
    Should a value's text not be plain base64 (an escape, a character outside the alphabet, padding before its
    end), that value ends as not whole and nothing more is followed, as `parse_lifting` then lifts nothing; a
    value still open when the body ends is not whole either. A value whose image wants no more of it (it is not
    decoded early) is passed over, undecoded, to its closing quote. Whether pieces were right is settled later:
    the early bytes count only when they equal what the whole answer holds.
    """

    def __init__(self, key: str, early: EarlyImages) -> None:
        self._pattern = _key_pattern(key)
        self._early = early
        self._searched = 0
        """How far the body was searched for the next value."""
        self._after = 0
        """Where the last value ended: the search never goes back before it."""
        self._image: ArrivingImage | None = None
        self._decoded = 0
        """Where the open value's text not yet decoded begins."""
        self._given_up = False
        self._passing = False
        """Whether the open value's bytes are no longer wanted: it is passed over to its closing quote."""

    def arrived(self, body: bytes | bytearray, size: int) -> None:
        while not self._given_up:
            if self._image is None and not self._passing:
                found = self._pattern.search(body, max(self._after, self._searched - LOOK_BACK), size)
                if found is None:
                    self._searched = size
                    return
                self._image, self._decoded = self._early.arriving(), found.end()
            closed = body.find(b'"', self._decoded, size)
            if self._passing:  # a value no longer wanted: only its end is looked for
                self._decoded = size if closed < 0 else self._decoded
                if closed < 0:
                    return
                self._passing = False
            elif closed < 0:
                self._decode(_whole_groups(body[self._decoded : size]), last=False)
                return
            else:
                self._decode(body[self._decoded : closed], last=True)
            self._searched = self._after = closed + 1

    def finish(self) -> None:
        """The body ended (or broke off): a value still open is not whole."""
        self._end(whole=False)

    def _decode(self, text: bytes | bytearray, *, last: bool) -> None:
        try:
            data = pybase64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self._given_up = True
            self._end(whole=False)
            return
        self._decoded += len(text)
        wanted = self._image is not None and (not data or self._image.more(data))
        if last:
            self._end(whole=True)
        elif not wanted:
            self._end(whole=False)
            self._passing = True

    def _end(self, *, whole: bool) -> None:
        if self._image is not None:
            self._image.end(whole=whole)
            self._image = None


def _whole_groups(text: bytes | bytearray) -> bytes | bytearray:
    """The groups of four characters that can be decoded before the value's end is seen: a group with padding
    waits for the closing quote, which shows whether it ends the value (padding anywhere else is refused then)."""
    usable = len(text) // 4 * 4
    padding = text.find(b"=", 0, usable)
    return text[: (usable if padding < 0 else padding // 4 * 4)]
