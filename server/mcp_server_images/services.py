"""Everything the tool calls share, opened once by the server's lifespan and closed at its end.

The lifespan runs once per server: over stdio that is one client, over streamable HTTP every client shares the
same pooled upstream client, store and jobs.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from .catalog.catalog import Catalog
from .catalog.feed import CatalogFeed
from .catalog.spec import ModelKind
from .clock import Clock
from .errors import ConfigurationError
from .operations.drain import Drain
from .settings import Settings
from .store.owned import EVERYONE, OwnedStore, Viewer
from .telemetry import Telemetry

if TYPE_CHECKING:
    from obstore.store import S3Config

    from .backends.client import UpstreamClient
    from .backends.redact import Redactor
    from .catalog.discovery import ModelLister
    from .inputs.fetch import UrlFetcher
    from .operations.analyze import VisionService
    from .operations.deps import ImageDeps
    from .operations.idempotency import Keys
    from .operations.jobs import JobManager
    from .operations.ledger import Caps, Ledger
    from .operations.upstreams import Upstream, Upstreams
    from .providers import Endpoint
    from .store import Store


@dataclass(frozen=True)
class Services:
    """What a handler works with: the server's parts (opened at their first use, shared by every request) as the
    caller sees them."""

    settings: Settings
    clock: Clock
    """The server's one clock: every date and wall-clock time the tools read."""
    parts: Parts
    drain: Drain
    """The server's orderly stop: whether it is stopping, and until when calls may wait."""
    telemetry: Telemetry
    viewer: Viewer = EVERYONE
    """Who is asking: every read of an image, a job or an input goes through the store's owner-scoped view for
    this user (everything for EVERYONE)."""
    client_log_levels: dict[str | None, str] = field(default_factory=dict)
    """The least severe log level each handshake-era client asked for (logging/setLevel), by its HTTP session id
    (None for the one client of a stdio server)."""

    def seen_by(self, viewer: Viewer) -> Services:
        """These services as `viewer` sees them."""
        return replace(self, viewer=viewer)

    @cached_property
    def store(self) -> OwnedStore:
        """The store as the caller sees it: one user's own images (and those shared with them), or everything."""
        return OwnedStore(self.parts.store, self.viewer)

    @cached_property
    def images(self) -> ImageDeps:
        return self.parts.calls.images.seen_by(self.store)

    @cached_property
    def vision(self) -> VisionService:
        return self.parts.calls.vision.seen_by(self.store)

    @property
    def models(self) -> Upstreams:
        """Every provider with its models, and the defaults per task."""
        return self.parts.calls.models

    @property
    def jobs(self) -> JobManager:
        return self.parts.calls.jobs

    @property
    def ledger(self) -> Ledger:
        """Where every call's cost is recorded, with the budgets it enforces."""
        return self.parts.calls.ledger

    @property
    def keys(self) -> Keys:
        """The idempotency keys of producing calls."""
        return self.parts.calls.keys


@dataclass(frozen=True)
class Serving:
    """What the server is built with before its lifespan opens the rest: its clock, its way out and its recorder."""

    clock: Clock
    drain: Drain
    telemetry: Telemetry


@asynccontextmanager
async def open_services(settings: Settings, feed: CatalogFeed, serving: Serving) -> AsyncIterator[Services]:
    """The services of the server's life, with one task group for its jobs, the catalog feed's refresh and the
    store's sweep.

    Nothing is opened here that a session may never use: the upstream clients, the URL fetchers and what the tools
    run on are opened at the first request that needs them (see `Parts`), so a client that starts the server and
    only lists its tools pays for none of it. The feed is refreshed and the store swept (the first time right after
    the start) by tasks of the group, so neither the start nor a call waits for them. On the way out, running jobs
    get what is left of the shutdown grace period to finish and store their images.
    """
    async with anyio.create_task_group() as group:
        parts = Parts(settings, feed, serving, group)
        try:
            if feed.url is not None:
                group.start_soon(parts.refresh_feed)
            group.start_soon(parts.sweep)
            group.start_soon(parts.drain_jobs)
            yield Services(
                settings=settings, clock=serving.clock, parts=parts, drain=serving.drain, telemetry=serving.telemetry
            )
        finally:
            await parts.aclose()
            group.cancel_scope.cancel()


