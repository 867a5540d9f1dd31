"""The signed catalog feed, through the MCP client: a feed on loopback, signed with a key the test makes, changes
what list_models says and which model a call without one uses; a feed that is tampered with, signed with another
key, expired or older than the one in force is refused with one warning and the previous catalog kept; a feed that
cannot be reached, or never answers, changes nothing and holds up nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_server_images.catalog.feed import PROJECT_FEED_URL, FeedConfig
from mcp_server_images.settings import Settings
from tests.fake_openai import Emulator
from tests.support.clock import FROZEN_AT, FrozenClock
from tests.support.feed import FeedServer, SigningKey, feed_document
from tests.support.results import text_of
from tests.support.servers import SettingsFactory, free_port, open_client
from tests.support.waiting import eventually, until

pytestmark = pytest.mark.anyio

SHIPPED_SERIAL = 2026120700
SERIAL = 2026120800
TODAY = FROZEN_AT.date()
VALID_UNTIL = TODAY + timedelta(days=30)
SHUTDOWN = TODAY + timedelta(days=10)
CHANGES = f"""
[models."gpt-image-2.6-flare"]
status = "deprecated"
shutdown = {SHUTDOWN.isoformat()}
replacements = [{{ model = "gpt-image-2.6-sunburst", note = "named by the team" }}]

[models."gpt-image-2.5-flare"]
prices = {{ text_input = 5.0, image_output = 20.0 }}
"""
"""A team's corrections: its default model shuts down in 10 days, and the price it negotiated for another."""
OTHER_PRICE = """
[models."gpt-image-2.5-flare"]
prices = { text_input = 5.0, image_output = 99.0 }
"""
QUICK = 1e-5
"""Hours between refreshes when a test wants several of them (about 36 ms)."""
FEED_LOGGER = "mcp_server_images.catalog.feed"


async def listing(client: Client) -> dict[str, Any]:
    result = await client.call_tool("list_models", {})
    structured: dict[str, Any] | None = result.structured_content
    assert not result.is_error and structured is not None, text_of(result)
    return structured


def by_name(structured: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {model["name"]: model for model in structured["models"]}


async def serial_of(client: Client) -> int:
    serial: int = (await listing(client))["catalog"]["serial"]
    return serial


def feed_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == FEED_LOGGER and r.levelno >= logging.WARNING]


async def test_a_signed_feed_changes_list_models_and_a_default(
    make_settings: SettingsFactory, emulator: Emulator, feed: FeedServer, signing_key: SigningKey, home: Path
) -> None:
    feed.publish(feed_document(SERIAL, VALID_UNTIL, CHANGES), signing_key)
    settings = make_settings(catalog_url=feed.url, catalog_keys=signing_key.public)
    async with open_client(settings) as client:
        shipped = await listing(client)
        await eventually(lambda: _has_serial(client, SERIAL), "the feed to be applied")
        listed = await listing(client)
        first = await client.call_tool("generate_image", {"prompt": "a fox"})
        second = await client.call_tool("generate_image", {"prompt": "a hare"})

    assert shipped["catalog"]["serial"] in (SHIPPED_SERIAL, SERIAL), "the start never waits for the feed"
    models = by_name(listed)
    flare, sunburst = models["gpt-image-2.6-flare"], models["gpt-image-2.6-sunburst"]
    assert (flare["status"], flare["shutdown"], flare["default"]) == ("deprecated", SHUTDOWN.isoformat(), False)
    assert sunburst["default"] is True
    assert models["gpt-image-2.5-flare"]["prices_per_1m"]["image_output"] == 20.0
    catalog = listed["catalog"]
    assert (catalog["serial"], catalog["source"], catalog["valid_until"]) == (
        SERIAL,
        f"the feed {feed.url}",
        VALID_UNTIL.isoformat(),
    )
    moved = (
        f"Default model: gpt-image-2.6-flare shuts down on {SHUTDOWN} (in 10 days), so its replacement "
        "gpt-image-2.6-sunburst is used already"
    )
    assert any(note.startswith(moved.removeprefix("Default model: ")) for note in _notes(listed))
    assert not first.is_error and not second.is_error, text_of(first) + text_of(second)
    assert [request.json["model"] for request in emulator.requests_to("/images/generations") if request.json] == [
        "gpt-image-2.6-sunburst",
        "gpt-image-2.6-sunburst",
    ]
    assert f"{moved}; name a model to choose another." in text_of(first)
    assert "Default model:" not in text_of(second), "said once per session"
    [cached] = (home / ".cache" / "mcp-server-images" / "catalog").glob("*.json")
    assert feed.url in cached.read_text()


