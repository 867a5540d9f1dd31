"""`mcp-server-images doctor`: check a set-up the way the server will use it, and say what to do about each problem.

It reads the same settings the server would (flags, `MCP_IMAGES_*`, the provider's own variables), asks the
provider for its model list with the configured key, and tries the image folder. The key itself is never
printed: only which variable supplied it.
"""

from __future__ import annotations

import json
import platform
import tempfile
from contextlib import aclosing
from dataclasses import asdict, dataclass
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from .. import __version__
from ..adapter.serving.http import loopback_address
from ..backends import Redactor, RetryPolicy, UpstreamClient, UpstreamError
from ..backends.model_list import ModelsAPI
from ..catalog.load import canonical_name
from ..catalog.spec import ServedModel
from ..clock import Clock
from ..errors import ConfigurationError, ImageServerError
from ..providers import ProviderKind, endpoint_of
from ..services import open_store
from ..settings import Settings
from ..telemetry import Telemetry
from .client_config import subcommand

Status = Literal["ok", "warn", "fail", "skip"]
TIMEOUT = 20.0
"""Seconds the provider gets to answer the model list; a doctor that hangs helps nobody."""


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def _sdk_version() -> str:
    try:
        return version("mcp")
    except PackageNotFoundError:
        return "unknown"


def versions() -> Check:
    detail = f"mcp-server-images {__version__}, MCP SDK {_sdk_version()}, Python {platform.python_version()}"
    return Check("versions", "ok", detail)


def configuration(settings: Settings) -> Check:
    endpoint = endpoint_of(settings)
    where = f"provider {endpoint.provider} at {endpoint.base_url}"
    if endpoint.key_source is None:
        variables = " or ".join(endpoint.key_variables)
        return Check(
            "api key",
            "fail",
            f"{where}, no API key",
            f"Set {variables} in the 'env' block of your client's configuration "
            f"(`{subcommand('config <client>')}` prints one) and restart the client.",
        )
    return Check("api key", "ok", f"{where}, key from {endpoint.key_source}")


async def fetch_models(settings: Settings, clock: Clock) -> list[ServedModel]:
    """The provider's model list (`GET /models`), asked once, without retries."""
    endpoint = endpoint_of(settings)
    secrets = (endpoint.api_key, settings.auth_token)
    client = UpstreamClient(
        endpoint,
        timeout=TIMEOUT,
        max_concurrency=1,
        retry=RetryPolicy(max_retries=0, clock=clock),
        max_answer_bytes=settings.max_upstream_bytes,
        redactor=Redactor(secret.get_secret_value() for secret in secrets if secret is not None),
        telemetry=Telemetry(endpoint.provider),
    )
    async with aclosing(client):
        return await ModelsAPI(client).list()


def provider_answer(settings: Settings, error: ImageServerError | None, models: list[ServedModel]) -> Check:
    endpoint = endpoint_of(settings)
    if error is None:
        return Check("provider", "ok", f"{endpoint.base_url} answered with {len(models)} models and accepted the key")
    status = error.status if isinstance(error, UpstreamError) else None
    if status in (401, 403):
        return Check(
            "provider",
            "fail",
            f"{endpoint.base_url} refused the key from {endpoint.key_source}: {error}",
            f"Put a current key for {endpoint.provider} in {endpoint.key_source}.",
        )
    if status is None:
        return Check(
            "provider",
            "fail",
            f"could not reach {endpoint.base_url}: {error}",
            "Check the base URL (MCP_IMAGES_BASE_URL or MCP_IMAGES_PROVIDER), the network and any proxy.",
        )
    return Check(
        "provider",
        "fail",
        f"{endpoint.base_url}/models answered with an error: {error}",
        "Check that the base URL points at an OpenAI-compatible API, including its version path (…/v1).",
    )