class Parts:
    """The server's shared parts, each opened at its first use (under a lock: requests in worker threads may ask
    at once) and closed with the server."""

    def __init__(self, settings: Settings, feed: CatalogFeed, serving: Serving, group: TaskGroup) -> None:
        self._settings = settings
        self._feed = feed
        self._serving = serving
        self._clock = serving.clock
        self._group = group
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._calls: Calls | None = None

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self._settings, self._clock, check=False)
            return self._store

    @property
    def calls(self) -> Calls:
        with self._lock:
            if self._calls is None:
                self._calls = Calls.open(self._settings, self._feed, self._serving, self.store, self._group)
            return self._calls

    async def refresh_feed(self) -> None:
        """Follow the catalog feed for the server's life (only when one is configured)."""
        from .catalog.feed import FEED_MAX_BYTES, FEED_TIMEOUT
        from .inputs.fetch import DOCUMENTS, UrlFetcher

        documents = UrlFetcher(
            allow_private=self._settings.allow_private_urls,
            timeout=FEED_TIMEOUT,
            max_bytes=FEED_MAX_BYTES,
            trusted_origin=self._feed.url,
            wanted=DOCUMENTS,
        )
        try:
            await self._feed.run(documents, self._settings.catalog_refresh_hours * 3600)
        finally:
            with anyio.CancelScope(shield=True):
                await documents.aclose()

    async def sweep(self) -> None:
        """Sweep the store for the server's life (operations/housekeeping.py)."""
        from .operations.housekeeping import Housekeeping

        settings = self._settings
        store = await anyio.to_thread.run_sync(self._opened_store)
        retention = settings.record_retention_hours * 3600
        expiry = None if settings.image_expiry_days is None else settings.image_expiry_days * 86400
        await Housekeeping(store, self._clock, self._serving.telemetry, retention, expiry).run(settings.sweep_interval)

    def _opened_store(self) -> Store:
        return self.store

    async def drain_jobs(self) -> None:
        """When the transport begins the drain, the running jobs get what is left of the grace period (jobs.py);
        a server whose tools never ran has none."""
        await self._serving.drain.begun()
        if self._calls is not None:
            await self._calls.jobs.drain(self._serving.drain)

    async def aclose(self) -> None:
        """Let running jobs finish or stop them, then close the clients that were opened."""
        calls = self._calls
        if calls is None:
            return
        with anyio.CancelScope(shield=True):
            if self._serving.drain.draining:
                await calls.jobs.stopped()  # the transport began the drain: the jobs got what the grace period left
            else:  # the client left (an in-memory session, the end of stdin where it cannot be watched)
                grace = self._settings.shutdown_grace
                await calls.jobs.finish_or_stop(grace, grace)
            for client in calls.clients:
                await client.aclose()