async def _has_serial(client: Client, serial: int) -> bool:
    return await serial_of(client) == serial


def _notes(structured: dict[str, Any]) -> list[str]:
    notes: list[str] = structured["notes"]
    return [note.removeprefix("Default image model: ") for note in notes]


async def test_a_loopback_feed_needs_no_private_url_setting(
    make_settings: SettingsFactory, feed: FeedServer, signing_key: SigningKey
) -> None:
    """The configured feed's own origin is trusted (as the provider's is for its answers' URLs); image URLs from
    users on loopback stay refused."""
    feed.publish(feed_document(SERIAL, VALID_UNTIL, CHANGES), signing_key)
    settings = make_settings(catalog_url=feed.url, catalog_keys=signing_key.public)
    async with open_client(settings) as client:
        await eventually(lambda: _has_serial(client, SERIAL), "the feed to be applied")
        image_url = feed.url.replace("models.toml", "x.png")
        refused = await client.call_tool("edit_image", {"images": [image_url], "prompt": "add a hat"})

    assert settings.allow_private_urls is False
    assert refused.is_error and "Only public addresses are fetched" in text_of(refused)


BAD_FEEDS = {
    "tampered": "its signature does not verify with any trusted key",
    "wrong key": "its signature does not verify with any trusted key",
    "expired": f"it expired on {TODAY - timedelta(days=1)} (valid_until)",
    "downgraded": f"its serial {SERIAL - 1} is not higher than the serial in force or seen before ({SERIAL})",
}


def publish_bad(feed: FeedServer, key: SigningKey, problem: str) -> None:
    newer = feed_document(SERIAL + 1, VALID_UNTIL, OTHER_PRICE)
    if problem == "tampered":
        feed.publish(newer, key, signed=feed_document(SERIAL + 1, VALID_UNTIL, CHANGES))
    elif problem == "wrong key":
        feed.publish(newer, SigningKey())
    elif problem == "expired":
        feed.publish(feed_document(SERIAL + 1, TODAY - timedelta(days=1), OTHER_PRICE), key)
    else:
        feed.publish(feed_document(SERIAL - 1, VALID_UNTIL, OTHER_PRICE), key)


@pytest.mark.parametrize("problem", list(BAD_FEEDS))
async def test_a_bad_feed_is_refused_with_one_warning_and_the_previous_catalog_kept(
    make_settings: SettingsFactory,
    feed: FeedServer,
    signing_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
    problem: str,
) -> None:
    settings = make_settings(catalog_url=feed.url, catalog_keys=signing_key.public, catalog_refresh_hours=QUICK)
    feed.publish(feed_document(SERIAL, VALID_UNTIL, CHANGES), signing_key)
    async with open_client(settings) as client:
        await eventually(lambda: _has_serial(client, SERIAL), "the good feed to be applied")
    assert feed_warnings(caplog) == []

    publish_bad(feed, signing_key, problem)
    asked = feed.count()
    async with open_client(settings) as client:
        await until(lambda: feed.count() >= asked + 3, "three fetches of the bad feed")
        listed = await listing(client)
        made = await client.call_tool("generate_image", {"prompt": "a fox"})

    catalog = listed["catalog"]
    assert (catalog["serial"], catalog["source"]) == (SERIAL, f"the cached copy of the feed {feed.url}")
    assert by_name(listed)["gpt-image-2.5-flare"]["prices_per_1m"]["image_output"] == 20.0
    assert f"refused: {BAD_FEEDS[problem]}" in catalog["feed"]
    [warning] = feed_warnings(caplog)
    assert BAD_FEEDS[problem] in warning and "Keeping the catalog in force (serial 2026120800" in warning
    assert not made.is_error, text_of(made)


