"""Image references of every form, and every refusal, seen through edit_image as a user meets them.

Each accepted form is checked by the bytes the emulator received; each refusal by its exact message and by the
emulator having received nothing at all.
"""

from __future__ import annotations

import base64
from pathlib import Path, PureWindowsPath

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ListRootsResult, Root
from PIL import Image
from pydantic import FileUrl

from mcp_server_images.inputs.refs import InlineRef, PathRef, StoredRef, UrlRef, parse_ref
from tests.fake_openai import Emulator, Fault
from tests.support.images import decode_image, encoded, pixel_bomb, png_bytes, write_png
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio


def edit_inputs(emulator: Emulator) -> list[bytes]:
    """The image parts of the one edit request the emulator received."""
    [request] = emulator.requests_to("/images/edits")
    parts = request.files.get("image", []) + request.files.get("image[]", [])
    return [part.data for part in parts]


async def edit(client: Client, image: str, **arguments: object) -> tuple[bool, str]:
    result = await client.call_tool("edit_image", {"images": [image], "prompt": "add a hat", **arguments})
    return bool(result.is_error), text_of(result)


# --- accepted forms -------------------------------------------------------------------------------------------


async def test_a_stored_id_its_prefix_and_its_uri(client: Client, emulator: Emulator) -> None:
    emulator.set(serves_retired=True)  # a gateway that still serves dall-e-2, for a small image
    made = await client.call_tool("generate_image", {"prompt": "a cat", "model": "dall-e-2", "size": "256x256"})
    assert made.structured_content is not None
    [entry] = made.structured_content["images"]
    original = Path(entry["path"]).read_bytes()

    for ref in (entry["id"], entry["id"][:5], entry["uri"]):
        emulator.reset()
        failed, text = await edit(client, ref)
        assert not failed, text
        assert edit_inputs(emulator) == [original]


