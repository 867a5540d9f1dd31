"""`LiftedStream`: an answer's base64 values decoded while the body arrives, by the rule `parse_lifting` lifts by.

Whatever the pieces the body arrives in, each value's bytes reach its `ArrivingImage` exactly, and it ends whole
only when its closing quote arrived; a value that is not plain base64 stops the stream, as `parse_lifting` then
lifts nothing.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_server_images.backends.lifted import LiftedStream


@dataclass
class Arrived:
    data: bytearray = field(default_factory=bytearray)
    whole: bool | None = None
    wanted: int | None = None
    """Bytes after which no more are wanted (None: all of them)."""

    def more(self, data: bytes) -> bool:
        assert self.whole is None, "no bytes after the end"
        self.data += data
        return self.wanted is None or len(self.data) < self.wanted

    def end(self, *, whole: bool) -> None:
        assert self.whole is None, "one end"
        self.whole = whole


@dataclass
class Images:
    arrived: list[Arrived] = field(default_factory=list)
    wanted: int | None = None

    def arriving(self) -> Arrived:
        self.arrived.append(Arrived(wanted=self.wanted))
        return self.arrived[-1]


def fed(body: bytes, cuts: list[int], *, ends: bool = True, wanted: int | None = None) -> list[Arrived]:
    """The body handed to a stream in pieces ending at `cuts`, as `_body` hands it (into one buffer); each image
    wants `wanted` bytes at most."""
    images = Images(wanted=wanted)
    stream = LiftedStream("b64_json", images)
    buffer = bytearray(len(body))
    for end in [*sorted(set(cuts)), len(body)]:
        buffer[:end] = body[:end]
        stream.arrived(buffer, end)
    if ends:
        stream.finish()
    return images.arrived


def answer(*images: bytes, spaced: bool = False) -> bytes:
    items = [{"b64_json": base64.b64encode(image).decode(), "revised_prompt": "a fox"} for image in images]
    separators = (", ", " :  ") if spaced else (",", ":")
    return json.dumps({"created": 1, "data": items, "usage": {"total_tokens": 3}}, separators=separators).encode()


@given(
    images=st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=3),
    cuts=st.lists(st.integers(min_value=1, max_value=2000), max_size=12),
    spaced=st.booleans(),
)
def test_every_value_arrives_whole_whatever_the_pieces(images: list[bytes], cuts: list[int], spaced: bool) -> None:
    body = answer(*images, spaced=spaced)
    arrived = fed(body, [cut for cut in cuts if cut < len(body)])
    assert [bytes(one.data) for one in arrived] == images
    assert [one.whole for one in arrived] == [True] * len(images)


def test_a_key_split_between_pieces_is_found() -> None:
    body = answer(b"\x89PNG and more bytes")
    key = body.index(b'"b64_json"')
    for cut in range(key, key + len('"b64_json":"') + 1):
        [arrived] = fed(body, [cut])
        assert bytes(arrived.data) == b"\x89PNG and more bytes"


def test_a_body_cut_off_leaves_the_open_value_not_whole() -> None:
    body = answer(b"x" * 300)
    [arrived] = fed(body[: len(body) // 2], [40, 90])
    assert arrived.whole is False
    assert b"x" * len(arrived.data) == bytes(arrived.data), "only whole groups of four were decoded"


@pytest.mark.parametrize(
    "value", ["QUJD\\/REVG", "QUJD REVG", "QQ==QUJD", "QUJD!"], ids=["escape", "space", "padding", "punctuation"]
)
def test_a_value_that_is_not_plain_base64_stops_the_stream(value: str) -> None:
    body = ('{"data":[{"b64_json":"' + value + '"},{"b64_json":"QUJD"}]}').encode()
    arrived = fed(body, [22])
    assert arrived[0].whole is False
    assert len(arrived) == 1, "nothing more is followed, as parse_lifting lifts nothing then"


def test_an_image_that_wants_no_more_is_passed_over_and_the_next_one_still_arrives() -> None:
    first, second = b"a" * 3000, b"b" * 3000
    body = answer(first, second)
    arrived = fed(body, list(range(100, len(body), 400)), wanted=1000)
    assert [one.whole for one in arrived] == [False, False]
    assert 1000 <= len(arrived[0].data) < 3000 and bytes(arrived[0].data) == first[: len(arrived[0].data)]
    assert bytes(arrived[1].data) == second[: len(arrived[1].data)], "the second value is found and decoded"
    everything = fed(body, list(range(100, len(body), 400)))
    assert [bytes(one.data) for one in everything] == [first, second]
