"""Reference parsing on anything an assistant might send: it classifies or refuses with its own error, never
with a stray ValueError that would reach the user as an 'unexpected error'."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_server_images.inputs.refs import InlineRef, PathRef, RefError, StoredRef, UrlRef, parse_path, parse_ref
from tests.support.images import png_bytes

PREFIXES = [
    "",
    "images://",
    "IMAGES://",
    "data:",
    "data:image/png;base64,",
    "data:text/plain;base64,",
    "http://",
    "https://[",
    "file:",
    "file://",
    "file:///",
    "file://[",
    "file:///C:/",
    "C:\\",
    "\\\\",
    "~/",
    "./",
    "../",
]
PNG_BASE64 = base64.b64encode(png_bytes((4, 4))).decode()

shaped = st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(PREFIXES), st.text(max_size=80))
base64_like = st.builds(
    lambda cut, junk: PNG_BASE64[:cut] + junk,
    st.integers(min_value=0, max_value=len(PNG_BASE64)),
    st.text(alphabet="ABCxyz019+/=_-\n %", max_size=8),
)
references = st.one_of(st.text(), shaped, base64_like)


@settings(max_examples=200, deadline=None)
@given(ref=references, windows=st.booleans())
def test_parse_ref_raises_only_its_own_error(ref: str, windows: bool) -> None:
    try:
        parsed = parse_ref(ref, windows=windows)
    except RefError:
        return
    assert isinstance(parsed, StoredRef | PathRef | UrlRef | InlineRef)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(min_size=1), shaped), windows=st.booleans())
def test_parse_path_raises_only_its_own_error(text: str, windows: bool) -> None:
    try:
        parsed = parse_path(text, windows=windows)
    except RefError:
        return
    assert isinstance(parsed, PathRef)


@pytest.mark.parametrize("ref", ["file://[abc/cat.png", "file://[::1/cat.png"])
def test_a_file_url_with_a_broken_host_is_refused_readably(ref: str) -> None:
    with pytest.raises(RefError) as refused:
        parse_ref(ref, windows=False)

    assert str(refused.value) == (
        f"The file URL {ref!r} cannot be read (Invalid IPv6 URL); use file:///path/to/image.png."
    )
