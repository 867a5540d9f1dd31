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
from ..backends.client import UpstreamClient
from ..backends.errors import UpstreamError
from ..backends.model_list import ModelsAPI
from ..backends.redact import Redactor
from ..backends.retry import RetryPolicy
from ..catalog.load import canonical_name
from ..catalog.spec import ServedModel
from ..clock import Clock
from ..errors import ConfigurationError, ImageServerError
from ..providers import Endpoint
from ..providers_file import ProvidersFile, providers_of
from ..services import open_store
from ..settings import Settings
from ..telemetry import Telemetry
from .catalog_commands import fetched_feed
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


def configuration(endpoint: Endpoint, name: str = "api key") -> Check:
    where = f"provider {endpoint.label} at {endpoint.base_url}"
    if endpoint.key_source is None and endpoint.profile.needs_key:
        variables = " or ".join(endpoint.key_variables)
        return Check(
            name,
            "fail",
            f"{where}, no API key",
            f"Set {variables} in the 'env' block of your client's configuration "
            f"(`{subcommand('config <client>')}` prints one) and restart the client.",
        )
    if endpoint.key_source is None:
        return Check(name, "ok", f"{where}, no key (none needed)")
    return Check(name, "ok", f"{where}, key from {endpoint.key_source}")


async def fetch_models(settings: Settings, endpoint: Endpoint, clock: Clock) -> list[ServedModel]:
    """The provider's model list (`GET /models`), asked once, without retries; a key file is read and a key command
    run to ask it."""
    client = UpstreamClient(
        endpoint,
        timeout=TIMEOUT,
        max_concurrency=1,
        retry=RetryPolicy(max_retries=0, clock=clock),
        max_answer_bytes=settings.max_upstream_bytes,
        redactor=Redactor(providers_of(settings).secrets(settings)),
        telemetry=Telemetry(endpoint.provider),
    )
    async with aclosing(client):
        return await ModelsAPI(client).list()


def provider_answer(
    endpoint: Endpoint, error: ImageServerError | None, models: list[ServedModel], name: str = "provider"
) -> Check:
    if error is None:
        listed = f"answered with {len(models)} models" if endpoint.profile.lists_models else "answered"
        return Check(name, "ok", f"{endpoint.base_url} {listed} and accepted the key")
    status = error.status if isinstance(error, UpstreamError) else None
    if status in (401, 403):
        return Check(
            name,
            "fail",
            f"{endpoint.base_url} refused the key from {endpoint.key_source}: {error}",
            f"Put a current key for {endpoint.label} in {endpoint.key_source}.",
        )
    if isinstance(error, ConfigurationError):
        return Check(name, "fail", f"no key to ask {endpoint.base_url} with: {error}", "Fix the key's source.")
    if status is None:
        return Check(
            name,
            "fail",
            f"could not reach {endpoint.base_url}: {error}",
            "Check the base URL (MCP_IMAGES_BASE_URL or MCP_IMAGES_PROVIDER), the network and any proxy.",
        )
    return Check(
        name,
        "fail",
        f"{endpoint.base_url}/models answered with an error: {error}",
        "Check that the base URL points at an OpenAI-compatible API, including its version path (…/v1).",
    )


def model_served(
    role: str, model: str, models: list[ServedModel], endpoint: Endpoint, today: date, variable: str | None = None
) -> Check:
    """Whether the provider lists the model (compared without an `openai/` prefix), and any shutdown date, told as
    past or to come by `today` (the server clock's date)."""
    wanted = canonical_name(model).lower()
    listed = next((entry for entry in models if canonical_name(entry.id).lower() == wanted), None)
    variable = variable or ("MCP_IMAGES_DEFAULT_MODEL" if role == "image model" else "MCP_IMAGES_VISION_MODEL")
    if listed is None:
        gateway = not endpoint.profile.decides
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


