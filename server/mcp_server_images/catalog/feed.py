"""The signed catalog feed: corrections to the catalog between releases, from whoever holds a trusted key.

A feed is a catalog document (models.toml's format, read by the same loader) at a URL, with the base64 of its
Ed25519 signature at the same URL plus `.sig`. It must carry `serial` and `valid_until`. It is laid over the
shipped catalog (and under the user's models file, which keeps the last word), and applied only when:
- one of the trusted keys (those shipped with the package and those in MCP_IMAGES_CATALOG_KEYS) signed its exact
  bytes;
- `valid_until` has not passed on the server's clock;
- its serial is higher than every serial in force or seen from this feed (the shipped catalog's, and the newest
  copy of this feed accepted before), so an old copy replayed is never taken back;
- the catalog it makes passes the loader's checks.
Anything else is refused with one warning (the same problem again is not repeated), and the catalog in force is
kept. The newest accepted copy is kept in the user's cache folder and used at the next start while it is valid.

The feed is fetched in the background, once at start and then every `catalog_refresh_hours`: never before the
server answers, never inside a call. Its fetcher is the guarded one image URLs use (address checks, a deadline,
a size cap), trusting the configured feed's own origin the way the provider's origin is trusted for the image
URLs its answers carry: the operator named that URL, and a team's feed may well live on its intranet, while
image URLs from users stay under MCP_IMAGES_ALLOW_PRIVATE_URLS. The signature, not the address, is what makes a
feed's content trusted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import anyio
from platformdirs import user_cache_dir

from ..clock import Clock
from ..errors import ImageServerError
from ..settings import Settings
from .catalog import Catalog, InForce
from .load import SHIPPED, CatalogData, CatalogError, Document, build_catalog, parse_document, read_file
from .signing import SHIPPED_KEYS, trusted_keys, verify

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)

PROJECT_FEED_URL = "https://mcp-server-images.github.io/catalog/models.toml"
"""The project's published catalog: followed by default once a release ships the project's public key."""
FEED_TIMEOUT = 30.0
"""Most seconds one fetch (the document, or its signature) may take."""
FEED_MAX_BYTES = 1024 * 1024
"""Largest feed document accepted (the shipped catalog is about 20 KB)."""
CACHE_FILE_SUFFIX = ".json"


class FeedRefusedError(ImageServerError):
    """A feed document that is not applied; the message says why."""


class Fetcher(Protocol):
    """Fetches a URL's body under the address guard, a deadline and a size cap (inputs.fetch.UrlFetcher)."""

    async def fetch(self, url: str) -> bytes: ...


@dataclass(frozen=True)
class FeedConfig:
    """Which feed this server follows and which keys may sign it; `url` None: no feed, and `off` says why."""

    url: str | None
    keys: tuple[Ed25519PublicKey, ...]
    off: str | None = None

    @classmethod
    def of(cls, settings: Settings, shipped_keys: tuple[str, ...] = SHIPPED_KEYS) -> FeedConfig:
        keys = tuple(trusted_keys(settings.catalog_keys, shipped_keys))
        if settings.catalog_url == "off":
            return cls(None, keys, "the catalog feed is turned off (MCP_IMAGES_CATALOG_URL=off)")
        if settings.catalog_url is None and not shipped_keys:
            return cls(
                None,
                keys,
                "the project's catalog feed is off until a release ships the project's public key; to follow a "
                "team's feed, set MCP_IMAGES_CATALOG_URL and MCP_IMAGES_CATALOG_KEYS",
            )
        if not keys:
            return cls(
                None,
                keys,
                f"the catalog feed {settings.catalog_url} is not followed: no key is trusted to sign it; set "
                "MCP_IMAGES_CATALOG_KEYS to the feed's public key",
            )
        return cls(settings.catalog_url or PROJECT_FEED_URL, keys)


@dataclass
class FeedStatus:
    """What the feed did last, for list_models and doctor."""

    url: str | None = None
    off: str | None = None
    checked: datetime | None = None
    """When the feed was last fetched (successfully or not)."""
    problem: str | None = None
    """Why the last copy fetched (or the cached one) was not applied; None when it was, or nothing new came."""

    def describe(self) -> str:
        if self.url is None:
            return self.off or "no catalog feed"
        checked = f"last checked {self.checked:%Y-%m-%d %H:%M} UTC" if self.checked else "not fetched yet"
        problem = f"; refused: {self.problem}" if self.problem else ""
        return f"feed {self.url}, {checked}{problem}"


