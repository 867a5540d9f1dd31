"""Base64 values lifted out of a JSON answer: the parsed answer is the one a whole parse gives, with views of the
body's bytes where the image strings were, and a whole parse whenever a value is not plain base64 text."""

from __future__ import annotations

import base64
import json

import pytest

from mcp_server_images.backends.lifted import parse_lifting


def lifted_text(value: object) -> str:
    assert isinstance(value, memoryview), f"{value!r} was not lifted"
    return bytes(value).decode()


def test_every_image_value_is_lifted_and_the_rest_parsed_as_usual() -> None:
    images = [base64.b64encode(bytes(range(256)) * n).decode() for n in (1, 3)]
    answer = {
        "created": 1,
        "data": [{"b64_json": images[0], "revised_prompt": "a frog"}, {"revised_prompt": "two", "b64_json": images[1]}],
        "usage": {"total_tokens": 30},
    }

    parsed = parse_lifting(json.dumps(answer, indent=1).encode(), "b64_json")

    assert [lifted_text(item["b64_json"]) for item in parsed["data"]] == images
    assert {key: value for key, value in parsed.items() if key != "data"} == {
        "created": 1,
        "usage": {"total_tokens": 30},
    }
    assert [item["revised_prompt"] for item in parsed["data"]] == ["a frog", "two"]


def test_a_body_in_a_bytearray_is_lifted_too() -> None:
    parsed = parse_lifting(bytearray(b'{"data": [{"b64_json" : "QUJD"}]}'), "b64_json")

    assert lifted_text(parsed["data"][0]["b64_json"]) == "QUJD"


def test_an_escaped_value_means_a_whole_parse() -> None:
    """A JSON encoder that escapes slashes (PHP's does) writes valid JSON that is not plain base64 text."""
    body = b'{"data": [{"b64_json": "QUJD"}, {"b64_json": "ab\\/cd=="}]}'

    parsed = parse_lifting(body, "b64_json")

    assert parsed == json.loads(body)
    assert parsed["data"][1]["b64_json"] == "ab/cd=="


def test_a_key_that_only_ends_like_the_image_key_is_not_mistaken_for_it() -> None:
    """Inside a key, an escaped quote followed by the image key's name looks like the key to a byte search."""
    body = b'{"note\\"b64_json": "QUFB", "data": [{"b64_json": "QkJC"}], "placeholder": "*lifted*0"}'

    parsed = parse_lifting(body, "b64_json")

    assert parsed == json.loads(body)
    assert parsed['note"b64_json'] == "QUFB"


def test_placeholder_text_elsewhere_is_left_as_it_is() -> None:
    body = b'{"revised_prompt": "*lifted*0", "data": [{"b64_json": "QkJD"}]}'

    parsed = parse_lifting(body, "b64_json")

    assert parsed["revised_prompt"] == "*lifted*0"
    assert lifted_text(parsed["data"][0]["b64_json"]) == "QkJD"


@pytest.mark.parametrize("body", [b'{"data": [{"b64_json": "QUJD"}]', b'{"data": [{"b64_json": "QUJD}]}', b"<html>"])
def test_a_body_that_is_not_json_is_refused_as_a_whole_parse_would(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_lifting(body, "b64_json")