@dataclass(frozen=True)
class Calls:
    """What the tool calls run on: one pooled upstream client per provider, the URL fetchers, the backends, the
    model choice, the jobs and the spend ledger, opened together at the first call."""

    images: ImageDeps
    vision: VisionService
    models: Upstreams
    jobs: JobManager
    ledger: Ledger
    keys: Keys
    clients: tuple[UpstreamClient | UrlFetcher, ...]
    """Closed with the server."""

    @classmethod
    def open(cls, settings: Settings, feed: CatalogFeed, serving: Serving, store: Store, group: TaskGroup) -> Calls:
        """The URL fetchers are the only downloaders: image URLs from users and from the image APIs' answers go
        through the same address checks and limits; each provider's answers have a fetcher of their own that also
        trusts that provider's origin (a local server answers with URLs on localhost). One redactor knows every
        configured secret and every provider's key, those a key file or command gives included."""
        from .backends.redact import Redactor
        from .catalog.spec import Api
        from .imaging.pixel_budget import DECODE_BUDGET
        from .inputs.fetch import UrlFetcher
        from .inputs.resolver import ImageResolver
        from .operations.analyze import VisionService
        from .operations.cost import most_per_image
        from .operations.deps import ImageDeps
        from .operations.idempotency import Keys
        from .operations.jobs import JobManager, JobPublisher
        from .operations.ledger import Ledger
        from .operations.upstreams import Upstreams
        from .providers_file import providers_of

        clock = serving.clock
        catalog = feed.catalog
        configured = providers_of(settings)
        endpoints = configured.endpoints
        DECODE_BUDGET.resize(settings.max_decode_pixels)
        redactor = Redactor(configured.secrets(settings))
        fetcher = UrlFetcher(
            allow_private=settings.allow_private_urls,
            timeout=settings.fetch_timeout,
            max_bytes=settings.max_input_bytes,
        )
        clients: list[UpstreamClient | UrlFetcher] = [fetcher]
        upstreams = Upstreams(
            catalog,
            tuple(_upstream(settings, catalog, serving, endpoint, redactor, clients) for endpoint in endpoints),
            configured.defaults,
            feed=feed.status,
            notice_days=settings.default_notice_days,
        )
        publisher = JobPublisher(store.jobs, instance=settings.instance(), lease=settings.job_lease, clock=clock)
        resolver = ImageResolver(
            store=store,
            fetcher=fetcher,
            extra_roots=settings.extra_roots(),
            max_bytes=settings.max_input_bytes,
            max_pixels=settings.max_input_pixels,
        )
        budgets = caps(settings, catalog, endpoints)
        everything = OwnedStore(store)
        return cls(
            images=ImageDeps(
                store=everything,
                resolver=resolver,
                upstreams=upstreams,
                most_reported=most_per_image(budgets.unknown_per_image),
                preferred_api=Api(settings.image_api),
            ),
            vision=VisionService(upstreams=upstreams, resolver=resolver, inline_urls=settings.inline_image_urls),
            models=upstreams,
            jobs=JobManager(
                group,
                clock=clock,
                heartbeat_interval=settings.heartbeat_interval,
                publisher=publisher,
                telemetry=serving.telemetry,
            ),
            ledger=Ledger(
                store,
                budgets,
                clock,
                # Unique to this server object, as in-flight reservations are: two servers in one process
                # (tests) or a restarted instance of the same name are told apart.
                instance=f"{settings.instance()}#{secrets.token_hex(3)}",
                call_lasts=longest_call(settings),
            ),
            keys=Keys(store.jobs, clock, settings.record_retention_hours * 3600),
            clients=tuple(clients),
        )


def _upstream(
    settings: Settings,
    catalog: Catalog,
    serving: Serving,
    endpoint: Endpoint,
    redactor: Redactor,
    clients: list[UpstreamClient | UrlFetcher],
) -> Upstream:
    """One provider: its pooled client, the fetcher of its answers' URLs, its model list and its APIs (the client
    and the fetcher are added to `clients`, closed with the server)."""
    from .backends.base import ImageBackend
    from .backends.chat import ChatAPI
    from .backends.chat_images import ChatImagesAPI
    from .backends.client import UpstreamClient
    from .backends.openai_images import ImagesAPI
    from .backends.responses import ResponsesAPI
    from .backends.retry import RetryPolicy
    from .catalog.discovery import ModelDirectory
    from .inputs.fetch import UrlFetcher
    from .operations.upstreams import Models, Upstream

    clock = serving.clock
    client = UpstreamClient(
        endpoint,
        timeout=settings.upstream_timeout,
        max_concurrency=settings.max_concurrency,
        retry=RetryPolicy(max_retries=settings.max_retries, clock=clock),
        max_answer_bytes=settings.max_upstream_bytes,
        redactor=redactor,
        telemetry=serving.telemetry,
    )
    answers = UrlFetcher(
        allow_private=settings.allow_private_urls,
        timeout=settings.fetch_timeout,
        max_bytes=settings.max_input_bytes,
        trusted_origin=endpoint.base_url,
    )
    clients += [client, answers]
    directory = ModelDirectory(
        catalog,
        model_lister(endpoint, client),
        provider=endpoint.provider,
        refresh_after=settings.models_refresh_hours * 3600,
        clock=clock,
    )
    models = Models(catalog, directory, endpoint.provider, settings.default_model, settings.vision_model)
    mainline = Catalog.wire_name(settings.responses_model, endpoint.provider)
    backends: tuple[ImageBackend, ...] = (
        ImagesAPI(client, download=answers.fetch),
        ChatImagesAPI(client, download=answers.fetch),
        ResponsesAPI(client, mainline),
    )
    offered = endpoint.profile.apis
    return Upstream(
        endpoint,
        models,
        {backend.api: backend for backend in backends if backend.api in offered},
        ChatAPI(client),
    )


