"""edit_image: multipart as the API expects, masks from images and from regions, dall-e-2 rules, save_to."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from PIL import Image

from tests.fake_openai import Emulator
from tests.support.images import alpha_at, animated_gif, decode_image, received_mask, write_png
from tests.support.results import text_of

pytestmark = pytest.mark.anyio


async def test_one_image_goes_as_image_and_several_as_image_array(
    client: Client, emulator: Emulator, home: Path
) -> None:
    first = write_png(home / "a.png", (1024, 1024), (255, 0, 0))
    second = write_png(home / "b.png", (512, 512), (0, 0, 255))

    single = await client.call_tool("edit_image", {"images": [str(first)], "prompt": "add a moon"})
    assert not single.is_error, text_of(single)
    [request] = emulator.requests_to("/images/edits")
    assert list(request.files) == ["image"]
    assert request.form["prompt"] == ["add a moon"]
    assert request.form["model"] == ["gpt-image-2.6-flare"]
    assert "response_format" not in request.form

    emulator.reset()
    several = await client.call_tool(
        "edit_image",
        {"images": [str(first), str(second)], "prompt": "combine", "input_fidelity": "high", "n": 2},
    )
    assert not several.is_error, text_of(several)
    [request] = emulator.requests_to("/images/edits")
    parts = request.files["image[]"]
    assert [p.data for p in parts] == [first.read_bytes(), second.read_bytes()]
    assert all(p.filename and p.content_type == "image/png" for p in parts)
    assert request.form["input_fidelity"] == ["high"]
    assert request.form["n"] == ["2"]
    assert several.structured_content is not None
    assert len(several.structured_content["images"]) == 2


async def test_edit_results_are_stored_with_their_sources(client: Client, home: Path) -> None:
    source = write_png(home / "room.png", (1024, 1024))

    result = await client.call_tool("edit_image", {"images": [str(source)], "prompt": "paint the walls blue"})

    assert result.structured_content is not None
    [entry] = result.structured_content["images"]
    assert set(result.structured_content) == {"images", "model", "usage", "cost"}
    sidecar = Path(entry["path"]).with_suffix(".json").read_text()
    assert str(source) in sidecar and '"operation": "edit"' in sidecar


@pytest.mark.parametrize("invert", [False, True])
async def test_mask_regions_are_drawn_where_asked(client: Client, emulator: Emulator, home: Path, invert: bool) -> None:
    source = write_png(home / "sky.png", (1024, 1024))
    regions = [
        {"shape": "rect", "x": 0, "y": 0, "width": 0.5, "height": 0.5},
        {"shape": "ellipse", "x": 0.6, "y": 0.6, "width": 0.3, "height": 0.3},
    ]

    result = await client.call_tool(
        "edit_image",
        {"images": [str(source)], "prompt": "purple sky", "mask_region": regions, "mask_invert": invert},
    )

    assert not result.is_error, text_of(result)
    mask = received_mask(emulator)
    assert mask.size == (1024, 1024)
    inside, outside = (255, 0) if invert else (0, 255)
    assert alpha_at(mask, 0.1, 0.1) == inside, "top-left quadrant"
    assert alpha_at(mask, 0.45, 0.45) == inside
    assert alpha_at(mask, 0.75, 0.75) == inside, "centre of the ellipse"
    assert alpha_at(mask, 0.61, 0.61) == outside, "corner of the ellipse's box is outside the ellipse"
    assert alpha_at(mask, 0.75, 0.25) == outside, "top-right quadrant"
    assert alpha_at(mask, 0.25, 0.75) == outside, "bottom-left quadrant"


async def test_a_black_and_white_mask_becomes_alpha(client: Client, emulator: Emulator, home: Path) -> None:
    source = write_png(home / "face.png", (256, 256))
    mask_image = Image.new("L", (256, 256), 0)
    mask_image.paste(255, (0, 0, 128, 256))
    mask_path = home / "mask.png"
    mask_image.save(mask_path)

    result = await client.call_tool("edit_image", {"images": [str(source)], "prompt": "x", "mask": str(mask_path)})

    assert not result.is_error, text_of(result)
    mask = received_mask(emulator)
    assert alpha_at(mask, 0.1, 0.5) == 0, "white means edit"
    assert alpha_at(mask, 0.9, 0.5) == 255, "black means keep"


async def test_an_rgba_mask_is_used_as_is(client: Client, emulator: Emulator, home: Path) -> None:
    source = write_png(home / "face.png", (256, 256))
    rgba = Image.new("RGBA", (256, 256), (0, 0, 0, 255))
    rgba.paste((0, 0, 0, 0), (128, 0, 256, 256))
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG")
    (home / "mask.png").write_bytes(buffer.getvalue())

    result = await client.call_tool("edit_image", {"images": [str(source)], "prompt": "x", "mask": "~/mask.png"})

    assert not result.is_error, text_of(result)
    mask = received_mask(emulator)
    assert alpha_at(mask, 0.9, 0.5) == 0 and alpha_at(mask, 0.1, 0.5) == 255


async def test_mask_refusals(client: Client, emulator: Emulator, home: Path) -> None:
    source = write_png(home / "big.png", (1024, 1024))
    small_mask = write_png(home / "small-mask.png", (512, 512))
    region = [{"shape": "rect", "x": 0, "y": 0, "width": 0.5, "height": 0.5}]
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"mask": str(small_mask)},
            f"The mask '{small_mask}' is 512x512 but the image is 1024x1024; they must be the same size. Resize the "
            "mask, or describe the area with mask_region instead.",
        ),
        (
            {"mask": str(small_mask), "mask_region": region},
            "Give either mask (an image) or mask_region (shapes), not both.",
        ),
        ({"mask_invert": True}, "mask_invert needs a mask or a mask_region to invert."),
        (
            {"mask_region": [{"shape": "rect", "x": 1.5, "y": 0, "width": 0.5, "height": 0.5}]},
            "mask_region shape 1: x is 1.5, but coordinates are fractions of the image from 0 to 1 (x, y = top-left "
            "corner; e.g. the top-left quadrant is x=0, y=0, width=0.5, height=0.5).",
        ),
        (
            {"mask_region": [{"shape": "rect", "x": 0.5, "y": 0.5, "width": 0, "height": 0.2}]},
            "mask_region shape 1 covers no pixels; give it a width and height.",
        ),
    ]
    for arguments, message in cases:
        result = await client.call_tool("edit_image", {"images": [str(source)], "prompt": "x", **arguments})
        assert result.is_error
        assert text_of(result) == message
    assert emulator.requests_except_models == []


async def test_dall_e_2_gets_a_square_png_and_refuses_other_shapes(
    client: Client, emulator: Emulator, home: Path
) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-2
    jpeg = home / "square.jpg"
    Image.new("RGB", (512, 512), (9, 9, 9)).save(jpeg, format="JPEG")
    wide = write_png(home / "wide.png", (600, 400))

    result = await client.call_tool("edit_image", {"images": [str(jpeg)], "prompt": "x", "model": "dall-e-2"})
    assert not result.is_error, text_of(result)
    [request] = emulator.requests_to("/images/edits")
    [part] = request.files["image"]
    assert part.content_type == "image/png"
    assert decode_image(part.data).size == (512, 512)
    assert request.form["response_format"] == ["b64_json"]
    assert "converted to PNG (lossless)" in text_of(result)

    emulator.reset()
    refused = await client.call_tool("edit_image", {"images": [str(wide)], "prompt": "x", "model": "dall-e-2"})
    assert refused.is_error
    assert text_of(refused) == (
        f"dall-e-2 edits need a square image, and '{wide}' is 600x400. Crop it to a square first, or use a GPT "
        "image model (e.g. gpt-image-2.6-flare), which accepts any aspect ratio."
    )
    too_many = await client.call_tool(
        "edit_image", {"images": [str(jpeg), str(jpeg)], "prompt": "x", "model": "dall-e-2"}
    )
    assert text_of(too_many) == "dall-e-2 edits take 1 to 1 image; got 2."
    no_edits = await client.call_tool("edit_image", {"images": [str(jpeg)], "prompt": "x", "model": "dall-e-3"})
    assert text_of(no_edits) == (
        "dall-e-3 does not support image edits. Models that do: gpt-image-2.6-flare, gpt-image-2.6-sunburst, "
        "gpt-image-2.5-flare, gpt-image-2.5-sunburst, gpt-image-2."
    )
    assert emulator.requests_except_models == []


async def test_save_to_writes_a_copy_and_refuses_to_overwrite(client: Client, home: Path, emulator: Emulator) -> None:
    project = home / "project"
    project.mkdir()
    source = write_png(home / "logo-draft.png", (1024, 1024))

    first = await client.call_tool(
        "edit_image", {"images": [str(source)], "prompt": "flat logo", "save_to": str(project / "assets/logo.png")}
    )
    assert not first.is_error, text_of(first)
    assert first.structured_content is not None
    saved = project / "assets" / "logo.png"
    assert first.structured_content["saved_to"] == [str(saved)]
    [entry] = first.structured_content["images"]
    assert saved.read_bytes() == Path(entry["path"]).read_bytes(), "the store keeps its own identical copy"

    emulator.reset()
    again = await client.call_tool(
        "edit_image", {"images": [str(source)], "prompt": "flat logo", "save_to": str(saved)}
    )
    assert again.is_error
    assert text_of(again) == f"{saved} already exists; pass overwrite: true to replace it, or choose another name."
    assert emulator.requests_except_models == [], "refused before paying for an image"

    replaced = await client.call_tool(
        "edit_image",
        {"images": [str(source)], "prompt": "flat logo", "save_to": str(saved), "overwrite": True, "n": 1},
    )
    assert not replaced.is_error, text_of(replaced)


async def test_save_to_a_folder_converts_by_extension(client: Client, home: Path) -> None:
    result = await client.call_tool(
        "generate_image", {"prompt": "icons", "n": 2, "save_to": "~/icons/", "quality": "low"}
    )
    assert result.structured_content is not None, text_of(result)
    saved = [Path(p) for p in result.structured_content["saved_to"]]
    assert [p.parent for p in saved] == [home / "icons"] * 2

    jpeg = await client.call_tool("generate_image", {"prompt": "icon", "save_to": "~/icon.jpg"})
    assert not jpeg.is_error, text_of(jpeg)
    with Image.open(home / "icon.jpg") as image:
        assert image.format == "JPEG"
    assert "icon.jpg was converted from image/png to JPEG." in text_of(jpeg)


async def test_save_to_outside_the_roots_is_refused_first(
    client: Client, emulator: Emulator, tmp_path: Path, output_dir: Path, home: Path
) -> None:
    result = await client.call_tool("generate_image", {"prompt": "x", "save_to": str(tmp_path / "elsewhere.png")})
    assert text_of(result) == (
        f"'{tmp_path / 'elsewhere.png'}' is outside the folders this server may use ({output_dir}, {home}), so it "
        "was not looked at. Use a path inside one of them, or add its folder to MCP_IMAGES_ALLOWED_DIRS."
    )
    hidden = await client.call_tool("generate_image", {"prompt": "x", "save_to": "~/.config/x.png"})
    assert text_of(hidden) == (
        "'~/.config/x.png' is inside a hidden file or folder ('.config'); the server does not use hidden paths."
    )
    bmp = await client.call_tool("generate_image", {"prompt": "x", "save_to": "~/x.bmp"})
    assert text_of(bmp) == (
        "save_to '~/x.bmp' must end in .png, .jpg, .jpeg, .webp, .gif or .svg, or name a folder to save into."
    )
    svg = await client.call_tool("generate_image", {"prompt": "x", "save_to": "~/x.svg"})
    assert text_of(svg) == (
        "save_to '~/x.svg' names an SVG file, but only output_format 'svg' makes SVG; use .png or .webp."
    )
    assert emulator.requests_except_models == []


async def test_save_to_the_output_folder_is_refused(client: Client, emulator: Emulator, output_dir: Path) -> None:
    result = await client.call_tool("generate_image", {"prompt": "x", "save_to": str(output_dir / "copy.png")})

    assert text_of(result) == (
        f"save_to '{output_dir / 'copy.png'}' is inside the output folder {output_dir}, where every image is "
        "already stored; choose another folder."
    )
    assert emulator.requests_except_models == []


async def test_an_animated_gif_input_is_edited_from_its_first_frame(
    client: Client, emulator: Emulator, home: Path
) -> None:
    (home / "dance.gif").write_bytes(animated_gif())

    result = await client.call_tool("edit_image", {"images": ["~/dance.gif"], "prompt": "make it calm"})

    assert not result.is_error, text_of(result)
    assert "'~/dance.gif' is an animated GIF (2 frames); its first frame was used." in text_of(result)
    [request] = emulator.requests_to("/images/edits")
    [upload] = request.files["image"]
    assert upload.content_type == "image/png"
