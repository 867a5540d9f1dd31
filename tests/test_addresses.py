"""No address is reached that should not be: answer URLs, special ranges, schema references, bind addresses.

The server fetches URLs for users (image refs) and for the image API (URL answers), and JSON schemas can name
documents to load; all of it goes through one guard or is refused outright. Over HTTP, every spelling of a
loopback bind address keeps the checks against DNS rebinding.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from mcp import Client

from tests.fake_openai import Emulator, Fault
from tests.support.images import png_bytes, write_png
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, http_server, open_client, server_env

pytestmark = pytest.mark.anyio

GENERATIONS = "/v1/images/generations"
NEVER = "Only public addresses are fetched; this kind is never fetched."


def url_answer(url: str) -> Fault:
    return Fault(status=200, path=GENERATIONS, body={"created": 1, "data": [{"url": url}]})


async def generate(client: Client) -> tuple[bool, str]:
    result = await client.call_tool("generate_image", {"prompt": "a fox", "model": "dall-e-2", "size": "256x256"})
    return bool(result.is_error), text_of(result)


async def test_url_answers_on_the_providers_own_origin_are_fetched(
    make_settings: SettingsFactory, emulator: Emulator
) -> None:
    """Local servers (LocalAI, vLLM-Omni, Ollama) answer with URLs on localhost: the provider's own origin (here
    the emulator's, 127.0.0.1) is fetched without allowing private URLs in general."""
    emulator.set(answer_urls=True)
    async with open_client(make_settings()) as client:
        result = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    [kept] = result.structured_content["images"]
    assert Path(kept["path"]).read_bytes() == emulator.sent_images[0]
    assert len([r for r in emulator.requests if r.path.startswith("/files/")]) == 1


async def test_url_answers_elsewhere_go_through_the_address_guard(
    make_settings: SettingsFactory, emulator: Emulator, output_dir: Path
) -> None:
    """Another origin on this machine (another host name, another port), a redirect from the provider's origin to
    one, and cloud metadata: each refused before connecting; with private URLs allowed, metadata still is."""
    emulator.set(serves_retired=True)  # dall-e-2 answers with URLs
    port = int(emulator.origin.rsplit(":", 1)[1])
    local = emulator.serve_file("local.png", png_bytes(), "image/png")
    other_host = local.replace("127.0.0.1", "localhost")
    other_port = local.replace(f":{port}/", f":{port + 1 if port < 65535 else port - 1}/")
    hop = emulator.serve_file("hop.png", b"", "image/png")
    metadata = "http://169.254.169.254/latest/meta-data/iam"
    emulator.enqueue(
        url_answer(other_host),
        url_answer(other_port),
        url_answer(hop),
        Fault(status=302, path="/files/hop.png", body=b"", headers={"location": other_host}),
        url_answer(metadata),
    )
    async with open_client(make_settings()) as client:
        refused = [await generate(client) for _ in range(4)]
    emulator.enqueue(
        url_answer(hop), Fault(status=302, path="/files/hop.png", body=b"", headers={"location": metadata})
    )
    async with open_client(make_settings(allow_private_urls=True)) as client:
        redirected = await generate(client)

    prefix = "The image API answered without a usable image (image 1: its URL was not downloaded (Refusing to fetch "
    hosts = ["localhost", "127.0.0.1", "localhost"]
    for (failed, text), host in zip(refused[:3], hosts, strict=True):
        assert failed
        assert text.startswith(f"{prefix}an image from {host}: it resolves to "), text
        assert "a loopback address. Only public addresses are fetched; set MCP_IMAGES_ALLOW_PRIVATE_URLS=true" in text
    for failed, text in (refused[3], redirected):
        assert failed
        assert text.startswith(
            f"{prefix}an image from 169.254.169.254: it resolves to 169.254.169.254, a link-local address. {NEVER}"
        )
    assert [r.path for r in emulator.requests if r.path.startswith("/files/")] == ["/files/hop.png"] * 2
    assert not output_dir.exists() or not any(output_dir.glob("*.png"))


