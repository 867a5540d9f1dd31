"""Everything the tool calls share, opened once by the server's lifespan and closed at its end.

The lifespan runs once per server: over stdio that is one client, over streamable HTTP every client shares the
same pooled upstream client, store and jobs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field

import anyio

from .backends import ChatAPI, ImagesAPI, RetryPolicy, UpstreamClient
from .inputs import ImageResolver, UrlFetcher
from .operations.analyze import VisionService
from .operations.common import ImageDeps, VariationsMemo
from .operations.jobs import JobManager
from .settings import Settings
from .store import ImageStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    images: ImageDeps
    vision: VisionService
    store: ImageStore
    jobs: JobManager
    client_log_levels: dict[str | None, str] = field(default_factory=dict)
    """The least severe log level each handshake-era client asked for (logging/setLevel), by its HTTP session id
    (None for the one client of a stdio server)."""


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """One pooled upstream client, one URL fetcher and one job group for the server's life.

    On the way out, running jobs get the shutdown grace period to finish and store their images.
    """
    endpoint = settings.endpoint()
    store = ImageStore(settings.output_dir)
    client = UpstreamClient(
        endpoint,
        timeout=settings.upstream_timeout,
        max_concurrency=settings.max_concurrency,
        retry=RetryPolicy(max_retries=settings.max_retries),
    )
    fetcher = UrlFetcher(
        allow_private=settings.allow_private_urls, timeout=settings.fetch_timeout, max_bytes=settings.max_input_bytes
    )
    async with aclosing(client), aclosing(fetcher), anyio.create_task_group() as group:
        jobs = JobManager(group, heartbeat_interval=settings.heartbeat_interval)
        resolver = ImageResolver(
            store=store,
            fetcher=fetcher,
            extra_roots=settings.extra_roots(),
            max_bytes=settings.max_input_bytes,
            max_pixels=settings.max_input_pixels,
        )
        images = ImageDeps(
            images=ImagesAPI(client),
            store=store,
            resolver=resolver,
            provider=endpoint.provider,
            default_model=settings.default_model,
            variations=VariationsMemo(),
        )
        vision = VisionService(
            chat=ChatAPI(client),
            resolver=resolver,
            provider=endpoint.provider,
            default_model=settings.vision_model,
            inline_urls=settings.inline_image_urls,
        )
        try:
            yield Services(settings=settings, images=images, vision=vision, store=store, jobs=jobs)
        finally:
            await jobs.drain(settings.shutdown_grace)
            group.cancel_scope.cancel()
