"""`mcp-server-images catalog show|check|sign` and doctor's catalog check, run as a user runs them: a team makes a
key pair, signs its feed, checks it, publishes it, and a server (doctor, `catalog check`) follows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcp_server_images.catalog.catalog import Catalog
from tests.fake_openai import Emulator
from tests.support.feed import FeedServer, SigningKey
from tests.support.servers import run_command, server_env

pytestmark = pytest.mark.subprocess

SERIAL = 2026120800
FAR = "2099-12-31"
"""A valid_until no run of the suite reaches: these commands run on the machine's own clock."""
CHANGES = """
[models."gpt-image-2.5-flare"]
prices = { text_input = 5.0, image_output = 20.0 }
"""


def document(serial: int = SERIAL, valid_until: str = FAR) -> bytes:
    return f"serial = {serial}\nvalid_until = {valid_until}\n{CHANGES}".encode()


def catalog(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = run_command("catalog", *args, env=env, timeout=120)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("form", ["pem", "raw"])
def test_sign_then_check_a_feed_document(tmp_path: Path, signing_key: SigningKey, form: str) -> None:
    feed, key = tmp_path / "models.toml", tmp_path / "catalog-key"
    feed.write_bytes(document())
    key.write_bytes(signing_key.pem() if form == "pem" else signing_key.raw())

    signed, said = catalog("sign", str(feed), "--key", str(key))
    good, checked = catalog("check", str(feed), env={"MCP_IMAGES_CATALOG_KEYS": signing_key.public})
    feed.write_bytes(document().replace(b"20.0", b"2.0"))
    tampered, refused = catalog("check", str(feed), env={"MCP_IMAGES_CATALOG_KEYS": signing_key.public})
    stranger, unknown = catalog("check", str(feed), env={"MCP_IMAGES_CATALOG_KEYS": SigningKey().public})

    assert signed == 0, said
    assert f"MCP_IMAGES_CATALOG_KEYS={signing_key.public}" in said
    assert (tmp_path / "models.toml.sig").read_bytes() == signing_key.signature(document())
    assert good == 0, checked
    models = len(list(Catalog.load()))  # the feed changes a price and adds no model
    made = f"makes a catalog of {models} models: serial {SERIAL}, valid until {FAR}"
    assert f"is signed by a trusted key and {made}" in checked
    assert "Its serial is above the shipped catalog's (2026120700)." in checked
    assert tampered == 1 and "would be refused: its signature does not verify with any trusted key" in refused
    assert stranger == 1 and "its signature does not verify" in unknown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"valid_until = {FAR}\n{CHANGES}", "a feed document needs serial (YYYYMMDDNN) and valid_until"),
        (document(valid_until="2000-01-01").decode(), "valid_until 2000-01-01 has passed"),
        ('serial = 1\nvalid_until = 2099-12-31\n[models."gpt-image-2"]\nqualites = ["low"]\n', "unknown field(s)"),
    ],
)
def test_sign_refuses_what_no_server_would_apply(
    tmp_path: Path, signing_key: SigningKey, text: str, message: str
) -> None:
    feed, key = tmp_path / "models.toml", tmp_path / "key.pem"
    feed.write_text(text)
    key.write_bytes(signing_key.pem())

    status, said = catalog("sign", str(feed), "--key", str(key))

    assert status == 1 and message in said, said
    assert not (tmp_path / "models.toml.sig").exists()


def test_check_follows_the_configured_feed_and_show_then_uses_its_cached_copy(
    feed: FeedServer, signing_key: SigningKey, home: Path
) -> None:
    feed.publish(document(), signing_key)
    env = {"MCP_IMAGES_CATALOG_URL": feed.url, "MCP_IMAGES_CATALOG_KEYS": signing_key.public}

    checked, said = catalog("check", env=env)
    shown, listing = catalog("show", "--json", env=env)

    assert checked == 0 and f"The feed {feed.url} is good." in said, said
    assert shown == 0, listing
    shown_catalog = json.loads(listing)
    assert shown_catalog["catalog"].startswith(f"serial {SERIAL}, the cached copy of the feed {feed.url}, fetched ")
    assert shown_catalog["catalog"].endswith(f"valid until {FAR}")
    flare = next(model for model in shown_catalog["models"] if model["name"] == "gpt-image-2.5-flare")
    assert flare["image_output_per_1m"] == 20.0
    assert list((home / ".cache" / "mcp-server-images" / "catalog").glob("*.json"))


def test_doctor_names_a_refused_feed(
    emulator: Emulator, output_dir: Path, feed: FeedServer, signing_key: SigningKey
) -> None:
    feed.publish(document(valid_until="2000-01-01"), signing_key)
    env = server_env(emulator, output_dir, MCP_IMAGES_CATALOG_URL=feed.url, MCP_IMAGES_CATALOG_KEYS=signing_key.public)

    result = run_command("doctor", "--json", env=env, timeout=120)

    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["catalog"]["status"] == "warn"
    assert checks["catalog"]["detail"].startswith("serial 2026120700, shipped with the package")
    assert f"the feed {feed.url} is refused: it expired on 2000-01-01 (valid_until)" in checks["catalog"]["detail"]
    assert "catalog check" in checks["catalog"]["fix"]


def test_a_malformed_key_stops_with_a_message(tmp_path: Path) -> None:
    status, said = catalog("show", env={"MCP_IMAGES_CATALOG_KEYS": "not-a-key"})

    assert status == 1 and "The catalog key 'not-a-key' is not base64" in said