@pytest.mark.parametrize(
    ("host", "address", "kind"),
    [
        ("0.0.0.0", "0.0.0.0", "an unspecified address"),
        ("[::]", "::", "an unspecified address"),
        ("255.255.255.255", "255.255.255.255", "a broadcast address"),
        ("198.18.0.1", "198.18.0.1", "a benchmarking address"),
        ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo address"),
        (
            "[2002:a9fe:a9fe::1]",
            "2002:a9fe:a9fe::1",
            "a 6to4 address carrying 169.254.169.254, a link-local address",
        ),
        ("[2002:7f00:1::1]", "2002:7f00:1::1", "a 6to4 address carrying 127.0.0.1, a loopback address"),
        (
            "[64:ff9b::a9fe:a9fe]",
            "64:ff9b::a9fe:a9fe",
            "a NAT64 address carrying 169.254.169.254, a link-local address",
        ),
    ],
)
async def test_special_ranges_stay_refused_when_private_urls_are_allowed(
    make_settings: SettingsFactory, emulator: Emulator, home: Path, host: str, address: str, kind: str
) -> None:
    emulator.serve_file("cat.png", png_bytes(), "image/png")
    port = emulator.origin.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/files/cat.png"
    async with open_client(make_settings(allow_private_urls=True)) as client:
        result = await client.call_tool("edit_image", {"images": [url], "prompt": "add a hat"})

    assert result.is_error
    assert text_of(result) == (
        f"Refusing to fetch an image from {host.strip('[]')}: it resolves to {address}, {kind}. {NEVER}"
    )
    assert emulator.requests_except_models == [], "not even the emulator on this machine was reached"


async def test_a_malformed_host_is_a_clear_error(client: Client, emulator: Emulator) -> None:
    result = await client.call_tool("edit_image", {"images": ["http://0177.0.0.1/cat.png"], "prompt": "add a hat"})

    assert result.is_error
    assert text_of(result) == (
        "Could not fetch http://0177.0.0.1/cat.png: the URL is malformed (Invalid IPv4 address: '0177.0.0.1'). "
        "Write a host as a name or as an IP address in its usual form (four decimal numbers without leading "
        "zeros, or IPv6 in brackets)."
    )
    assert emulator.requests_except_models == []


async def test_response_schemas_never_load_other_documents(client: Client, emulator: Emulator, home: Path) -> None:
    remote = emulator.serve_file("schema.json", b'{"type": "string"}', "application/json")
    write_png(home / "a.png")
    schemas = {
        "remote": {"type": "object", "properties": {"label": {"$ref": remote}}, "required": ["label"]},
        "file": {"type": "object", "properties": {"label": {"$ref": "defs.json#/label"}}},
        "local": {
            "type": "object",
            "properties": {"label": {"$ref": "#/$defs/label"}},
            "required": ["label"],
            "additionalProperties": False,
            "$defs": {"label": {"type": "string"}},
        },
    }
    results = {}
    for name, schema in schemas.items():
        results[name] = await client.call_tool("analyze_image", {"images": ["~/a.png"], "response_schema": schema})

    for name, ref in (("remote", remote), ("file", "defs.json#/label")):
        assert results[name].is_error
        assert text_of(results[name]) == (
            f"response_schema refers to another document with $ref {ref!r}; references are never fetched. Put the "
            'referenced schema under "$defs" and refer to it as "#/$defs/<name>".'
        )
    assert not results["local"].is_error, text_of(results["local"])
    assert results["local"].structured_content is not None
    assert results["local"].structured_content["data"] == {"label": "label seen"}, "local references still work"
    assert [r.path for r in emulator.requests_except_models] == ["/v1/chat/completions"], "only the local call went out"


@pytest.mark.subprocess
@pytest.mark.parametrize(("host", "reach"), [("0:0:0:0:0:0:0:1", "[::1]"), ("127.0.0.2", "127.0.0.2")])
async def test_every_loopback_spelling_keeps_rebinding_protection(
    emulator: Emulator, output_dir: Path, host: str, reach: str
) -> None:
    with http_server(server_env(emulator, output_dir), host=host, reach=reach) as (origin, _):
        foreign_host = httpx2.post(f"{origin}/mcp", json={}, headers={"host": "evil.example"}, timeout=5)
        foreign_origin = httpx2.post(f"{origin}/mcp", json={}, headers={"origin": "http://evil.example"}, timeout=5)
        async with open_client(f"{origin}/mcp") as client:
            tools = await client.list_tools()

    assert foreign_host.status_code == 421
    assert foreign_origin.status_code == 403
    assert "generate_image" in [tool.name for tool in tools.tools], "the bound address itself is accepted"