async def test_a_feed_that_never_answers_holds_up_nothing_and_changes_nothing(
    make_settings: SettingsFactory, emulator: Emulator, feed: FeedServer, signing_key: SigningKey
) -> None:
    feed.publish(feed_document(SERIAL, VALID_UNTIL, CHANGES), signing_key)
    feed.hold()
    async with open_client(make_settings(catalog_url=feed.url, catalog_keys=signing_key.public)) as client:
        await until(lambda: feed.count() == 1, "the server to ask for the feed")
        listed = await listing(client)
        made = await client.call_tool("generate_image", {"prompt": "a fox"})
        assert made.structured_content is not None, text_of(made)
        image_id = made.structured_content["images"][0]["id"]
        analyzed = await client.call_tool("analyze_image", {"images": [image_id]})

    assert feed.count() == 1, "the fetch is still held: it answered nothing"
    assert (listed["catalog"]["serial"], listed["catalog"]["source"]) == (SHIPPED_SERIAL, "shipped with the package")
    assert listed["catalog"]["feed"] == f"feed {feed.url}, not fetched yet"
    assert not made.is_error and not analyzed.is_error, text_of(made) + text_of(analyzed)
    [request] = emulator.requests_to("/images/generations")
    assert request.json is not None and request.json["model"] == "gpt-image-2.6-flare"


async def test_an_unreachable_feed_changes_nothing_and_says_why_once(
    make_settings: SettingsFactory, signing_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/models.toml"
    settings = make_settings(catalog_url=nowhere, catalog_keys=signing_key.public, catalog_refresh_hours=QUICK)
    async with open_client(settings) as client:
        await until(lambda: len(feed_warnings(caplog)) >= 1, "the feed to fail")
        listed = await listing(client)
        again = await listing(client)
        made = await client.call_tool("generate_image", {"prompt": "a fox"})

    assert listed["catalog"]["serial"] == again["catalog"]["serial"] == SHIPPED_SERIAL
    assert "refused: it could not be fetched: Could not fetch" in again["catalog"]["feed"]
    assert len(feed_warnings(caplog)) == 1, "the same failure is not repeated at every refresh"
    assert not made.is_error, text_of(made)


async def test_without_a_key_a_configured_feed_is_not_followed(
    make_settings: SettingsFactory, feed: FeedServer, signing_key: SigningKey
) -> None:
    feed.publish(feed_document(SERIAL, VALID_UNTIL, CHANGES), signing_key)
    async with open_client(make_settings(catalog_url=feed.url)) as client:
        listed = await listing(client)

    assert listed["catalog"]["serial"] == SHIPPED_SERIAL and feed.count() == 0
    assert "no key is trusted to sign it; set MCP_IMAGES_CATALOG_KEYS" in listed["catalog"]["feed"]


async def test_the_project_feed_is_off_until_a_key_ships_and_the_age_is_told(make_settings: SettingsFactory) -> None:
    clock = FrozenClock(datetime(2026, 12, 27, 9, 0, tzinfo=UTC))
    async with open_client(make_settings(), clock) as client:
        result = await client.call_tool("list_models", {})

    assert result.structured_content is not None
    catalog = result.structured_content["catalog"]
    assert catalog["feed"].startswith(
        "the project's catalog feed is off until a release ships the project's public key"
    )
    assert (catalog["serial"], catalog["published"], catalog["age_days"]) == (SHIPPED_SERIAL, "2026-12-07", 20)
    assert "Catalog: serial 2026120700, shipped with the package, facts as of 2026-12-07 (20 days old); " in (
        text_of(result)
    )


def test_once_a_key_ships_the_project_feed_is_the_default(signing_key: SigningKey) -> None:
    """Until then (no key ships) it is off; a team's URL needs a key of its own or a shipped one."""
    shipped = (signing_key.public,)

    assert FeedConfig.of(Settings(), shipped).url == PROJECT_FEED_URL
    assert FeedConfig.of(Settings(catalog_url="off"), shipped).url is None
    assert FeedConfig.of(Settings()).url is None
    assert FeedConfig.of(Settings(catalog_url="https://catalog.example/models.toml"), shipped).url == (
        "https://catalog.example/models.toml"
    )
