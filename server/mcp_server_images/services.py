"""Everything the tool calls share, opened once by the server's lifespan and closed at its end.

The lifespan runs once per server: over stdio that is one client, over streamable HTTP every client shares the
same pooled upstream client, store and jobs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass

import anyio

from .backends import ChatAPI, ImagesAPI, Redactor, RetryPolicy, UpstreamClient
from .backends.models import ModelsAPI
from .catalog.catalog import Catalog
from .catalog.discovery import ModelDirectory
from .imaging.budget import DECODE_BUDGET
from .inputs import ImageResolver, UrlFetcher
from .operations.analyze import VisionService
from .operations.common import ImageDeps
from .operations.jobs import JobManager
from .operations.models import Models
from .settings import Settings
from .store import ImageStore


@dataclass(frozen=True)
class Services:
    settings: Settings
    images: ImageDeps
    vision: VisionService
    models: Models
    store: ImageStore
    jobs: JobManager


@asynccontextmanager
async def open_services(settings: Settings, catalog: Catalog) -> AsyncIterator[Services]:
    """One pooled upstream client, one URL fetcher and one job group for the server's life.

    The URL fetcher is the only downloader: image URLs from users and from the image API's answers go through
    the same address checks and limits. On the way out, running jobs get the shutdown grace period to finish
    and store their images.
    """
    endpoint = settings.endpoint()
    store = ImageStore(settings.output_dir)
    await anyio.to_thread.run_sync(store.remove_stale_temporaries)
    DECODE_BUDGET.resize(settings.max_decode_pixels)
    credentials = (endpoint.api_key, settings.auth_token)
    client = UpstreamClient(
        endpoint,
        timeout=settings.upstream_timeout,
        max_concurrency=settings.max_concurrency,
        retry=RetryPolicy(max_retries=settings.max_retries),
        max_answer_bytes=settings.max_upstream_bytes,
        redactor=Redactor(secret.get_secret_value() for secret in credentials if secret is not None),
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
        directory = ModelDirectory(
            catalog,
            ModelsAPI(client).list,
            provider=endpoint.provider,
            refresh_after=settings.models_refresh_hours * 3600,
        )
        models = Models(catalog, directory, endpoint.provider, settings.default_model, settings.vision_model)
        upstream_images = ImagesAPI(client, download=fetcher.fetch)
        images = ImageDeps(images=upstream_images, store=store, resolver=resolver, models=models)
        vision = VisionService(
            chat=ChatAPI(client), resolver=resolver, models=models, inline_urls=settings.inline_image_urls
        )
        try:
            yield Services(settings=settings, images=images, vision=vision, models=models, store=store, jobs=jobs)
        finally:
            await jobs.drain(settings.shutdown_grace)
            group.cancel_scope.cancel()
