"""`mcp-server-images catalog show|check|sign`: the catalog a server would start with, a feed checked the way a
server checks it, and a feed document signed.

`show` reads what a server starting now would use (the shipped catalog, the cached copy of the feed while it is
valid, the models file) without fetching anything. `check` fetches the configured feed (or checks a given file or
URL) and says whether a server would apply it, and why not. `sign` checks a document as a feed must be (the
loader's checks, `serial` and `valid_until`), then writes its signature beside it as FILE.sig.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog.feed import (
    FEED_MAX_BYTES,
    FEED_TIMEOUT,
    CatalogFeed,
    FeedConfig,
    FeedCopy,
    FeedRefusedError,
    Layers,
    check_copy,
)
from ..catalog.load import CatalogData, CatalogError, parse_document
from ..catalog.signing import load_private_key, public_text, sign
from ..clock import Clock
from ..errors import ConfigurationError, ImageServerError
from ..inputs.fetch import DOCUMENTS, UrlFetcher
from ..settings import Settings


@dataclass(frozen=True)
class Outcome:
    """What a command prints, and whether it succeeded (exit status 0) or not (1)."""

    text: str
    ok: bool = True


def feed_fetcher(settings: Settings, url: str) -> UrlFetcher:
    """The guarded fetcher a server uses for its feed: a deadline, a size cap, the feed's own origin trusted."""
    return UrlFetcher(
        allow_private=settings.allow_private_urls,
        timeout=FEED_TIMEOUT,
        max_bytes=FEED_MAX_BYTES,
        trusted_origin=url,
        wanted=DOCUMENTS,
    )


async def fetched_feed(settings: Settings, clock: Clock) -> CatalogFeed:
    """The feed as a server starting now would have it once its first refresh is done (the cache updated)."""
    feed = CatalogFeed.start(settings, clock)
    if feed.url is not None:
        async with aclosing(feed_fetcher(settings, feed.url)) as fetcher:
            await feed.refresh(fetcher)
    return feed


def show(settings: Settings, clock: Clock, *, as_json: bool) -> Outcome:
    """The catalog a server would start with: which one is in force, the feed, and each model's lifecycle."""
    feed = CatalogFeed.start(settings, clock)
    catalog, today = feed.catalog, clock.today()
    models = [
        {
            "name": spec.name,
            "kind": spec.kind.value,
            "status": spec.lifecycle.status.value,
            "shutdown": spec.lifecycle.shutdown.isoformat() if spec.lifecycle.shutdown else None,
            "reported_shutdown": (
                spec.lifecycle.reported_shutdown.isoformat() if spec.lifecycle.reported_shutdown else None
            ),
            "image_output_per_1m": spec.prices.image_output if spec.prices else None,
        }
        for spec in catalog
    ]
    in_force, status = catalog.in_force.describe(today), feed.status.describe()
    if as_json:
        return Outcome(json.dumps({"catalog": in_force, "feed": status, "models": models}, indent=2))
    lines = [f"Catalog: {in_force}.", f"Feed: {status}.", f"{len(models)} models:"]
    lines += [_model_line(model) for model in models]
    return Outcome("\n".join(lines))


def _model_line(model: dict[str, Any]) -> str:
    line = f"- {model['name']} [{model['kind']}; {model['status'].replace('_', ' ')}"
    if model["shutdown"]:
        line += f", shutdown {model['shutdown']}"
    if model["reported_shutdown"]:
        line += f", reported shutdown {model['reported_shutdown']} (unconfirmed)"
    line += "]"
    if model["image_output_per_1m"] is not None:
        line += f" ${model['image_output_per_1m']:g}/1M image out"
    return line