@dataclass(frozen=True)
class FeedCopy:
    """A feed document as fetched: its exact bytes, its signature file, and when it was fetched."""

    url: str
    data: bytes
    signature: bytes
    fetched: datetime


def cache_folder() -> Path:
    """Where accepted feed copies are kept: the user's cache folder (platformdirs), never the image folder."""
    return Path(user_cache_dir("mcp-server-images")) / "catalog"


@dataclass(frozen=True)
class FeedCache:
    """The newest accepted copy of each feed, one JSON file per feed URL in the user's cache folder."""

    folder: Path = field(default_factory=cache_folder)

    def load(self, url: str) -> FeedCopy | None:
        path = self._path(url)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return FeedCopy(
                url,
                base64.b64decode(raw["document"], validate=True),
                raw["signature"].encode("ascii"),
                datetime.fromisoformat(raw["fetched"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
            log.warning("The cached catalog feed copy %s cannot be read (%s); it is not used.", path, exc)
            return None

    def save(self, copy: FeedCopy) -> None:
        """Write the copy in one step (a crash leaves the previous copy, never half of one)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {
            "url": copy.url,
            "fetched": copy.fetched.isoformat(),
            "document": base64.b64encode(copy.data).decode("ascii"),
            "signature": copy.signature.decode("ascii").strip(),
        }
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".feed-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(temporary, self._path(copy.url))

    def _path(self, url: str) -> Path:
        return self.folder / (hashlib.sha256(url.encode()).hexdigest()[:16] + CACHE_FILE_SUFFIX)


@dataclass(frozen=True)
class Layers:
    """The documents a feed's is laid between: the shipped catalog and the user's models file."""

    shipped: Document
    user: Document | None

    @classmethod
    def read(cls, user_file: Path | None, shipped: Path = SHIPPED) -> Layers:
        return cls(read_file(shipped), read_file(user_file) if user_file is not None else None)

    def build(self, feed: Document | None = None) -> CatalogData:
        return build_catalog(self.shipped, feed, self.user)


def check_copy(copy: FeedCopy, keys: tuple[Ed25519PublicKey, ...], layers: Layers, now: datetime) -> CatalogData:
    """The catalog a feed copy makes, after its signature, header and content are checked; raises
    FeedRefusedError naming what is wrong. The serial is the caller's business (it depends on what is in force)."""
    if not verify(copy.data, copy.signature, keys):
        raise FeedRefusedError(
            "its signature does not verify with any trusted key (the document was changed after signing, or "
            "signed with a key this server does not trust)"
        )
    try:
        document = parse_document(copy.data, f"the catalog feed {copy.url}")
        header = document.header
        if header.serial is None or header.valid_until is None:
            raise FeedRefusedError("a feed document must carry serial and valid_until; this one lacks one of them")
        if header.valid_until < now.date():
            raise FeedRefusedError(f"it expired on {header.valid_until} (valid_until)")
        return layers.build(document)
    except CatalogError as exc:
        raise FeedRefusedError(f"it is not a usable catalog: {exc}") from exc


class CatalogFeed:
    """The catalog in force and the feed that may update it: built at start-up (the cached copy applied when it
    is still valid), then refreshed by `run` in the background."""

    def __init__(self, config: FeedConfig, layers: Layers, clock: Clock, cache: FeedCache | None = None) -> None:
        self._config = config
        self._layers = layers
        self._clock = clock
        self._cache = cache or FeedCache()
        self.catalog = Catalog(layers.build())
        self.status = FeedStatus(config.url, config.off)
        self._floor = layers.shipped.header.serial
        """The highest serial in force or accepted from this feed: a copy must be above it to apply."""
        self._applied: FeedCopy | None = None
        if config.url is not None:
            self._use_cached(config.url)

    @classmethod
    def start(cls, settings: Settings, clock: Clock) -> CatalogFeed:
        """The feed of these settings, with the catalog it starts with (a broken models file stops the start)."""
        return cls(FeedConfig.of(settings), Layers.read(settings.models_file), clock)

    @property
    def url(self) -> str | None:
        return self._config.url

    async def run(self, fetcher: Fetcher, every: float) -> None:
        """Refresh now and then every `every` seconds, until cancelled; a failure never ends the loop."""
        while True:
            try:
                await self.refresh(fetcher)
            except Exception:  # a bug here must not take the server down with it
                log.exception("The catalog feed refresh failed unexpectedly; trying again at the next refresh.")
            await anyio.sleep(every)

    async def refresh(self, fetcher: Fetcher) -> None:
        """Fetch the feed once and apply it if it passes every check; else keep the catalog in force."""
        url = self._config.url
        if url is None:
            return
        self._drop_if_expired()
        try:
            copy = FeedCopy(url, await fetcher.fetch(url), await fetcher.fetch(url + ".sig"), self._clock.now())
        except ImageServerError as exc:
            self.status.checked = self._clock.now()
            self._refuse(f"it could not be fetched: {exc}")
            return
        self.status.checked = copy.fetched
        if self._applied is not None and copy.data == self._applied.data:
            self.status.problem = None
            return
        try:
            data = await anyio.to_thread.run_sync(self._check, copy)
        except FeedRefusedError as exc:
            self._refuse(str(exc))
            return
        self._apply(copy, data, f"the feed {url}")
        await anyio.to_thread.run_sync(self._cache.save, copy)
        log.info("Catalog feed applied: %s.", self.catalog.in_force.describe(self._clock.today()))

    # --- internals ---

    def _use_cached(self, url: str) -> None:
        cached = self._cache.load(url)
        if cached is None:
            return
        try:
            data = self._check(cached, at_floor=True)
        except FeedRefusedError as exc:
            self._raise_floor(cached)
            self._refuse(f"the cached copy is not used: {exc}")
            return
        self._apply(cached, data, f"the cached copy of the feed {url}")

    def _raise_floor(self, copy: FeedCopy) -> None:
        """A signed copy that is not applied (expired) still says which serials are old."""
        serial = parse_serial(copy.data) if verify(copy.data, copy.signature, self._config.keys) else None
        if serial is not None:
            self._floor = max(self._floor or 0, serial)

    def _check(self, copy: FeedCopy, *, at_floor: bool = False) -> CatalogData:
        """The copy's catalog; `at_floor` lets a copy whose serial equals the floor through (the cached copy that
        set it)."""
        data = check_copy(copy, self._config.keys, self._layers, self._clock.now())
        serial, floor = data.header.serial, self._floor
        if serial is not None and floor is not None and (serial < floor or (serial == floor and not at_floor)):
            raise FeedRefusedError(
                f"its serial {serial} is not higher than the serial in force or seen before ({floor}): an older "
                "copy is never taken back (a new one needs a higher serial)"
            )
        return data

    def _apply(self, copy: FeedCopy, data: CatalogData, source: str) -> None:
        header = data.header
        self.catalog.update(data, InForce(header.serial, source, header.published, copy.fetched, header.valid_until))
        self._floor = header.serial
        self._applied = copy
        self.status.problem = None

    def _drop_if_expired(self) -> None:
        """Back to the shipped catalog when the copy in force has passed its valid_until while running."""
        valid_until = self.catalog.in_force.valid_until
        if self._applied is None or valid_until is None or valid_until >= self._clock.today():
            return
        self.catalog.update(self._layers.build())
        self._refuse(f"the copy in force expired on {valid_until}; back to the shipped catalog")
        self._applied = None

    def _refuse(self, problem: str) -> None:
        """Say why once (not again while the same problem repeats), and keep the catalog in force."""
        if problem != self.status.problem:
            in_force = self.catalog.in_force.describe(self._clock.today())
            log.warning("Catalog feed %s: %s. Keeping the catalog in force (%s).", self._config.url, problem, in_force)
        self.status.problem = problem


def parse_serial(data: bytes) -> int | None:
    """A document's serial, or None when it has none or is not a catalog document."""
    try:
        return parse_document(data, "the cached feed copy").header.serial
    except CatalogError:
        return None
