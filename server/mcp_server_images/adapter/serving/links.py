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
from ...imaging.info import SVG_MIME
from ...services import Services
from ...store import ImageRecord

IMAGE_ROUTE = "/images/{image_id}"
NO_SCRIPT = {
    "content-security-policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox",
    "x-content-type-options": "nosniff",
}
"""Every image is served under a policy that runs nothing: an SVG a model wrote may carry a script (it is kept as it
came), and opened from this server's origin it would otherwise run there. SVGs also come as attachments."""


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
    headers = {"cache-control": "private, max-age=86400", **NO_SCRIPT}
    if record.mime_type == SVG_MIME:
        headers["content-disposition"] = f'attachment; filename="{record.name}"'
    return Response(data, media_type=record.mime_type, headers=headers)