async def check(settings: Settings, clock: Clock, source: str | None) -> Outcome:
    """Check the configured feed (fetched now, applied to the cache as a server would), or a given document (a
    file with FILE.sig beside it, or a URL with URL.sig) without applying it."""
    if source is None:
        feed = await fetched_feed(settings, clock)
        if feed.url is None:
            return Outcome(f"No catalog feed is followed: {feed.status.off}.", ok=False)
        in_force = feed.catalog.in_force.describe(clock.today())
        if feed.status.problem is not None:
            return Outcome(f"The feed {feed.url} is refused: {feed.status.problem}.\nIn force: {in_force}.", ok=False)
        return Outcome(f"The feed {feed.url} is good.\nIn force: {in_force}.")
    keys = FeedConfig.of(settings).keys
    if not keys:
        return Outcome(
            "No key is trusted to sign a feed: set MCP_IMAGES_CATALOG_KEYS to the feed's public key.", ok=False
        )
    layers = Layers.read(settings.models_file)
    try:
        url = source.startswith(("http://", "https://"))
        copy = await _url_copy(settings, clock, source) if url else _file_copy(clock, source)
        data = check_copy(copy, keys, layers, clock.now())
    except (FeedRefusedError, ImageServerError) as exc:
        return Outcome(f"{source} would be refused: {exc}.", ok=False)
    return Outcome(_accepted(source, data, layers.shipped.header.serial))


async def _url_copy(settings: Settings, clock: Clock, source: str) -> FeedCopy:
    async with aclosing(feed_fetcher(settings, source)) as fetcher:
        return FeedCopy(source, await fetcher.fetch(source), await fetcher.fetch(source + ".sig"), clock.now())


def _file_copy(clock: Clock, source: str) -> FeedCopy:
    path = Path(source).expanduser()
    signature = path.with_name(path.name + ".sig")
    try:
        return FeedCopy(str(path), path.read_bytes(), signature.read_bytes(), clock.now())
    except OSError as exc:
        raise FeedRefusedError(f"cannot read {exc.filename}: {exc.strerror or exc}") from exc


def _accepted(source: str, data: CatalogData, shipped_serial: int | None) -> str:
    header = data.header
    newer = shipped_serial is None or (header.serial or 0) > shipped_serial
    order = "above" if newer else "not above"
    lines = [
        f"{source} is signed by a trusted key and makes a catalog of {len(data.models)} models: serial "
        f"{header.serial}, valid until {header.valid_until}.",
        f"Its serial is {order} the shipped catalog's ({shipped_serial})"
        + ("." if newer else ", so a server would keep the shipped catalog."),
    ]
    return "\n".join(lines)


def sign_document(settings: Settings, clock: Clock, document: Path, key_file: Path) -> Outcome:
    """Check a document as a feed must be, then write FILE.sig; the public key to trust is printed."""
    try:
        data = document.read_bytes()
    except OSError as exc:
        return Outcome(f"Cannot read {document}: {exc.strerror or exc}.", ok=False)
    try:
        parsed = parse_document(data, str(document))
        Layers.read(settings.models_file).build(parsed)
    except CatalogError as exc:
        return Outcome(f"Not signed: {exc}", ok=False)
    header = parsed.header
    if header.serial is None or header.valid_until is None:
        return Outcome("Not signed: a feed document needs serial (YYYYMMDDNN) and valid_until (a date).", ok=False)
    if header.valid_until < clock.today():
        return Outcome(f"Not signed: valid_until {header.valid_until} has passed; servers would refuse it.", ok=False)
    try:
        key = load_private_key(key_file)
    except ConfigurationError as exc:
        return Outcome(f"Not signed: {exc}", ok=False)
    signature = document.with_name(document.name + ".sig")
    signature.write_bytes(sign(data, key))
    return Outcome(
        f"Signed {document} (serial {header.serial}, valid until {header.valid_until}): wrote {signature}.\n"
        f"Publish both at the same URL (the document, and the same URL plus .sig). Servers trust this key with\n"
        f"MCP_IMAGES_CATALOG_KEYS={public_text(key)}"
    )
