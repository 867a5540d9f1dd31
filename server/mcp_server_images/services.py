"""Everything the tool calls share, opened once by the server's lifespan and closed at its end.

The lifespan runs once per server: over stdio that is one client, over streamable HTTP every client shares the
same pooled upstream client, store and jobs.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio

from .backends import (
    ChatAPI,
    ChatImagesAPI,
    ImageBackend,
    ImagesAPI,
    Redactor,
    ResponsesAPI,
    RetryPolicy,
    UpstreamClient,
)
from .backends.model_list import DeclaredModels, ModelsAPI
from .catalog.catalog import Catalog
from .catalog.discovery import ModelDirectory, ModelLister
from .catalog.feed import FEED_MAX_BYTES, FEED_TIMEOUT, CatalogFeed
from .catalog.spec import Api, ModelKind
from .clock import Clock
from .errors import ConfigurationError
from .imaging.pixel_budget import DECODE_BUDGET
from .inputs import ImageResolver, UrlFetcher
from .inputs.fetch import DOCUMENTS
from .operations.analyze import VisionService
from .operations.cost import highest_per_image, most_per_image
from .operations.deps import ImageDeps
from .operations.drain import Drain
from .operations.housekeeping import Housekeeping
from .operations.idempotency import Keys
from .operations.jobs import JobManager, JobPublisher
from .operations.ledger import Caps, Ledger
from .operations.upstreams import Models, Upstream, Upstreams
from .providers import Endpoint
from .providers_file import providers_of
from .settings import Settings
from .store import LocalStore, Store
from .store.owned import OwnedStore, Viewer
from .telemetry import Telemetry

if TYPE_CHECKING:
    from obstore.store import S3Config


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    """The server's one clock: every date and wall-clock time the tools read."""
    images: ImageDeps
    vision: VisionService
    models: Upstreams
    """Every provider with its models, and the defaults per task."""
    store: OwnedStore
    """The store as the caller sees it: everything in the services the lifespan opens; one user's own images
    (and those shared with them) in the services a request of that user gets (`seen_by`)."""
    jobs: JobManager
    ledger: Ledger
    """Where every call's cost is recorded, with the budgets it enforces."""
    keys: Keys
    """The idempotency keys of producing calls."""
    drain: Drain
    """The server's orderly stop: whether it is stopping, and until when calls may wait."""
    telemetry: Telemetry
    client_log_levels: dict[str | None, str] = field(default_factory=dict)
    """The least severe log level each handshake-era client asked for (logging/setLevel), by its HTTP session id
    (None for the one client of a stdio server)."""

    def seen_by(self, viewer: Viewer) -> Services:
        """These services as `viewer` sees them: every read of an image, a job or an input goes through the store's
        owner-scoped view for that user."""
        store = self.store.seen_by(viewer)
        return replace(self, store=store, images=self.images.seen_by(store), vision=self.vision.seen_by(store))


@dataclass(frozen=True)
class Serving:
    """What the server is built with before its lifespan opens the rest: its clock, its way out and its recorder."""

    clock: Clock
    drain: Drain
    telemetry: Telemetry


