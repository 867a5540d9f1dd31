"""Allowed paths never escape their roots: whatever `..`, links, hidden folders or odd characters a path holds,
`allowed` either refuses it with its own error or returns a path that is, written and resolved, inside a root."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_server_images.inputs.paths import PathRefusedError, allowed


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """base/{root, other}: root is allowed and holds links that lead back in, out, and into hidden places."""
    base = tmp_path_factory.mktemp("paths")
    root, other = base / "root", base / "other"
    for folder in (root / "sub" / "deeper", root / ".hidden", other / "secret"):
        folder.mkdir(parents=True)
    (root / "sub" / "cat.png").write_bytes(b"cat")
    (other / "secret" / "key.png").write_bytes(b"key")
    (root / "in").symlink_to(root / "sub")
    (root / "out").symlink_to(other)
    (root / "sub" / "up").symlink_to(base)
    (root / "peek").symlink_to(root / ".hidden")
    (root / "loop").symlink_to(root / "loop")
    return base


FOLDERS = ["sub", "deeper", ".hidden", "other", "root", "..", "."]
LINKS = ["in", "out", "up", "peek", "loop"]
FILES = ["cat.png", "nul\x00.png"]
components = st.lists(st.one_of(st.sampled_from(FOLDERS + LINKS + FILES), st.text(min_size=1, max_size=6)), max_size=7)


def inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def visible_below(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


@settings(max_examples=200, deadline=None)
@given(parts=components, start=st.sampled_from(["root", "base", "other"]))
def test_allowed_paths_never_escape_their_roots(tree: Path, parts: list[str], start: str) -> None:
    root = tree / "root"
    origin = {"root": root, "base": tree, "other": tree / "other"}[start]
    candidate = origin.joinpath(*[part.replace("/", "_") for part in parts])
    try:
        checked = allowed(candidate, [root], "the path")
    except PathRefusedError:
        return
    assert inside(checked, root) and visible_below(checked, root)
    real = Path(os.path.realpath(checked))
    assert inside(real, Path(os.path.realpath(root))) and visible_below(real, Path(os.path.realpath(root)))


def test_a_nul_character_is_refused_by_name(tree: Path) -> None:
    with pytest.raises(PathRefusedError) as refused:
        allowed(tree / "root" / "cat\x00.png", [tree / "root"], "'cat.png'")

    assert str(refused.value) == (
        "'cat.png' contains a NUL character (\\x00), which no file name can hold; check how the path was written."
    )


@pytest.mark.parametrize(
    ("relative", "message"),
    [
        ("out/secret/key.png", "goes through a symbolic link that leads outside the allowed folders"),
        ("sub/up/other/secret/key.png", "goes through a symbolic link that leads outside the allowed folders"),
        ("peek/x.png", "leads to a hidden file or folder ('.hidden')"),
        (".hidden/x.png", "is inside a hidden file or folder ('.hidden')"),
        ("sub/../../other/secret/key.png", "is outside the folders this server may use"),
    ],
)
def test_each_way_out_is_refused_with_its_reason(tree: Path, relative: str, message: str) -> None:
    with pytest.raises(PathRefusedError, match=re.escape(message)):
        allowed(tree / "root" / relative, [tree / "root"], "the path")


def test_links_that_stay_inside_are_followed(tree: Path) -> None:
    root = tree / "root"

    assert allowed(root / "in" / "cat.png", [root], "the path") == root / "in" / "cat.png"
    assert allowed(root / "sub" / ".." / "sub" / "cat.png", [root], "the path") == root / "sub" / "cat.png"
