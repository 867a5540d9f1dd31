"""Animated GIF and SVG answers (gpt-image-2.6) are stored byte for byte, shown safely, and usable as inputs."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import BlobResourceContents
from PIL import Image

from mcp_server_images.errors import ParameterError
from mcp_server_images.imaging.convert import convert_to, flatten
from mcp_server_images.imaging.info import SVG_MIME, NotAnImageError
from mcp_server_images.imaging.previews import PREVIEW_MAX_SIDE, Shown, fit_preview, inline_image
from mcp_server_images.imaging.probe import check_input, probe
from mcp_server_images.imaging.svg import SVG_MAX_BYTES, rasterize
from mcp_server_images.inputs.fetch import UrlFetcher
from mcp_server_images.inputs.resolver import ImageResolver
from mcp_server_images.inputs.save_to import plan_save
from mcp_server_images.store import LocalStore, NewImage, Operation
from tests.fake_openai import Emulator
from tests.fake_openai.pictures import animation, vector
from tests.support.clock import FrozenClock
from tests.support.images import animated_gif, decode_image, png_bytes
from tests.support.results import images_in, text_of

pytestmark = pytest.mark.anyio

SVG_HEAD = '<svg xmlns="http://www.w3.org/2000/svg"'


def svg(attributes: str = 'width="300" height="200"', body: str = "") -> bytes:
    return f"{SVG_HEAD} {attributes}>{body}</svg>".encode()


HUGE_SVG = svg(body="<!--" + "x" * SVG_MAX_BYTES + "-->")


# --- through the MCP client ---------------------------------------------------------------------------------------


async def test_an_svg_answer_is_stored_as_svg_with_its_sidecar_and_served_as_a_blob(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": "a logo", "model": "gpt-image-2.6-flare", "output_format": "svg"}
    )

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    path = Path(entry["path"])
    assert path.suffix == ".svg" and path.parent == output_dir
    assert path.read_bytes() == emulator.sent_images[0], "stored byte for byte"
    assert (entry["mime_type"], entry["width"], entry["height"]) == (SVG_MIME, 1024, 1024)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["parameters"]["output_format"] == "svg" and sidecar["mime_type"] == SVG_MIME

    listing = await client.list_resources()
    assert [(str(r.uri), r.mime_type) for r in listing.resources] == [(entry["uri"], SVG_MIME)]
    read = await client.read_resource(entry["uri"])
    [contents] = read.contents
    assert isinstance(contents, BlobResourceContents) and contents.mime_type == SVG_MIME
    assert base64.b64decode(contents.blob) == path.read_bytes()

    listed = await client.call_tool("list_images", {"previews": True})
    [thumbnail] = images_in(listed)
    assert thumbnail.mime_type == "image/png", "an SVG is only ever shown rasterized"
    assert decode_image(base64.b64decode(thumbnail.data)).convert("RGB").getpixel((5, 5)) == (30, 60, 120)


async def test_an_animated_gif_answer_is_stored_byte_identical(client: Client, emulator: Emulator, home: Path) -> None:
    result = await client.call_tool(
        "generate_image",
        {"prompt": "a bouncing ball", "model": "gpt-image-2.6-sunburst", "output_format": "gif", "save_to": "~/out/"},
    )

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    path = Path(entry["path"])
    assert path.suffix == ".gif" and entry["mime_type"] == "image/gif"
    assert path.read_bytes() == emulator.sent_images[0]
    with Image.open(path) as image:
        assert getattr(image, "n_frames", 1) == 4
    assert (home / "out" / path.name).read_bytes() == path.read_bytes(), "save_to copies it unchanged"


# --- probing answers ----------------------------------------------------------------------------------------------


def test_an_animated_gif_answer_is_probed_with_its_frames() -> None:
    info = probe(animation(64, 48, frames=5))
    assert (info.mime_type, info.width, info.height, info.frames, info.extension) == ("image/gif", 64, 48, 5, "gif")
    assert info.animated


def test_a_damaged_later_frame_is_refused() -> None:
    data = animation(64, 48, frames=5)
    with pytest.raises(NotAnImageError, match="truncated or damaged"):
        probe(data[: len(data) * 3 // 4])


@pytest.mark.parametrize(
    ("document", "size"),
    [
        (svg('width="300" height="200"'), (300, 200)),
        (svg('width="300px" height="2in"'), (300, 192)),
        (svg('viewBox="0 0 640 480"'), (640, 480)),
        (svg('width="100%" height="100%" viewBox="0,0,800,600"'), (800, 600)),
        (svg('width="400" viewBox="0 0 800 600"'), (400, 300)),
        (svg(""), (1024, 1024)),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
            b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n' + svg('width="10" height="20"'),
            (10, 20),
        ),
    ],
)
def test_an_svg_answer_is_measured(document: bytes, size: tuple[int, int]) -> None:
    info = probe(document)
    assert (info.mime_type, info.extension, (info.width, info.height)) == (SVG_MIME, "svg", size)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            b'<!DOCTYPE svg [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>' + svg(body="&lol2;"),
            "the image is not a safe SVG: it declares its own DTD subset.",
        ),
        (
            b'<!DOCTYPE svg [<!ENTITY secret SYSTEM "file:///etc/passwd">]>' + svg(body="&secret;"),
            "the image is not a safe SVG: it declares its own DTD subset.",
        ),
        (b"<svg><g></svg>", "the image is not well-formed SVG (mismatched tag: line 1, column 10)."),
        (b"<html><svg/></html>", "the image is not a safe SVG: it has a <html> root element instead of <svg>."),
        (HUGE_SVG, f"the image is an SVG of {len(HUGE_SVG):,} bytes; the limit is {SVG_MAX_BYTES:,}."),
    ],
)
def test_unsafe_or_broken_svg_is_refused(document: bytes, message: str) -> None:
    with pytest.raises(NotAnImageError) as caught:
        probe(document)
    assert str(caught.value) == message


def test_inputs_refuse_svg_and_animation_unless_flattened() -> None:
    with pytest.raises(NotAnImageError, match=r"^'logo.svg' is an SVG \(vector\) image; this tool needs PNG"):
        check_input(svg(), "'logo.svg'", 10**7)
    with pytest.raises(NotAnImageError, match="is animated"):
        check_input(animated_gif(), "'dance.gif'", 10**7)
    assert check_input(svg(), "'logo.svg'", 10**7, flatten=True).vector
    assert check_input(animated_gif(), "'dance.gif'", 10**7, flatten=True).frames == 2


# --- rasterizing, previews, conversions ---------------------------------------------------------------------------


def test_rasterizing_never_reads_local_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes((10, 10), (255, 0, 0)))
    inline = base64.b64encode(png_bytes((10, 10), (0, 255, 0))).decode()
    document = svg(
        'xmlns:xlink="http://www.w3.org/1999/xlink" width="20" height="10"',
        f'<image href="{secret}" width="10" height="10"/>'
        f'<image xlink:href="file://{secret}" x="0" width="10" height="10"/>'
        f'<image href="data:image/png;base64,{inline}" x="10" width="10" height="10"/>',
    )

    image = decode_image(rasterize(document, 20, 10)).convert("RGBA")

    assert image.getpixel((5, 5)) == (0, 0, 0, 0), "the reference to a local file was dropped"
    assert image.getpixel((15, 5)) == (0, 255, 0, 255), "inline data is drawn"


def test_an_svg_without_namespace_or_size_is_still_drawn() -> None:
    document = b'<svg viewBox="0 0 30 20"><rect width="30" height="20" fill="#ff0000"/></svg>'
    image = decode_image(rasterize(document, 60, 40)).convert("RGB")
    assert image.size == (60, 40) and image.getpixel((30, 20)) == (255, 0, 0)


def test_an_svg_preview_is_a_png_rendering() -> None:
    preview = inline_image(vector(2048, 1152), SVG_MIME, (2048, 1152), 900_000)
    assert (preview.mime_type, preview.shows) == ("image/png", Shown.RASTERIZED)
    assert (preview.width, preview.height) == (PREVIEW_MAX_SIDE, 882)
    assert decode_image(preview.data).size == (PREVIEW_MAX_SIDE, 882)
    tight = fit_preview(vector(1024, 1024), 3_000)
    assert tight.shows is Shown.RASTERIZED and len(tight.data) <= 3_000


def test_an_animation_is_shown_moving_when_it_fits_else_its_first_frame() -> None:
    gif = animation(1024, 1024)
    moving = inline_image(gif, "image/gif", (1024, 1024), len(gif))
    assert (moving.data, moving.shows, moving.mime_type) == (gif, Shown.ANIMATION, "image/gif")

    still = inline_image(gif, "image/gif", (1024, 1024), len(gif) - 1)
    assert still.shows is Shown.FIRST_FRAME and len(still.data) < len(gif)
    first = decode_image(still.data).convert("RGB")
    assert getattr(first, "n_frames", 1) == 1
    assert first.getpixel((5, 5)) == pytest.approx((30, 60, 120), abs=6)
    assert str(Shown.FIRST_FRAME) == "the first frame of the animation"


def test_stills_are_shown_as_they_are_when_small() -> None:
    small = png_bytes((200, 100))
    assert inline_image(small, "image/png", (200, 100), 100_000).shows is Shown.ORIGINAL
    assert inline_image(small, "image/png", (200, 100), 100_000, full=True).data == small
    assert inline_image(small, "image/png", (200, 100), 200).shows is Shown.PREVIEW


def test_flattening_inputs_for_edits() -> None:
    gif = animated_gif()
    data, info, note = flatten(gif, check_input(gif, "'dance.gif'", 10**7, flatten=True), "'dance.gif'", 10**7)
    assert (info.mime_type, info.frames) == ("image/png", 1)
    assert decode_image(data).convert("RGB").getpixel((1, 1)) == (255, 0, 0), "the first frame"
    assert note == "'dance.gif' is an animated GIF (2 frames); its first frame was used."

    big = vector(4000, 2000)
    data, info, note = flatten(big, check_input(big, "'logo.svg'", 10**7, flatten=True), "'logo.svg'", 2_000_000)
    assert (info.mime_type, info.width, info.height) == ("image/png", 2000, 1000), "within 2,000,000 pixels"
    assert decode_image(data).size == (2000, 1000)
    assert note == "'logo.svg' is an SVG; it was rasterized to a 2000x1000 PNG first."

    still = png_bytes()
    assert flatten(still, check_input(still, "x", 10**7), "x", 10**7) == (still, check_input(still, "x", 10**7), None)


def test_saving_in_another_format() -> None:
    png = convert_to(vector(300, 200), SVG_MIME, "PNG")
    assert decode_image(png).size == (300, 200)
    jpeg = convert_to(animated_gif(), "image/gif", "JPEG")
    assert decode_image(jpeg).format == "JPEG"
    assert decode_image(jpeg).convert("RGB").getpixel((1, 1)) == pytest.approx((255, 0, 0), abs=8), "the first frame"
    with pytest.raises(NotAnImageError, match="cannot be saved as SVG"):
        convert_to(png_bytes(), "image/png", "SVG")


def test_save_to_an_svg_file_needs_svg_output(home: Path, tmp_path: Path) -> None:
    options = {"count": 1, "overwrite": False, "roots": [home], "bases": [home], "store_root": tmp_path / "images"}
    plan = plan_save("~/logo.svg", output_format="svg", **options)  # type: ignore[arg-type]
    assert plan.files == [home / "logo.svg"]
    with pytest.raises(ParameterError, match="only output_format 'svg' makes SVG"):
        plan_save("~/logo.svg", output_format="png", **options)  # type: ignore[arg-type]


# --- the store and the resolver -----------------------------------------------------------------------------------


@pytest.fixture
async def resolver(output_dir: Path) -> AsyncIterator[tuple[LocalStore, ImageResolver]]:
    store = LocalStore(output_dir, FrozenClock())
    fetcher = UrlFetcher(allow_private=False, timeout=5, max_bytes=10**7)
    try:
        yield store, ImageResolver(store=store, fetcher=fetcher, extra_roots=[], max_bytes=10**7, max_pixels=10**7)
    finally:
        await fetcher.aclose()


async def test_stored_gif_and_svg_can_be_edit_inputs(resolver: tuple[LocalStore, ImageResolver]) -> None:
    store, images = resolver
    meta = NewImage(prompt="p", model="gpt-image-2.6-flare", operation=Operation.GENERATE, parameters={})
    gif_record = store.save(animation(64, 64), probe(animation(64, 64)), meta)
    svg_record = store.save(vector(300, 200), probe(vector(300, 200)), meta)
    assert (Path(gif_record.name).suffix, Path(svg_record.name).suffix) == (".gif", ".svg")
    assert store.get(svg_record.id).mime_type == SVG_MIME

    with pytest.raises(NotAnImageError, match="is animated"):
        await images.resolve(gif_record.id)
    first = await images.resolve(gif_record.id, flatten=True)
    assert (first.info.mime_type, first.stored_id) == ("image/png", gif_record.id)
    assert first.note == f"'{gif_record.id}' is an animated GIF (4 frames); its first frame was used."
    [drawn] = await images.resolve_all([svg_record.uri], flatten=True)
    assert (drawn.info.mime_type, drawn.info.width, drawn.info.height) == ("image/png", 300, 200)
    assert drawn.note == f"'{svg_record.uri}' is an SVG; it was rasterized to a 300x200 PNG first."