def model_lister(endpoint: Endpoint, client: UpstreamClient) -> ModelLister | None:
    """How the provider's model list is learned: the models its providers-file entry lists, else its own list;
    None where its list does not name what calls name (Azure's deployments)."""
    from .backends.model_list import DeclaredModels, ModelsAPI

    if endpoint.models:
        return DeclaredModels(endpoint.models).list
    return ModelsAPI(client).list if endpoint.profile.lists_models else None


def longest_call(settings: Settings) -> timedelta:
    """The longest an image call can take: every attempt up to its deadline, then the shutdown grace."""
    attempts = settings.max_retries + 1
    return timedelta(seconds=settings.upstream_timeout * attempts + settings.shutdown_grace + settings.fetch_timeout)


def caps(settings: Settings, catalog: Catalog, endpoints: Sequence[Endpoint]) -> Caps:
    """The budgets of the settings and of each provider. A call of unknown cost counts, while a cap is set, at the
    setting's figure per image, else at the highest per-image figure of the catalog, the shipped one included (a
    models file that removes every price cannot lower it)."""
    from .operations.cost import highest_per_image
    from .operations.ledger import Caps

    unknown = settings.unknown_cost_per_image
    if unknown is None:
        unknown = highest_per_image([*catalog.of_kind(ModelKind.IMAGE), *Catalog.load().of_kind(ModelKind.IMAGE)])
    return Caps(
        per_call=settings.max_cost_per_call,
        daily=settings.daily_budget,
        monthly=settings.monthly_budget,
        user_daily=settings.user_daily_budget,
        user_monthly=settings.user_monthly_budget,
        confirm_above=settings.confirm_above,
        unknown_per_image=unknown,
        providers={endpoint.name: endpoint.budget for endpoint in endpoints},
    )


def index_file(settings: Settings) -> Path:
    """Where this machine keeps its index of the configured bucket: in the user's cache folder, so a restarted
    server reads only the bucket's changes since it stopped."""
    from platformdirs import user_cache_dir

    from .store.s3_index import cache_file

    folder = Path(user_cache_dir("mcp-server-images")) / "bucket-index"
    return cache_file(folder, settings.s3_endpoint_url, settings.s3_bucket or "", settings.s3_prefix)


def open_store(settings: Settings, clock: Clock, *, check: bool = True) -> Store:
    """The configured store. With `check`, a bucket is asked once here, so a wrong name or key stops the start, not
    a call (the command line checks before serving; the server's own store, opened at its first use, does not ask
    again)."""
    if settings.store == "local":
        from .store.local import LocalStore

        local = LocalStore(settings.output_dir, clock)
        local.remove_stale_temporaries()
        return local
    try:
        from obstore.store import S3Store as ObjectStore

        from .store.s3 import S3Store, StoreError
        from .store.s3_index import IndexCache
    except ImportError as exc:
        raise ConfigurationError(
            "--store s3 needs the S3 client library: install mcp-server-images[s3] (it adds obstore)."
        ) from exc
    config: S3Config = {"region": settings.s3_region}
    if settings.s3_endpoint_url:
        config["endpoint"] = settings.s3_endpoint_url
    if settings.s3_access_key_id and settings.s3_secret_access_key:
        config["access_key_id"] = settings.s3_access_key_id.get_secret_value()
        config["secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    http = (settings.s3_endpoint_url or "").startswith("http://")
    # Each request, and the retries after it, get half the store timeout: a bucket that does not answer fails the
    # call within the timeout, saying so, instead of holding it while the client retries for minutes.
    half = timedelta(seconds=settings.store_timeout / 2)
    client = ObjectStore(
        settings.s3_bucket,
        prefix=settings.s3_prefix.strip("/") or None,
        config=config,
        client_options={"allow_http": http, "timeout": half, "connect_timeout": half},
        retry_config={"max_retries": 3, "retry_timeout": half},
    )
    store = S3Store(
        client,
        bucket=settings.s3_bucket or "",
        prefix=settings.s3_prefix,
        link_expiry=settings.link_expiry,
        index=IndexCache(index_file(settings), settings.index_ttl),
        clock=clock,
        timeout=settings.store_timeout,
    )
    if not check:
        return store
    try:
        store.check()
    except StoreError as exc:
        raise ConfigurationError(f"{exc} (check the bucket name, endpoint and credentials)") from exc
    return store