async def catalog_in_force(settings: Settings, clock: Clock) -> Check:
    """Which catalog a server would use, with the feed fetched once the way the server fetches it; says when the
    feed is off (no key ships with the package yet) and why a feed's copy is refused."""
    try:
        feed = await fetched_feed(settings, clock)
    except ConfigurationError as exc:
        return Check("catalog", "fail", str(exc), "Fix the models file, or MCP_IMAGES_CATALOG_KEYS.")
    in_force = feed.catalog.in_force.describe(clock.today())
    if feed.url is None:
        return Check("catalog", "ok", f"{in_force}; {feed.status.off}")
    if feed.status.problem is not None:
        return Check(
            "catalog",
            "warn",
            f"{in_force}; the feed {feed.url} is refused: {feed.status.problem}",
            "Ask whoever publishes the feed to sign a new copy with a higher serial and a later valid_until, or "
            "check MCP_IMAGES_CATALOG_URL and MCP_IMAGES_CATALOG_KEYS (`mcp-server-images catalog check`).",
        )
    return Check("catalog", "ok", f"{in_force}; following the feed {feed.url}")


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
    checks = [versions()]
    try:
        configured = providers_of(settings)
    except ConfigurationError as exc:
        checks.append(Check("providers", "fail", str(exc), "Fix the providers file (MCP_IMAGES_PROVIDERS_FILE)."))
        return [*checks, await catalog_in_force(settings, clock), image_store(settings, clock), http_safety(settings)]
    if len(configured.endpoints) == 1:
        checks += await one_provider(settings, configured.endpoints[0], clock)
    else:
        checks += await several_providers(settings, configured, clock)
    return [*checks, await catalog_in_force(settings, clock), image_store(settings, clock), http_safety(settings)]


async def one_provider(settings: Settings, endpoint: Endpoint, clock: Clock) -> list[Check]:
    """The key, the provider's answer, and whether it serves the default image and vision models."""
    checks = [configuration(endpoint)]
    if checks[0].status != "ok":
        return [*checks, Check("provider", "skip", "not asked: there is no API key to ask with")]
    models, error = await _asked(settings, endpoint, clock)
    checks.append(provider_answer(endpoint, error, models))
    if error is None and endpoint.profile.lists_models:
        today = clock.today()
        checks.append(model_served("image model", settings.default_model, models, endpoint, today))
        checks.append(model_served("vision model", settings.vision_model, models, endpoint, today))
    return checks


async def several_providers(settings: Settings, configured: ProvidersFile, clock: Clock) -> list[Check]:
    """Each provider's key and answer, then which provider serves each task's default model."""
    checks: list[Check] = []
    lists: dict[str, list[ServedModel]] = {}
    for endpoint in configured.endpoints:
        checks.append(configuration(endpoint, f"api key ({endpoint.name})"))
        if checks[-1].status != "ok":
            checks.append(Check(f"provider ({endpoint.name})", "skip", "not asked: there is no API key to ask with"))
            continue
        models, error = await _asked(settings, endpoint, clock)
        checks.append(provider_answer(endpoint, error, models, f"provider ({endpoint.name})"))
        if error is None and endpoint.profile.lists_models:
            lists[endpoint.name] = [ServedModel(model) for model in endpoint.models] or models
    for task, fallback in (("generate", settings.default_model), ("edit", None), ("vision", settings.vision_model)):
        model = configured.defaults.get(task) or fallback
        if model is not None:
            checks.append(_default_served(task, model, configured, lists, clock.today()))
    return checks


def _default_served(
    task: str, configured: str, providers: ProvidersFile, lists: dict[str, list[ServedModel]], today: date
) -> Check:
    """Which provider serves a task's default model: the one it names (model@provider), else the ones that list it."""
    model, at, name = configured.rpartition("@")
    named = at and model and any(endpoint.name == name for endpoint in providers.endpoints)
    role, variable = f"{task} model", f"{task} in [defaults] of the providers file"
    if named:
        endpoint = next(endpoint for endpoint in providers.endpoints if endpoint.name == name)
        if name not in lists:
            return Check(role, "ok", f"{model} on {name} (its model list is not asked)")
        return model_served(role, model, lists[name], endpoint, today, variable)
    serving = [name for name, models in lists.items() if any(_same(entry.id, configured) for entry in models)]
    if len(serving) == 1:
        return Check(role, "ok", f"{configured} is served by {serving[0]}")
    if serving:
        return Check(
            role,
            "warn",
            f"{configured} is served by {', '.join(serving)}: calls naming no model would have to choose",
            f"Name one in {variable}, e.g. {configured}@{serving[0]}.",
        )
    return Check(
        role,
        "warn",
        f"no provider lists {configured} (one without a model list may serve it)",
        f"Set {variable} to a model a provider lists, as model@provider.",
    )


def _same(listed: str, model: str) -> bool:
    return canonical_name(listed).lower() == canonical_name(model).lower()


async def _asked(
    settings: Settings, endpoint: Endpoint, clock: Clock
) -> tuple[list[ServedModel], ImageServerError | None]:
    try:
        return await fetch_models(settings, endpoint, clock), None
    except ImageServerError as exc:
        return [], exc


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
