"""The image app in a real browser: Chromium (from Debian) driven by Playwright, with a test host page that uses
the ext-apps AppBridge from npm the way a chat client does, against the server on streamable HTTP with the
emulator upstream.

One server and one browser serve the whole module. Every wait is on something the page or the emulator shows
(Playwright's expect and wait_for_function), never a number of seconds. Each test ends by checking that neither
the host page nor the app logged an error, and leaves a screenshot of its view in build/screenshots/
(`make screenshots` copies them to tests/screenshots/, which the README shows).
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Frame, Page, Route, expect, sync_playwright

from tests.fake_openai import Emulator
from tests.support.credentials import ISSUER
from tests.support.outside import REPO, NodeTools, installed_chromium
from tests.support.servers import http_server, server_env
from tests.support.web import static_site

pytestmark = [pytest.mark.browser, pytest.mark.outside, pytest.mark.subprocess]

HOST_SOURCE = REPO / "tests" / "node" / "app_host"
BUILD = REPO / "build"
SCREENSHOTS = BUILD / "screenshots"
GENERATIONS = "/images/generations"
EDITS = "/images/edits"
APP_TIMEOUT_MS = 30_000
"""How long Playwright waits for something the page should show at once on an idle machine: generous for load."""
TOKEN = "app-host-token-7d2e"
TIMES, DASH = "\N{MULTIPLICATION SIGN}", "\N{EN DASH}"
QUOTED_ZEBRA = "\N{LEFT DOUBLE QUOTATION MARK}zebra\N{RIGHT DOUBLE QUOTATION MARK}"
READABLE_TIME = re.compile(r"^(Generated|Edited|Varied) \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC$")
"""How the app dates an image in the host's locale (en-GB) and zone (UTC): "Generated 20 Nov 2026, 09:00 UTC"."""


@pytest.fixture(scope="module")
def chromium() -> Path:
    return installed_chromium()


@pytest.fixture(scope="module")
def host_bundle(node_tools: NodeTools) -> Path:
    """The test host's script with AppBridge and the TypeScript MCP client, bundled for the browser by esbuild."""
    bundle = BUILD / "app-host" / "host.js"
    subprocess.run([*node_tools.script("app_host/build.mjs"), str(bundle)], check=True, env=node_tools.env())
    return bundle