@pytest.mark.parametrize("form", ["absolute", "tilde", "file-url", "relative"])
async def test_local_paths(
    client: Client, emulator: Emulator, home: Path, monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    path = write_png(home / "Desktop" / "cat.png", color=(10, 20, 30))
    monkeypatch.chdir(home)
    ref = {
        "absolute": str(path),
        "tilde": "~/Desktop/cat.png",
        "file-url": path.as_uri(),
        "relative": "Desktop/cat.png",
    }[form]

    failed, text = await edit(client, ref)

    assert not failed, text
    assert edit_inputs(emulator) == [path.read_bytes()]


async def test_data_url_and_bare_base64(client: Client, emulator: Emulator) -> None:
    jpeg = encoded((40, 30), (0, 128, 255), "JPEG")
    for ref in (f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}", base64.b64encode(jpeg).decode()):
        emulator.reset()
        failed, text = await edit(client, ref)
        assert not failed, text
        [sent] = edit_inputs(emulator)
        assert sent == jpeg
        [request] = emulator.requests_to("/images/edits")
        assert request.files["image"][0].content_type == "image/jpeg"


async def test_an_http_url_on_an_allowed_local_server(make_settings: SettingsFactory, emulator: Emulator) -> None:
    webp = encoded((50, 50), (0, 200, 0), "WEBP")
    url = emulator.serve_file("leaf.webp", webp, "image/webp")
    async with open_client(make_settings(allow_private_urls=True)) as client:
        failed, text = await edit(client, url)

    assert not failed, text
    assert edit_inputs(emulator) == [webp]


async def test_allowed_dirs_setting_adds_a_root(
    make_settings: SettingsFactory, emulator: Emulator, tmp_path: Path
) -> None:
    path = write_png(tmp_path / "shared" / "art.png")
    async with open_client(make_settings(allowed_dirs=str(tmp_path / "shared"))) as client:
        failed, text = await edit(client, str(path))
    assert not failed, text


async def test_a_gif_is_converted_to_png_for_gpt_models(client: Client, emulator: Emulator, home: Path) -> None:
    gif = home / "still.gif"
    Image.new("RGB", (30, 20), (200, 100, 0)).save(gif, format="GIF")

    failed, text = await edit(client, str(gif))

    assert not failed, text
    [sent] = edit_inputs(emulator)
    assert decode_image(sent).format == "PNG"
    assert "converted from GIF to PNG" in text


def test_windows_forms_are_parsed_as_windows_paths() -> None:
    for ref, expected in (
        (r"C:\Users\me\cat.png", r"C:\Users\me\cat.png"),
        ("C:/Users/me/cat.png", r"C:\Users\me\cat.png"),
        ("file:///C:/Users/me/My%20Pictures/cat.png", r"C:\Users\me\My Pictures\cat.png"),
        (r"\\server\share\cat.png", r"\\server\share\cat.png"),
        ("file://server/share/cat.png", r"\\server\share\cat.png"),
    ):
        parsed = parse_ref(ref, windows=False)
        assert isinstance(parsed, PathRef) and parsed.windows
        assert parsed.path == PureWindowsPath(expected)
    native = parse_ref(r"cats\tabby.png", windows=True)
    assert isinstance(native, PathRef) and native.path == PureWindowsPath(r"cats\tabby.png")


def test_ref_kinds() -> None:
    assert parse_ref("3f9a", windows=False) == StoredRef("3f9a")
    assert parse_ref("images://3f9a2c7b", windows=False) == StoredRef("3f9a2c7b")
    assert parse_ref("https://example.com/a.png", windows=False) == UrlRef("https://example.com/a.png")
    assert isinstance(parse_ref(base64.b64encode(png_bytes()).decode(), windows=False), InlineRef)
    assert parse_ref("/tmp/a.png", windows=False) == PathRef(Path("/tmp/a.png"), windows=False)


# --- refusals: exact messages, nothing sent -------------------------------------------------------------------


async def test_refusals_send_nothing_upstream(
    make_settings: SettingsFactory, emulator: Emulator, home: Path, tmp_path: Path, output_dir: Path
) -> None:
    outside = write_png(tmp_path / "outside" / "cat.png")
    write_png(home / ".secret" / "cat.png")
    link = home / "link.png"
    link.symlink_to(outside)
    text_file = home / "notes.png"
    text_file.write_text("not an image at all")
    bomb = home / "bomb.png"
    bomb.write_bytes(pixel_bomb(10_000, 10_000))
    truncated = home / "cut.png"
    truncated.write_bytes(png_bytes((300, 300), (1, 2, 3))[:200])
    roots = f"{output_dir}, {home}"

    cases = {
        str(outside): f"'{outside}' is outside the folders this server may use ({roots}), so it was not looked at. "
        "Use a path inside one of them, or add its folder to MCP_IMAGES_ALLOWED_DIRS.",
        "~/.secret/cat.png": "'~/.secret/cat.png' is inside a hidden file or folder ('.secret'); the server does "
        "not use hidden paths.",
        str(link): f"'{link}' goes through a symbolic link that leads outside the allowed folders (to {outside}); "
        "the server does not follow it.",
        str(text_file): f"'{text_file}' is not an image the server can read (PNG, JPEG, WebP or GIF).",
        str(bomb): f"'{bomb}' is 10000x10000 = 100,000,000 pixels; the limit is 64,000,000. Downscale it first.",
        "~/missing.png": f"No file at {home / 'missing.png'} (from '~/missing.png').",
        r"C:\Users\me\cat.png": r"'C:\\Users\\me\\cat.png' is a Windows path, but this server runs on a POSIX "
        "system (macOS or Linux); give a path on its machine.",
        "data:image/png;base64,@@@@": "The image data in 'data:image/png;base64,@@@@' is not valid base64 "
        "(Only base64 data is allowed).",
        "data:text/html;base64,PGI+aGk8L2I+": "The data URL 'data:text/html;base64,PGI+aGk8L2I+' holds text/html, "
        "not an image.",
        "sunset": "Cannot tell what image 'sunset' refers to. Give a stored image id (see list_images), an image "
        "URI (images://<id>), a file path, an http(s) URL, a data:image/...;base64 URL, or base64 image data.",
        "deadbeef": f"No stored image has id 'deadbeef' in {output_dir}. Call list_images to see the stored ids.",
    }
    async with open_client(make_settings()) as client:
        for ref, message in cases.items():
            failed, text = await edit(client, ref)
            assert failed, ref
            if ref == str(truncated):
                continue
            assert text == message, ref
        failed, text = await edit(client, str(truncated))
        assert failed
        assert text.startswith(f"'{truncated}' is truncated or damaged and cannot be decoded")
    assert emulator.requests_except_models == []


async def test_private_addresses_are_refused_before_connecting(client: Client, emulator: Emulator) -> None:
    loopback = emulator.serve_file("cat.png", png_bytes(), "image/png")
    cases = {
        loopback: "Refusing to fetch an image from 127.0.0.1: it resolves to 127.0.0.1, a loopback address. Only "
        "public addresses are fetched; set MCP_IMAGES_ALLOW_PRIVATE_URLS=true to allow loopback and private ones.",
        "http://localhost:9/cat.png": "Refusing to fetch an image from localhost: it resolves to 127.0.0.1, a "
        "loopback address. Only public addresses are fetched; set MCP_IMAGES_ALLOW_PRIVATE_URLS=true to allow "
        "loopback and private ones.",
        "http://10.1.2.3/cat.png": "Refusing to fetch an image from 10.1.2.3: it resolves to 10.1.2.3, a private "
        "address. Only public addresses are fetched; set MCP_IMAGES_ALLOW_PRIVATE_URLS=true to allow loopback and "
        "private ones.",
        "http://169.254.169.254/latest/meta-data": "Refusing to fetch an image from 169.254.169.254: it resolves to "
        "169.254.169.254, a link-local address. Only public addresses are fetched; this kind is never fetched.",
        "http://[::1]/cat.png": "Refusing to fetch an image from ::1: it resolves to ::1, a loopback address. Only "
        "public addresses are fetched; set MCP_IMAGES_ALLOW_PRIVATE_URLS=true to allow loopback and private ones.",
    }
    for url, message in cases.items():
        failed, text = await edit(client, url)
        assert failed
        assert text == message
    assert emulator.requests_except_models == [], "not even the loopback emulator was contacted"


async def test_every_redirect_hop_is_checked(make_settings: SettingsFactory, emulator: Emulator) -> None:
    start = emulator.serve_file("hop.png", b"", "image/png")
    emulator.enqueue(
        Fault(status=302, path="/files/hop.png", body=b"", headers={"location": "http://169.254.169.254/x.png"})
    )
    async with open_client(make_settings(allow_private_urls=True)) as client:
        failed, text = await edit(client, start)

    assert failed
    assert text == (
        "Refusing to fetch an image from 169.254.169.254: it resolves to 169.254.169.254, a link-local address. "
        "Only public addresses are fetched; this kind is never fetched."
    )
    assert [r.path for r in emulator.requests_except_models] == ["/files/hop.png"]


async def test_oversized_and_non_image_urls(make_settings: SettingsFactory, emulator: Emulator) -> None:
    big = emulator.serve_file("big.png", png_bytes((900, 900)) + b"\0" * 60_000, "image/png")
    page = emulator.serve_file("page.html", b"<html></html>", "text/html")
    async with open_client(make_settings(allow_private_urls=True, max_input_bytes=50_000)) as client:
        failed_big, text_big = await edit(client, big)
        failed_page, text_page = await edit(client, page)

    assert failed_big and failed_page
    size = len(png_bytes((900, 900))) + 60_000
    assert text_big == f"{big} is {size:,} bytes; the largest image fetched is 50,000 bytes."
    assert text_page == f"{page} answered with content type 'text/html', not an image."
    assert emulator.requests_to("/images/") == []


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_client_roots_become_readable(
    make_settings: SettingsFactory, emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    project = tmp_path / "project"
    logo = write_png(project / "logo.png", color=(1, 2, 3))

    async def roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=FileUrl(project.as_uri()), name="project")])

    async with open_client(make_settings()) as without_roots:
        refused, _ = await edit(without_roots, str(logo))
    assert refused
    async with open_client(make_settings(), list_roots_callback=roots, mode=mode) as with_roots:
        failed, text = await edit(with_roots, "logo.png")
    if mode == "legacy":
        assert not failed, text
        assert edit_inputs(emulator) == [logo.read_bytes()], "a relative path starts at the client's first root"
    else:
        # The 2026-07-28 protocol retired roots; such clients name folders through MCP_IMAGES_ALLOWED_DIRS instead.
        assert failed
        assert text.startswith("No file 'logo.png' in the folders a relative path is looked for in ("), text


async def test_a_relative_path_that_is_nowhere_says_where_it_was_looked_for(
    client: Client, emulator: Emulator, output_dir: Path
) -> None:
    """A typo, or a file in another folder: not "outside the folders this server may use", which it may not be."""
    result = await client.call_tool("edit_image", {"images": ["Desktop/cat.png"], "prompt": "add a hat"})

    assert result.is_error
    assert text_of(result) == (
        f"No file 'Desktop/cat.png' in the folders a relative path is looked for in ({Path.cwd()}, {output_dir}). "
        "Give the image's full path (for example ~/Pictures/cat.png), or a stored image id."
    )
    assert emulator.requests_except_models == []
