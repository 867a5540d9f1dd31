"""SVG answers (gpt-image-2.6): checked as safe, well-formed XML, measured, and rasterized for previews and inputs.

Parsing uses the standard library only. Python's expat neither fetches external entities nor (since expat 2.4)
lets entity expansion run away, but the safest rule costs nothing here: an SVG that declares entities or an
internal DTD subset is refused before any tree is built, so neither a "billion laughs" expansion nor an external
entity (XXE) can happen. A plain `<!DOCTYPE svg PUBLIC ...>` line, as many drawing tools write, is accepted; its
DTD is never fetched. That keeps us free of a dependency (defusedxml) for the one check we need.

Rasterizing uses resvg (the `resvg-py` wheel): a complete, actively maintained SVG renderer in Rust, shipped as a
self-contained wheel with no system libraries (CairoSVG needs the system's cairo; svglib's reportlab is large and
renders less of SVG). resvg would read files named by `<image href="/abs/path">`, so every reference that is not
inside the document (`#id`) or inline (`data:`) is removed first: an SVG must never make the server read a local
file into a preview. resvg runs no scripts and loads nothing from the network.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

from .info import SVG_MIME, ImageInfo, NotAnImageError

SVG_MAX_BYTES = 10 * 1024 * 1024
"""Largest SVG accepted; an image model's SVG is a few hundred kB at most."""
DEFAULT_SIDE = 1024
"""Width and height of an SVG that states neither (nor a viewBox): the size image models make by default."""
SVG_NS = "http://www.w3.org/2000/svg"
_PX_PER_UNIT = {"": 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}
_LENGTH = re.compile(r"^\s*(?P<number>\d*\.?\d+(?:[eE][-+]?\d+)?)\s*(?P<unit>px|pt|pc|mm|cm|in)?\s*$")


class _Refused(Exception):
    """Raised inside expat callbacks to stop parsing at the first thing we do not accept."""


def looks_like_svg(data: bytes) -> bool:
    """True when the bytes start like an XML document with an <svg> element near the top."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") and b"<svg" in head


def probe_svg(data: bytes, shown: str) -> ImageInfo:
    """Check an SVG (size, well-formed, no entities, <svg> root) and read its size in pixels."""
    attributes = _scan(data, shown)
    width, height = _size(attributes)
    return ImageInfo(SVG_MIME, width, height, has_alpha=True)


def rasterize(data: bytes, width: int, height: int, shown: str = "the SVG") -> bytes:
    """A PNG of the SVG drawn at width x height, with every outside reference removed first."""
    _scan(data, shown)
    import resvg_py  # the SVG renderer: only when an SVG is shown

    root = ET.fromstring(data)  # noqa: S314  (checked by _scan: no DTD subset, no entities)
    _drop_outside_references(root)
    if root.tag == "svg":  # no namespace given: resvg needs the SVG one
        root.set("xmlns", SVG_NS)
    natural = _size(dict(root.attrib))
    root.set("width", str(natural[0]))
    root.set("height", str(natural[1]))
    try:
        return bytes(
            resvg_py.svg_to_bytes(svg_string=ET.tostring(root, encoding="unicode"), width=width, height=height)
        )
    except ValueError as exc:
        raise NotAnImageError(f"{shown} is an SVG that could not be drawn ({exc}).") from exc


def _scan(data: bytes, shown: str) -> dict[str, str]:
    """Parse with expat, refusing what could expand or reach outside; return the root element's attributes."""
    if len(data) > SVG_MAX_BYTES:
        raise NotAnImageError(f"{shown} is an SVG of {len(data):,} bytes; the limit is {SVG_MAX_BYTES:,}.")
    roots: list[dict[str, str]] = []

    def doctype(_name: str, _system: str | None, _public: str | None, internal_subset: int) -> None:
        if internal_subset:
            raise _Refused("declares its own DTD subset")

    def entity(*_args: object) -> None:
        raise _Refused("declares an XML entity")

    def element(name: str, attributes: dict[str, str]) -> None:
        if roots:
            return
        local = name.rsplit(" ", 1)[-1]
        if local != "svg":
            raise _Refused(f"has a <{local}> root element instead of <svg>")
        roots.append({key.rsplit(" ", 1)[-1]: value for key, value in attributes.items()})

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.StartElementHandler = element
    try:
        parser.Parse(data, True)  # noqa: FBT003 - expat takes isfinal only by position
    except _Refused as exc:
        raise NotAnImageError(f"{shown} is not a safe SVG: it {exc}.") from exc
    except expat.ExpatError as exc:
        raise NotAnImageError(f"{shown} is not well-formed SVG ({exc}).") from exc
    return roots[0]


def _drop_outside_references(root: ET.Element) -> None:
    for element in root.iter():
        for key in [k for k in element.attrib if k.rsplit("}", 1)[-1] == "href"]:
            if not element.attrib[key].strip().startswith(("#", "data:")):
                del element.attrib[key]


def _size(attributes: dict[str, str]) -> tuple[int, int]:
    """Pixel size from width/height (absolute units), else the viewBox, else DEFAULT_SIDE; never below 1."""
    width, height = _length(attributes.get("width")), _length(attributes.get("height"))
    box = _view_box(attributes.get("viewBox"))
    if width is None and height is None and box is not None:
        width, height = box
    elif box is not None and box[0] > 0 and box[1] > 0:
        width = width if width is not None else (height or 0) * box[0] / box[1]
        height = height if height is not None else (width or 0) * box[1] / box[0]
    return max(1, round(width or DEFAULT_SIDE)), max(1, round(height or DEFAULT_SIDE))


def _length(value: str | None) -> float | None:
    match = _LENGTH.match(value or "")
    if match is None:
        return None  # absent, relative (%, em) or malformed
    return float(match.group("number")) * _PX_PER_UNIT[match.group("unit") or ""]


def _view_box(value: str | None) -> tuple[float, float] | None:
    parts = (value or "").replace(",", " ").split()
    try:
        _, _, width, height = (float(part) for part in parts)
    except ValueError:
        return None
    return (width, height) if width > 0 and height > 0 else None