@pytest.fixture(scope="module")
def app_server(emulator_server: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The server on streamable HTTP; a short response deadline so a held generation turns into a job at once."""
    output_dir = tmp_path_factory.mktemp("app-images")
    env = server_env(emulator_server, output_dir, MCP_IMAGES_RESPONSE_DEADLINE="0.5")
    with http_server(env) as (origin, _):
        yield origin, output_dir


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Host:
    """The test host page and the app frame inside it, with every error either of them logged."""

    page: Page
    output_dir: Path
    errors: list[str] = field(default_factory=list)

    def run(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call a tool as the model would; the host shows its app with the result."""
        result: dict[str, Any] = self.page.evaluate("([name, args]) => host.run(name, args)", [tool, arguments])
        return result

    @property
    def app(self) -> Frame:
        frame = self.page.locator("#app").element_handle().content_frame()
        assert frame is not None
        return frame

    def shows_image(self, selector: str) -> None:
        """Wait until the app shows a decoded image (not a broken icon) at `selector`."""
        self.app.wait_for_function(
            "s => { const img = document.querySelector(s); return img && img.complete && img.naturalWidth > 0 }",
            arg=selector,
            timeout=APP_TIMEOUT_MS,
        )

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.locator("#app").screenshot(path=SCREENSHOTS / name)

    def assert_no_errors(self) -> None:
        assert self.errors == [], "the host page or the app logged errors"


def open_page(browser: Browser, output_dir: Path) -> tuple[Page, Host]:
    """A fresh page that records every error the host page or the app logs."""
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    page = context.new_page()
    opened = Host(page, output_dir)
    page.on("console", lambda message: _record(opened.errors, message))
    page.on("pageerror", lambda error: opened.errors.append(f"uncaught: {error}"))
    page.set_default_timeout(APP_TIMEOUT_MS)
    return page, opened


@pytest.fixture
def host(browser: Browser, app_server: tuple[str, Path], host_bundle: Path, emulator: Emulator) -> Iterator[Host]:
    """A fresh host page at the server's own address (so its MCP client is same-origin), connected and ready. It
    behaves as the strict hosts do: the frame stays hidden and gets no tool data until the app has initialized."""
    origin, output_dir = app_server
    page, opened = open_page(browser, output_dir)

    def serve(route: Route) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        source = host_bundle if name == "host.js" else HOST_SOURCE / "index.html"
        kind = "text/javascript" if name == "host.js" else "text/html"
        route.fulfill(body=source.read_bytes(), content_type=kind)

    page.route(f"{origin}/test-host/*", serve)
    page.goto(f"{origin}/test-host/index.html?strict=1")
    page.wait_for_selector("body[data-ready=true]", state="attached")
    yield opened
    page.context.close()


def _record(errors: list[str], message: ConsoleMessage) -> None:
    if message.type == "error":
        errors.append(f"console: {message.text}")


def stored_file(output_dir: Path, image_id: str) -> Path:
    [path] = [p for p in output_dir.iterdir() if image_id in p.name and p.suffix != ".json"]
    return path


def shown_pixel(frame: Frame, selector: str, x: float, y: float) -> list[int]:
    """The RGBA the page decoded at a point of an image (fractions of its size), read back through a canvas."""
    pixel: list[int] = frame.evaluate(
        """([s, x, y]) => {
            const img = document.querySelector(s);
            const [w, h] = [img.naturalWidth, img.naturalHeight];
            const ctx = Object.assign(document.createElement("canvas"), {width: w, height: h}).getContext("2d");
            ctx.drawImage(img, 0, 0);
            return Array.from(ctx.getImageData(Math.floor(x * w), Math.floor(y * h), 1, 1).data);
        }""",
        [selector, x, y],
    )
    return pixel


def fact(frame: Frame, name: str) -> str:
    """The value the result view shows beside `name` in its facts."""
    value: str = frame.locator("#facts dt", has_text=name).locator("xpath=following-sibling::dd[1]").inner_text()
    return value


def test_result_view_shows_the_generated_image_at_full_size(host: Host, emulator: Emulator) -> None:
    emulator.set(content_credentials=True)
    host.run("generate_image", {"prompt": "a red kite over green hills"})

    host.shows_image("#after")
    app = host.app
    image_id = app.locator(".card").first.get_attribute("data-id")
    assert image_id
    stored = Image.open(stored_file(host.output_dir, image_id)).convert("RGBA")
    assert app.evaluate("() => document.querySelector('#after').naturalWidth") == stored.width
    for x, y in [(0.5, 0.5), (0.1, 0.9)]:
        expected = stored.getpixel((int(x * stored.width), int(y * stored.height)))
        assert isinstance(expected, tuple)
        shown = shown_pixel(app, "#after", x, y)
        assert all(abs(a - b) <= 8 for a, b in zip(shown, expected, strict=True)), (shown, expected)
    facts = app.locator("#facts")
    expect(facts).to_contain_text("a red kite over green hills")
    expect(facts).to_contain_text(f"{stored.width}\N{MULTIPLICATION SIGN}{stored.height}")
    assert re.fullmatch(
        r"\$\d+\.\d{3,4}, from the tokens this call used at the model's list prices"
        r"(; estimated \$\d+\.\d{3,4} beforehand)?",
        fact(app, "Cost"),
    ), "plain words; the formula is in the tooltip"
    assert "usage x catalog prices" in (app.locator("#facts dd[title]").first.get_attribute("title") or "")
    assert READABLE_TIME.match(fact(app, "Made")), fact(app, "Made")
    credentials = f"Issued by {ISSUER} · AI-generated · signature valid (signer not on the C2PA trust list)"
    assert fact(app, "Content Credentials") == credentials
    host.screenshot("result-view.png")

    host.page.evaluate("host.setTheme('dark')")
    expect(app.locator("html")).to_have_attribute("data-theme", "dark")
    host.screenshot("result-view-dark.png")
    host.assert_no_errors()


def test_gallery_lists_newest_first_and_searches(host: Host) -> None:
    host.run("generate_image", {"prompt": "a zebra reading a newspaper"})
    host.shows_image("#after")
    host.run("generate_image", {"prompt": "a lighthouse in fog"})
    host.shows_image("#after")
    app = host.app

    app.locator("#tab-gallery").click()
    cards = app.locator("#grid .card")
    expect(cards.first).to_contain_text("a lighthouse in fog")
    expect(cards.nth(1)).to_contain_text("a zebra reading a newspaper")
    app.wait_for_function("() => [...document.querySelectorAll('#grid img')].every(i => i.naturalWidth > 0)")
    meta = cards.first.locator(".meta").inner_text()
    assert re.fullmatch(rf"\d{{1,2}} [A-Z][a-z]{{2}} \d{{4}} · gpt-image-2\.6-flare · 1024{TIMES}1024", meta), meta
    expect(app.locator("#count")).to_have_text(re.compile(rf"^Page 1 of \d+ · images 1{DASH}\d+ of \d+$"))

    app.locator("#query").fill("zebra")
    app.locator("#query").press("Enter")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("a zebra reading a newspaper")
    expect(app.locator("#count")).to_have_text(f"Page 1 of 1 · images 1{DASH}1 of 1 matching {QUOTED_ZEBRA}")
    app.locator("#query").fill("")
    app.locator("#query").press("Enter")
    expect(cards.first).to_contain_text("a lighthouse in fog")
    host.screenshot("gallery.png")

    cards.first.press("Enter")
    expect(app.locator("#result")).to_be_visible()
    expect(app.locator("#facts")).to_contain_text("a lighthouse in fog")
    host.shows_image("#after")
    host.assert_no_errors()


def test_a_painted_rectangle_is_the_edit_mask(host: Host, emulator: Emulator) -> None:
    host.run("generate_image", {"prompt": "a bowl of fruit"})
    host.shows_image("#after")
    app = host.app
    app.locator("#act-edit").click()
    paint = app.locator("#paint")
    expect(paint).to_be_focused()
    paint.press("r")
    expect(app.locator("#tool-rect")).to_have_attribute("aria-pressed", "true")

    box = paint.bounding_box()
    assert box is not None
    left, top, right, bottom = 0.25, 0.30, 0.60, 0.55
    mouse = host.page.mouse
    mouse.move(box["x"] + left * box["width"], box["y"] + top * box["height"])
    mouse.down()
    mouse.move(box["x"] + right * box["width"], box["y"] + bottom * box["height"], steps=5)
    mouse.up()
    prompt = app.locator("#edit-prompt")
    prompt.fill("a ripe pineapple in the painted area, lit from the left like the rest of the bowl, with a few drops")
    box_width = app.evaluate("() => document.querySelector('#edit-prompt').getBoundingClientRect().width")
    panel_width = app.evaluate("() => document.querySelector('#painter').getBoundingClientRect().width")
    assert box_width > 0.75 * panel_width, "the prompt box spans the painter"
    in_sight = "b => b.scrollHeight <= b.clientHeight + 2 && b.scrollWidth <= b.clientWidth"
    assert prompt.evaluate(in_sight), "all of the prompt is in sight"
    host.screenshot("mask-painter.png")
    app.locator("#send-edit").click()

    expect(app.locator("#compare-box")).to_be_visible()
    host.shows_image("#after")
    host.shows_image("#before")
    [request] = emulator.requests_to(EDITS)
    [mask_file] = request.files["mask"]
    [image_file] = request.files["image"] if "image" in request.files else request.files["image[]"]
    mask = Image.open(io.BytesIO(mask_file.data))
    source = Image.open(io.BytesIO(image_file.data))
    assert mask.size == source.size
    alpha = mask.convert("RGBA").getchannel("A")

    def at(x: float, y: float) -> object:
        return alpha.getpixel((int(x * mask.width), int(y * mask.height)))

    m = 0.02  # margin around the edges, for the rounding of screen to image pixels
    inside = [(left + m, top + m), ((left + right) / 2, (top + bottom) / 2), (right - m, bottom - m)]
    outside = [(left - m, top), (right + m, bottom), ((left + right) / 2, top - m), (0.9, 0.9)]
    assert [at(x, y) for x, y in inside] == [0, 0, 0], "transparent inside the painted rectangle"
    assert [at(x, y) for x, y in outside] == [255, 255, 255, 255], "opaque outside it"
    host.screenshot("before-after.png")
    host.assert_no_errors()


def test_a_slow_job_shows_a_partial_then_the_final_image(host: Host, emulator: Emulator) -> None:
    with emulator.hold(GENERATIONS, after_partials=1) as upstream:
        first = host.run("generate_image", {"prompt": "a slow sunrise"})
        assert first["structuredContent"]["status"] == "running"
        app = host.app
        expect(app.locator("#progress")).to_be_visible()
        expect(app.locator("#progress-text")).to_contain_text(first["structuredContent"]["job_id"])
        host.shows_image("#partial")
        host.screenshot("slow-job.png")
        upstream.release()
        expect(app.locator("#progress")).to_be_hidden()
        host.shows_image("#after")
    expect(app.locator("#facts")).to_contain_text("a slow sunrise")
    host.assert_no_errors()


def mask_in_page(frame: Frame) -> Image.Image:
    """The mask the painter would send now, decoded from the data URL it builds."""
    url: str = frame.evaluate("() => maskDataUrl()")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA")


def alpha(mask: Image.Image, *points: tuple[int, int]) -> list[object]:
    channel = mask.getchannel("A")
    return [channel.getpixel(point) for point in points]


def test_the_painter_works_from_the_keyboard_and_inverts_and_clears(host: Host) -> None:
    host.run("generate_image", {"prompt": "a quiet pond"})
    host.shows_image("#after")
    app = host.app
    app.locator("#act-edit").focus()
    app.locator("#act-edit").press("Enter")
    expect(app.locator("#painter")).to_be_visible()

    app.locator("#tool-brush").focus()
    for name in ["tool-rect", "tool-ellipse", "tool-eraser", "brush-size", "invert", "clear"]:
        host.page.keyboard.press("Tab")
        expect(app.locator(f"#{name}")).to_be_focused()
    paint = app.locator("#paint")
    paint.focus()
    paint.press("e")
    expect(app.locator("#tool-ellipse")).to_have_attribute("aria-pressed", "true")
    size = app.locator("#brush-size")
    before = int(size.input_value())
    paint.press("]")
    expect(size).to_have_value(str(before + 8))

    box = paint.bounding_box()
    assert box is not None
    host.page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.3 * box["height"])
    host.page.mouse.down()
    host.page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.7 * box["height"], steps=4)
    host.page.mouse.up()
    painted = mask_in_page(app)
    shown = app.evaluate(
        "() => [document.querySelector('#after').naturalWidth, document.querySelector('#after').naturalHeight]"
    )
    assert list(painted.size) == shown
    centre, corner = (painted.width // 2, painted.height // 2), (5, 5)
    assert alpha(painted, centre, corner) == [0, 255]

    paint.press("i")
    assert alpha(mask_in_page(app), centre, corner) == [255, 0]
    paint.press("c")
    assert mask_in_page(app).getchannel("A").getextrema() == (255, 255)
    host.assert_no_errors()


def test_several_images_side_by_side_and_the_result_actions(host: Host) -> None:
    host.run("generate_image", {"prompt": "two paper boats", "n": 2, "quality": "low"})
    app = host.app
    cards = app.locator("#cards .card")
    expect(cards).to_have_count(2)
    app.wait_for_function("() => [...document.querySelectorAll('#cards img')].every(i => i.naturalWidth > 0)")
    expect(app.locator("#facts")).to_contain_text(cards.first.get_attribute("data-id") or "missing id")
    second = cards.nth(1)
    second.click()
    expect(second).to_have_attribute("aria-current", "true")
    expect(app.locator("#facts")).to_contain_text(second.get_attribute("data-id") or "missing id")

    app.locator("#act-save").click()
    host.page.wait_for_function("() => window.downloads.length === 1")
    [item] = host.page.evaluate("() => window.downloads[0].contents")
    image_id = second.get_attribute("data-id")
    assert image_id
    assert item["resource"]["uri"] == f"images://{image_id}"
    assert base64.b64decode(item["resource"]["blob"]) == stored_file(host.output_dir, image_id).read_bytes()

    app.locator("#act-analyze").click()
    expect(app.locator("#answer")).to_be_visible()
    expect(app.locator("#answer")).not_to_be_empty()

    stage = app.locator("#stage")
    stage.focus()
    before = app.evaluate("() => document.querySelector('#after').getBoundingClientRect().width")
    stage.press("+")
    app.wait_for_function(f"() => document.querySelector('#after').getBoundingClientRect().width > {before}")
    stage.press("0")
    app.wait_for_function(f"() => document.querySelector('#after').getBoundingClientRect().width === {before}")
    host.assert_no_errors()


def test_a_listing_the_model_asked_for_opens_the_gallery_at_its_search(host: Host) -> None:
    host.run("generate_image", {"prompt": "an umbrella in the rain"})
    host.shows_image("#after")
    host.run("list_images", {"query": "umbrella", "previews": True})
    app = host.app
    expect(app.locator("#gallery")).to_be_visible()
    expect(app.locator("#query")).to_have_value("umbrella")
    cards = app.locator("#grid .card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("an umbrella in the rain")
    app.wait_for_function("() => document.querySelector('#grid img').src.startsWith('data:image/')")
    app.wait_for_function("() => document.querySelector('#grid img').naturalWidth > 0")
    host.assert_no_errors()


def test_a_strict_host_shows_the_app_only_once_it_has_initialized_and_sizes_it_from_the_app(host: Host) -> None:
    """Claude keeps the frame hidden, with no tool data, until the view completes ui/initialize and says it is
    initialized; the frame is then as tall as the view reports. An app that skipped a step stays an empty frame."""
    host.run("edit_image", {"images": [_made(host, "a plain wall")], "prompt": "add a window"})

    host.shows_image("#after")
    assert host.page.evaluate("() => window.hostLog") == ["initialized", "shown", "tool-input", "tool-result"]
    frame = host.page.locator("#app").bounding_box()
    assert frame is not None and frame["height"] > 400, "the app told the host its height"
    expect(host.app.locator("#compare-box")).to_be_visible()
    host.assert_no_errors()


def _made(host: Host, prompt: str) -> str:
    made = host.run("generate_image", {"prompt": prompt})
    image_id: str = made["structuredContent"]["images"][0]["id"]
    return image_id


def test_a_host_page_on_another_origin_connects_over_http_with_cors_and_the_token(
    browser: Browser, host_bundle: Path, emulator_server: Emulator, tmp_path: Path
) -> None:
    site_files = tmp_path / "site"
    site_files.mkdir()
    shutil.copy(HOST_SOURCE / "index.html", site_files / "index.html")
    shutil.copy(host_bundle, site_files / "host.js")
    with static_site(site_files) as site, static_site(site_files) as stranger:
        env = server_env(
            emulator_server, tmp_path / "images", MCP_IMAGES_AUTH_TOKEN=TOKEN, MCP_IMAGES_CORS_ORIGINS=site
        )
        with http_server(env) as (origin, _):
            page, opened = open_page(browser, tmp_path / "images")
            page.goto(f"{site}/index.html?strict=1&download=0&server={origin}/mcp&token={TOKEN}")
            page.wait_for_selector("body[data-ready=true]", state="attached")
            opened.run("generate_image", {"prompt": "a kite seen from another origin"})
            opened.shows_image("#after")
            expect(opened.app.locator("#facts")).to_contain_text("a kite seen from another origin")
            expect(opened.app.locator("#act-save")).to_be_hidden()  # the host offers no download
            opened.assert_no_errors()

            refused, _ = open_page(browser, tmp_path / "images")
            with refused.expect_console_message(lambda message: "CORS" in message.text):
                refused.goto(f"{stranger}/index.html?server={origin}/mcp&token={TOKEN}")
            assert refused.evaluate("() => document.body.dataset.ready") is None
