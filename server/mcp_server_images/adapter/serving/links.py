"""Links to full images that a client can fetch, for clients that read only structuredContent (ChatGPT).

With a public base URL, results link to `<base>/images/<id>`, which this server answers behind the same sign-in as
its MCP endpoint (whatever the store). Otherwise a bucket's presigned, time-limited URLs are the links; a local
folder without a public base URL has none.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...errors import ImageServerError
from ...services import Services
from ...store import ImageRecord

IMAGE_ROUTE = "/images/{image_id}"


def image_url(services: Services, record: ImageRecord) -> str | None:
    """Blocks on nothing slow (presigning is computed locally), but runs with the other store calls in a thread."""
    base = services.settings.public_base_url
    if base:
        return f"{base}/images/{record.id}"
    return services.store.link(record)


async def serve_image(services: Services, request: Request) -> Response:
    """GET /images/<id>: the stored image's bytes, with its type, to whoever may read it (`services` are the
    requesting user's, see adapter/context.py)."""
    store = services.store
    try:
        record = await anyio.to_thread.run_sync(store.get, request.path_params["image_id"])
        data = await anyio.to_thread.run_sync(store.read, record)
    except ImageServerError as exc:
        return JSONResponse({"error": "not_found", "message": str(exc)}, status_code=404)
    return Response(data, media_type=record.mime_type, headers={"cache-control": "private, max-age=86400"})