def model_served(role: str, model: str, models: list[ServedModel], settings: Settings, today: date) -> Check:
    """Whether the provider lists the model (compared without an `openai/` prefix), and any shutdown date, told as
    past or to come by `today` (the server clock's date)."""
    wanted = canonical_name(model).lower()
    listed = next((entry for entry in models if canonical_name(entry.id).lower() == wanted), None)
    variable = "MCP_IMAGES_DEFAULT_MODEL" if role == "image model" else "MCP_IMAGES_VISION_MODEL"
    if listed is None:
        gateway = endpoint_of(settings).provider is ProviderKind.CUSTOM
        return Check(
            role,
            "warn" if gateway else "fail",
            f"{model} is not in the provider's model list" + (" (a gateway may serve it anyway)" if gateway else ""),
            f"Set {variable} to a model the provider lists.",
        )
    if listed.shutdown_date and listed.shutdown_date <= today:
        return Check(
            role,
            "warn",
            f"{model} was shut down on {listed.shutdown_date}, though the provider still lists it",
            f"Move to a current model with {variable}.",
        )
    if listed.shutdown_date:
        return Check(
            role,
            "warn",
            f"{model} is served but shuts down on {listed.shutdown_date}",
            f"Move to a newer model before then with {variable}.",
        )
    return Check(role, "ok", f"{model} is served")


def image_store(settings: Settings, clock: Clock) -> Check:
    """The store the server would use, opened as it opens it: the bucket listed (--store s3), or the folder."""
    if settings.store == "local":
        return image_folder(settings)
    try:
        store = open_store(settings, clock)
    except ConfigurationError as exc:
        return Check(
            "image store",
            "fail",
            str(exc),
            "Check MCP_IMAGES_S3_BUCKET, MCP_IMAGES_S3_ENDPOINT_URL and the S3 credentials (or install "
            "mcp-server-images[s3]).",
        )
    return Check("image store", "ok", f"{store.location} answered (listed)")


def image_folder(settings: Settings) -> Check:
    folder = settings.output_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check(
            "image folder",
            "fail",
            f"cannot write to {folder}: {exc.strerror or exc}",
            "Set MCP_IMAGES_OUTPUT_DIR to a folder you can write to (or fix this folder's permissions).",
        )
    return Check("image folder", "ok", f"{folder} is writable")


def http_safety(settings: Settings) -> Check:
    if settings.transport != "http":
        return Check("transport", "ok", "stdio: the server opens no network port")
    where = f"http://{settings.host}:{settings.port}{settings.path}"
    has_token = settings.auth_token is not None and bool(settings.auth_token.get_secret_value())
    if loopback_address(settings.host) is not None:
        protection = "a bearer token" if has_token else "DNS-rebinding protection"
        return Check("transport", "ok", f"{where} on loopback only, with {protection}")
    if has_token:
        return Check("transport", "ok", f"{where} reachable from the network, every request needs the bearer token")
    if settings.allow_remote:
        return Check(
            "transport",
            "warn",
            f"{where} reachable from the network without a token (--allow-remote)",
            "Only do this behind a proxy that authenticates requests; otherwise set MCP_IMAGES_AUTH_TOKEN.",
        )
    return Check(
        "transport",
        "fail",
        f"{where} without a token: the server refuses to start like this",
        "Set MCP_IMAGES_AUTH_TOKEN, or bind to 127.0.0.1 with --host.",
    )


async def diagnose(settings: Settings, clock: Clock) -> list[Check]:
    checks = [versions(), configuration(settings)]
    models: list[ServedModel] = []
    if checks[-1].status == "ok":
        error: ImageServerError | None = None
        try:
            models = await fetch_models(settings, clock)
        except ImageServerError as exc:
            error = exc
        checks.append(provider_answer(settings, error, models))
        if error is None:
            checks.append(model_served("image model", settings.default_model, models, settings, clock.today()))
            checks.append(model_served("vision model", settings.vision_model, models, settings, clock.today()))
    else:
        checks.append(Check("provider", "skip", "not asked: there is no API key to ask with"))
    checks += [image_store(settings, clock), http_safety(settings)]
    return checks


LABELS: dict[Status, str] = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


def report(checks: list[Check], *, as_json: bool) -> str:
    failed = [check for check in checks if check.status == "fail"]
    if as_json:
        return json.dumps({"ok": not failed, "checks": [asdict(check) for check in checks]}, indent=2)
    lines = ["mcp-server-images doctor"]
    for check in checks:
        lines.append(f"  {LABELS[check.status]:<5} {check.name}: {check.detail}")
        if check.fix:
            lines.append(f"        -> {check.fix}")
    lines.append(f"{len(failed)} problem(s) found." if failed else "Everything needed is in place.")
    return "\n".join(lines)
