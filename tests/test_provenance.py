"""Provenance: the store keeps the provider's bytes as they came, so their Content Credentials (C2PA) survive, and
results, listings, image_details and save_to copies say what the credentials are and which images are derived."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import c2pa
import pytest
from mcp import Client

from mcp_server_images.imaging.provenance import carries_manifest
from tests.fake_openai import Emulator
from tests.support.credentials import GENERATOR, ISSUER
from tests.support.results import entries, images_in, sidecar_of, text_of
from tests.support.servers import SettingsFactory, open_client

pytestmark = pytest.mark.anyio

SHOWN = (
    f"Content Credentials: issued by {ISSUER}, made with {GENERATOR}, AI-generated; signature valid (signer not on "
    "the C2PA trust list)."
)


def read_back(path: Path, mime_type: str) -> dict[str, Any]:
    """What c2pa itself reads from a file."""
    with c2pa.Reader(mime_type, io.BytesIO(path.read_bytes())) as reader:
        found: dict[str, Any] = json.loads(reader.json())
    return found


async def test_a_signed_image_is_stored_as_sent_and_its_credentials_are_shown(
    client: Client, emulator: Emulator
) -> None:
    emulator.set(content_credentials=True, photo_like=True)

    result = await client.call_tool("generate_image", {"prompt": "a signed street", "size": "1536x1024"})

    [image] = entries(result)
    path = Path(image["path"])
    [sent] = emulator.sent_images
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(sent).digest(), "the provider's bytes"
    assert read_back(path, "image/png")["validation_state"] == "Valid"
    assert image["provenance"] == {
        "original": True,
        "credentials": {
            "found": True,
            "checked": True,
            "valid": True,
            "trusted": False,
            "issuer": ISSUER,
            "generator": GENERATOR,
            "signed_at": None,
            "ai_generated": True,
            "problems": [],
        },
    }
    text = text_of(result)
    assert SHOWN in text
    assert len(images_in(result)) == 1 and "Shown below as a smaller preview" in text
    assert "The image shown is a derived preview without them; the stored file keeps them." in text
    assert sidecar_of(path)["credentials"] == image["provenance"]["credentials"], "our metadata is in the sidecar"


async def test_listings_and_image_details_show_the_credentials(client: Client, emulator: Emulator) -> None:
    emulator.set(content_credentials=True)
    made = await client.call_tool("generate_image", {"prompt": "a signed lake"})
    emulator.set(content_credentials=False)
    plain = await client.call_tool("generate_image", {"prompt": "an unsigned lake"})
    [signed_image], [plain_image] = entries(made), entries(plain)

    listing = await client.call_tool("list_images", {})
    details = await client.call_tool("image_details", {"image": signed_image["id"]})

    listed = {image["id"]: image["provenance"] for image in entries(listing)}
    assert listed[signed_image["id"]]["credentials"]["issuer"] == ISSUER
    assert listed[plain_image["id"]] == {"original": True, "credentials": _nothing_found()}
    assert f"With Content Credentials (C2PA): {signed_image['id']} (issued by {ISSUER})." in text_of(listing)
    assert plain_image["id"] not in text_of(listing).split("With Content Credentials")[1]
    assert details.structured_content is not None
    assert details.structured_content["provenance"] == signed_image["provenance"]
    assert SHOWN in text_of(details)
    assert "Content Credentials" not in text_of(plain)


def _nothing_found() -> dict[str, Any]:
    return {
        "found": False,
        "checked": True,
        "valid": None,
        "trusted": None,
        "issuer": None,
        "generator": None,
        "signed_at": None,
        "ai_generated": None,
        "problems": [],
    }


async def test_a_converted_save_to_copy_is_marked_derived_and_an_identical_one_keeps_the_credentials(
    make_settings: SettingsFactory, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.set(content_credentials=True)
    folder = tmp_path / "project"
    folder.mkdir()
    async with open_client(make_settings(allowed_dirs=str(folder))) as client:
        converted = await client.call_tool("generate_image", {"prompt": "a logo", "save_to": str(folder / "logo.jpg")})
        copied = await client.call_tool("generate_image", {"prompt": "a logo", "save_to": str(folder / "same.png")})

    assert converted.structured_content is not None and copied.structured_content is not None
    assert converted.structured_content["saved_copies"] == [{"path": str(folder / "logo.jpg"), "derived": True}]
    assert copied.structured_content["saved_copies"] == [{"path": str(folder / "same.png"), "derived": False}]
    assert (
        "logo.jpg was converted from image/png to JPEG (a derived copy: the Content Credentials stay in the stored "
        "original)." in text_of(converted)
    )
    assert not carries_manifest((folder / "logo.jpg").read_bytes(), "image/jpeg")
    [stored] = entries(copied)
    assert (folder / "same.png").read_bytes() == Path(stored["path"]).read_bytes()
    assert read_back(folder / "same.png", "image/png")["validation_state"] == "Valid"


async def test_without_the_provenance_extra_credentials_are_found_but_not_checked(
    client: Client, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "c2pa", None)  # `import c2pa` now fails, as without the extra
    emulator.set(content_credentials=True)

    result = await client.call_tool("generate_image", {"prompt": "a signed field"})

    [image] = entries(result)
    credentials = image["provenance"]["credentials"]
    assert (credentials["found"], credentials["checked"], credentials["valid"]) == (True, False, None)
    assert (
        "Content Credentials: present, not checked (install mcp-server-images[provenance] to check them)."
        in text_of(result)
    )