@asynccontextmanager
async def open_services(settings: Settings, feed: CatalogFeed, serving: Serving) -> AsyncIterator[Services]:
    """One pooled upstream client per provider, the URL fetchers, one job group and the store's sweep for the
    server's life.

    The URL fetchers are the only downloaders: image URLs from users and from the image APIs' answers go through
    the same address checks and limits; each provider's answers have a fetcher of their own that also trusts that
    provider's origin (a local server answers with URLs on localhost), and the catalog feed's fetcher the feed's
    own origin. The feed is refreshed by a task of the job group, so neither the start nor a call waits for it. One
    redactor knows every configured secret and every provider's key, those a key file or command gives included.
    On the way out, running jobs get what is left of the shutdown grace period to finish and store their images.
    """
    clock, telemetry = serving.clock, serving.telemetry
    catalog = feed.catalog
    configured = providers_of(settings)
    endpoints = configured.endpoints
    store = await anyio.to_thread.run_sync(open_store, settings, clock)
    DECODE_BUDGET.resize(settings.max_decode_pixels)
    redactor = Redactor(configured.secrets(settings))
    fetcher = UrlFetcher(
        allow_private=settings.allow_private_urls, timeout=settings.fetch_timeout, max_bytes=settings.max_input_bytes
    )
    documents = UrlFetcher(
        allow_private=settings.allow_private_urls,
        timeout=FEED_TIMEOUT,
        max_bytes=FEED_MAX_BYTES,
        trusted_origin=feed.url,
        wanted=DOCUMENTS,
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(aclosing(fetcher))
        await stack.enter_async_context(aclosing(documents))
        opened = [await _upstream(stack, settings, catalog, serving, endpoint, redactor) for endpoint in endpoints]
        upstreams = Upstreams(
            catalog,
            tuple(opened),
            configured.defaults,
            feed=feed.status,
            notice_days=settings.default_notice_days,
        )
        group = await stack.enter_async_context(anyio.create_task_group())
        if feed.url is not None:
            group.start_soon(feed.run, documents, settings.catalog_refresh_hours * 3600)
        publisher = JobPublisher(store.jobs, instance=settings.instance(), lease=settings.job_lease, clock=clock)
        resolver = ImageResolver(
            store=store,
            fetcher=fetcher,
            extra_roots=settings.extra_roots(),
            max_bytes=settings.max_input_bytes,
            max_pixels=settings.max_input_pixels,
        )
        budgets = caps(settings, catalog, endpoints)
        images = ImageDeps(
            store=store,
            resolver=resolver,
            upstreams=upstreams,
            most_reported=most_per_image(budgets.unknown_per_image),
            preferred_api=Api(settings.image_api),
        )
        jobs = JobManager(
            group,
            clock=clock,
            heartbeat_interval=settings.heartbeat_interval,
            publisher=publisher,
            telemetry=telemetry,
        )
        group.start_soon(jobs.drain, serving.drain)
        retention = settings.record_retention_hours * 3600
        expiry = None if settings.image_expiry_days is None else settings.image_expiry_days * 86400
        group.start_soon(Housekeeping(store, clock, telemetry, retention, expiry).run, settings.sweep_interval)
        vision = VisionService(upstreams=upstreams, resolver=resolver, inline_urls=settings.inline_image_urls)
        try:
            yield Services(
                settings=settings,
                clock=clock,
                images=images,
                vision=vision,
                models=upstreams,
                store=OwnedStore(store),
                jobs=jobs,
                ledger=Ledger(
                    store,
                    budgets,
                    clock,
                    # Unique to this server object, as in-flight reservations are: two servers in one process
                    # (tests) or a restarted instance of the same name are told apart.
                    instance=f"{settings.instance()}#{secrets.token_hex(3)}",
                    call_lasts=longest_call(settings),
                ),
                keys=Keys(store.jobs, clock, retention),
                drain=serving.drain,
                telemetry=telemetry,
            )
        finally:
            with anyio.CancelScope(shield=True):
                if serving.drain.draining:
                    await jobs.stopped()  # the transport began the drain: the jobs got what the grace period left
                else:  # the client left (an in-memory session, the end of stdin where it cannot be watched)
                    await jobs.finish_or_stop(settings.shutdown_grace, settings.shutdown_grace)
            group.cancel_scope.cancel()


async def _upstream(
    stack: AsyncExitStack,
    settings: Settings,
    catalog: Catalog,
    serving: Serving,
    endpoint: Endpoint,
    redactor: Redactor,
) -> Upstream:
    """One provider: its pooled client, the fetcher of its answers' URLs, its model list and its APIs."""
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
    await stack.enter_async_context(aclosing(client))
    answers = UrlFetcher(
        allow_private=settings.allow_private_urls,
        timeout=settings.fetch_timeout,
        max_bytes=settings.max_input_bytes,
        trusted_origin=endpoint.base_url,
    )
    await stack.enter_async_context(aclosing(answers))
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


def open_store(settings: Settings, clock: Clock) -> Store:
    """The configured store; a bucket is listed once here, so a wrong name or key stops the start, not a call."""
    if settings.store == "local":
        local = LocalStore(settings.output_dir, clock)
        local.remove_stale_temporaries()
        return local
    try:
        from obstore.store import S3Store as ObjectStore

        from .store.s3 import S3Store, StoreError
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
        index_ttl=settings.index_ttl,
        clock=clock,
        timeout=settings.store_timeout,
    )
    try:
        store.check()
    except StoreError as exc:
        raise ConfigurationError(f"{exc} (check the bucket name, endpoint and credentials)") from exc
    return store
