"""All configuration, built once at start-up and passed down.

Every field can be set by a `MCP_IMAGES_*` environment variable or by the matching CLI flag (see `cli/`), and the
providers' own variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `DEDALUS_API_KEY`, `AZURE_OPENAI_API_KEY`, ...) are
read here too; which of them decides the upstream is `providers.endpoint_of`'s business. A providers file names the
variables its keys are in: `variable()` reads them from the environment as it was when the settings were built.
OpenTelemetry's standard endpoint variables are read here too: they switch its export on (the exporters read the
rest of the `OTEL_*` variables themselves, as every OpenTelemetry SDK does). No other module of the server reads
the environment.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from platformdirs import user_pictures_dir
from pydantic import AliasChoices, Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MCP_IMAGES_"
ResultShapeSetting = Literal["auto", "standard", "chatgpt", "claude-code", "claude-desktop", "text-links"]
"""What `--result-shape` takes: 'auto', or the name of one of the result shapes (adapter/tools/shapes.py)."""
PROVIDER_NAMES = ("openai", "dedalus", "azure", "gemini", "xai", "openrouter", "ollama", "vllm-omni", "localai")
"""The provider kinds MCP_IMAGES_PROVIDER names (providers.ProviderKind), besides a base URL."""


def default_output_dir() -> Path:
    """`~/Pictures/mcp-server-images` (platformdirs picks the right Pictures folder per OS)."""
    return Path(user_pictures_dir()) / "mcp-server-images"


class Settings(BaseSettings):
    """Server configuration. Field docs double as `--help` text, so they are written for users."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        # An empty variable means "not set": client configs and bundles often pass blanks for optional fields.
        env_ignore_empty=True,
    )

    # --- upstream ---
    provider: str = Field(
        default="openai",
        description="API provider: openai, dedalus, azure, gemini, xai, openrouter, ollama, vllm-omni, localai, or "
        "the base URL of any OpenAI-compatible API (no key needed when none is set).",
    )
    base_url: str | None = Field(
        default=None,
        description="Base URL including the version path, e.g. https://api.openai.com/v1 (overrides the provider's); "
        "for azure the resource endpoint, e.g. https://NAME.openai.azure.com.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="API key (falls back to the provider's own variable: OPENAI_API_KEY, DEDALUS_API_KEY, "
        "AZURE_OPENAI_API_KEY, GEMINI_API_KEY, XAI_API_KEY or OPENROUTER_API_KEY).",
    )
    api_key_file: Path | None = Field(
        default=None,
        description="A file holding the API key (read when first needed, again after --key-lifetime or a 401).",
    )
    api_key_command: str | None = Field(
        default=None,
        description="A command that prints the API key or an access token, e.g. 'az account get-access-token "
        "--query accessToken -o tsv' (run when first needed, again after --key-lifetime or a 401).",
    )
    key_command_timeout: float = Field(default=30.0, gt=0, description="Seconds the API key command may take.")
    key_lifetime: float = Field(
        default=3000.0,
        gt=0,
        description="Seconds a key read from a file or printed by a command is used before it is read again.",
    )
    key_header: Literal["authorization", "api-key"] | None = Field(
        default=None,
        description="Where the key goes: 'authorization' (Bearer) or 'api-key'; by default api-key for azure "
        "(use authorization for an Entra ID token), Bearer for the others.",
    )
    # The version Microsoft's image generation how-to uses for the GPT image models' generations and edits
    # (learn.microsoft.com, Azure OpenAI image generation); the v1 paths (/openai/v1) need none.
    api_version: str = Field(
        default="2025-04-01-preview",
        description="Azure's api-version for deployment paths (a base URL ending in /openai/v1 needs none).",
    )
    providers_file: Path | None = Field(
        default=None,
        description="A TOML file naming several providers (kind, base URL, key, models, defaults); it replaces "
        "the one-provider settings above.",
    )
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    dedalus_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("DEDALUS_API_KEY"))
    azure_openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("AZURE_OPENAI_API_KEY"))
    azure_openai_endpoint: str | None = Field(default=None, validation_alias=AliasChoices("AZURE_OPENAI_ENDPOINT"))
    gemini_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("GEMINI_API_KEY"))
    xai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("XAI_API_KEY"))
    openrouter_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENROUTER_API_KEY"))
    # Defaults with no shutdown announced (November 2026). gpt-image-2.6-flare: the speed-first model of the newest
    # line, at the same token prices as gpt-image-2 and the Sunburst models; speed matters most here because MCP
    # clients commonly give a call 60 s. Unlike gpt-image-2 it takes transparent backgrounds, and it offers xhigh /
    # max quality and GIF / SVG when asked. gpt-6-luna: the model OpenAI names as replacement for every vision model
    # it has deprecated (gpt-4o, gpt-4o-mini, gpt-4.1, gpt-4.1-mini all shut down on 2027-01-14).
    default_model: str = Field(
        default="gpt-image-2.6-flare",
        description="Image model used when a call names none (either spelling: gpt-image-2.6-flare or "
        "openai/gpt-image-2.6-flare).",
    )
    vision_model: str = Field(
        default="gpt-6-luna",
        description="Chat model analyze_image uses when a call names none (sent as openai/gpt-6-luna on Dedalus).",
    )
    image_api: Literal["images", "responses"] = Field(
        default="images",
        description="The API GPT image models use when a call names none: 'images' (/images/generations and "
        "/images/edits) or 'responses' (the Responses API's image_generation tool, through --responses-model; "
        "every image then has a conversation a later edit continues).",
    )
    # gpt-6-luna: the current mainline model in the catalog, named by OpenAI as the replacement of gpt-4o, gpt-4.1
    # and their minis (all shut down on 2027-01-14), with no shutdown announced.
    responses_model: str = Field(
        default="gpt-6-luna",
        description="The mainline model that calls the image_generation tool on the Responses API (one call of "
        "it per image and per refinement).",
    )
    models_file: Path | None = Field(
        default=None,
        description="A TOML file of models that adds to or changes the shipped catalog (same format as the "
        "package's catalog/models.toml), for a gateway's own models.",
    )
    models_refresh_hours: float = Field(
        default=6.0,
        gt=0,
        description="Hours the provider's model list (GET /models) is trusted before it is asked again.",
    )
    catalog_url: str | None = Field(
        default=None,
        description="URL of a signed catalog feed: a TOML document in models.toml's format (signature at the same "
        "URL plus .sig) whose corrections apply between releases; 'off' turns it off. Without it, the project's "
        "published catalog once a release ships the project's key (none ships yet, so off).",
    )
    catalog_keys: str = Field(
        default="",
        description="Public keys a catalog feed may be signed with, besides those shipped: comma-separated base64 of "
        "raw 32-byte Ed25519 keys (as `mcp-server-images catalog sign` prints them).",
    )
    catalog_refresh_hours: float = Field(
        default=24.0, gt=0, description="Hours between fetches of the catalog feed, in the background."
    )
    default_notice_days: int = Field(
        default=30,
        ge=0,
        description="Days before a default model's shutdown from which calls naming no model use its replacement "
        "(0: only once it has shut down).",
    )
    inline_image_urls: bool = Field(
        default=False,
        description="analyze_image fetches http(s) image URLs and sends them inline, for gateways that cannot "
        "fetch URLs themselves (off: URLs are passed through).",
    )
    upstream_timeout: float = Field(
        default=600.0,
        gt=0,
        description="Seconds one upstream answer may take in total, body included; image generation can take minutes.",
    )
    max_upstream_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=1024,
        description="Largest answer accepted from the API, in bytes (default 128 MiB: about 8 times the largest "
        "image a model makes, as base64 JSON); a larger one is refused instead of filling memory.",
    )
    max_concurrency: int = Field(default=4, ge=1, le=64, description="Most upstream requests in flight at once.")
    max_retries: int = Field(
        default=2, ge=0, le=10, description="Retries on connection errors, 408, 409, 429 and 5xx answers."
    )

    # --- slow calls ---
    response_deadline: float = Field(
        default=50.0,
        ge=0,
        description="Seconds a tool waits for the image API before answering with a job id to pass to get_job "
        "(under the common 60 s client limit); 0 waits as long as it takes.",
    )
    partial_images: int = Field(
        default=2,
        ge=0,
        le=3,
        description="Partial images GPT image models stream while generating, when the client asks for progress "
        "(0 turns streaming off).",
    )
    heartbeat_interval: float = Field(
        default=10.0, gt=0, le=10, description="Most seconds between progress notifications while waiting."
    )
    cancel_upstream: bool = Field(
        default=False,
        description="On a cancelled call, abort the upstream request too (off: let it finish and store the "
        "images, since the cost is usually incurred already).",
    )
    shutdown_grace: float = Field(
        default=30.0,
        ge=0,
        description="Seconds a stopping server gives the calls in flight to answer (with the result, else the job "
        "id) and running generations to finish and be stored.",
    )

    # --- results and storage ---
    output_dir: Path = Field(default_factory=default_output_dir, description="Where every image is stored.")
    inline: Literal["preview", "full", "none"] = Field(
        default="preview",
        description="What tool results carry: 'preview' (downscaled to fit the budget), 'full' "
        "(the original when it fits, else a preview) or 'none' (links and text only).",
    )
    inline_budget: int = Field(
        default=900_000,
        ge=20_000,
        description="Most bytes of a whole serialized tool result; Claude Desktop rejects results over 1 MiB.",
    )
    result_shape: ResultShapeSetting = Field(
        default="auto",
        description="How results are shaped: 'auto' (for the host that asks, from the name it gives; unknown hosts "
        "get 'standard'), or one shape for every client (see README, 'Results per host').",
    )

    # --- image inputs ---
    allowed_dirs: str = Field(
        default="",
        description="Extra folders image paths may be read from, separated by the OS path separator "
        "(':' on macOS/Linux, ';' on Windows). The output folder, your home folder and the client's roots are "
        "always allowed; hidden files and folders never are.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Let image URLs point at loopback, private or link-local addresses (off: such URLs are "
        "refused before connecting).",
    )
    max_input_bytes: int = Field(
        default=50 * 1024 * 1024, ge=1024, description="Largest image file or URL body read as input, in bytes."
    )
    max_input_pixels: int = Field(
        default=64_000_000, ge=1024, description="Largest input image in pixels; bigger ones are refused as bombs."
    )
    fetch_timeout: float = Field(default=30.0, gt=0, description="Seconds allowed for fetching one image URL.")
    max_decode_pixels: int = Field(
        default=64_000_000,
        ge=1024,
        description="Most pixels decoded at once across all calls; later decodes wait their turn (one larger "
        "image is decoded alone).",
    )

    # --- costs and budgets (USD; every call's cost is recorded in the store's spend ledger) ---
    max_cost_per_call: float | None = Field(
        default=None,
        ge=0,
        description="Refuse, before any request, a call whose estimate is above this many USD.",
    )
    daily_budget: float | None = Field(
        default=None,
        ge=0,
        description="USD the server may spend per day (UTC) in total; a call that would cross it is refused before "
        "any request.",
    )
    monthly_budget: float | None = Field(
        default=None, ge=0, description="USD the server may spend per calendar month (UTC) in total."
    )
    user_daily_budget: float | None = Field(
        default=None,
        ge=0,
        description="With sign-in (OAuth), USD each user may spend per day (UTC), on top of the totals.",
    )
    user_monthly_budget: float | None = Field(
        default=None, ge=0, description="With sign-in (OAuth), USD each user may spend per calendar month (UTC)."
    )
    unknown_cost_per_image: float | None = Field(
        default=None,
        ge=0,
        description="While any cap is set, what a 1024x1024 image of a call whose cost cannot be estimated counts "
        "against the caps until its real cost is known, in USD; unset, the catalog's highest per-image figure.",
    )
    confirm_above: float | None = Field(
        default=None,
        ge=0,
        description="Ask the user to confirm a call estimated above this many USD (clients with elicitation); other "
        "clients must pass confirm_cost: true.",
    )

    # --- team deployment: a shared store ---
    store: Literal["local", "s3"] = Field(
        default="local",
        description="Where images are stored: 'local' (the output folder) or 's3' (an S3-compatible bucket that "
        "several server instances share).",
    )
    s3_bucket: str | None = Field(default=None, description="S3 bucket (with --store s3).")
    s3_prefix: str = Field(default="", description="Key prefix inside the bucket, e.g. 'images/'.")
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint for non-AWS stores (MinIO, SeaweedFS, R2, ...), e.g. https://s3.example.com.",
    )
    s3_region: str = Field(default="us-east-1", description="S3 region.")
    s3_access_key_id: SecretStr | None = Field(
        default=None, description="S3 access key id; without it, the AWS_* environment variables or the instance role."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret access key.")
    link_expiry: int = Field(
        default=3600,
        ge=60,
        le=604_800,
        description="Seconds the image links in results stay valid (presigned URLs of the bucket).",
    )
    public_base_url: str | None = Field(
        default=None,
        description="The server's public URL (e.g. https://images.example.com): results then link to "
        "<URL>/images/<id>, served by this server behind the same sign-in as the MCP endpoint.",
    )
    index_ttl: float = Field(
        default=2.0,
        ge=0,
        le=300,
        description="Seconds an instance reuses its index of the bucket before reading the journal's new entries.",
    )
    job_lease: float = Field(
        default=60.0,
        ge=1,
        description="Seconds without a heartbeat after which a shared job counts as lost (its instance died).",
    )
    instance_name: str | None = Field(
        default=None, description="This instance's name in shared job records; without it, host name and process id."
    )
    store_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request to the bucket may take, retries included, before the call fails saying so.",
    )

    # --- records and retention ---
    record_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="Hours job records and idempotency keys are kept after their call; a call repeating an "
        "idempotency_key within this window gets the first call's answer.",
    )
    image_expiry_days: float | None = Field(
        default=None,
        gt=0,
        description="Delete stored images this many days after they were made (off: images are kept until deleted).",
    )
    sweep_interval: float = Field(
        default=600.0,
        gt=0,
        description="Seconds between sweeps of the store: old records removed, lost jobs marked, expired images "
        "deleted.",
    )

    # --- observability ---
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines on stderr as 'text' or 'json' (one object per line, with the request id, user, "
        "tool, model, cost and outcome of each call).",
    )
    metrics: bool = Field(
        default=False,
        description="Serve Prometheus metrics at /metrics on the HTTP port, behind the same sign-in as /mcp (needs "
        "the metrics extra).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve Prometheus metrics at /metrics on this port of the HTTP bind address instead, without "
        "sign-in (for a scraper inside the network; needs the metrics extra).",
    )
    metrics_user_labels: bool = Field(
        default=False,
        description="Label call metrics with the signed-in user (off: one series per user can grow without bound).",
    )
    otel_endpoint: str | None = Field(default=None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"))
    otel_traces_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    otel_metrics_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
    )
    otel_disabled: bool = Field(default=False, validation_alias=AliasChoices("OTEL_SDK_DISABLED"))

    # --- sign-in (OAuth 2.1 resource server) ---
    oauth_issuer: str | None = Field(
        default=None,
        description="Issuer URL of the identity provider whose JWT access tokens are accepted (turns on OAuth).",
    )
    oauth_jwks_url: str | None = Field(
        default=None,
        description="The issuer's JWKS URL; without it, discovered from the issuer's metadata.",
    )
    resource_url: str | None = Field(
        default=None,
        description="This server's MCP endpoint as clients reach it, e.g. https://images.example.com/mcp: tokens "
        "must name it as their audience.",
    )
    oauth_scopes: str = Field(default="", description="Scopes every token must carry, separated by spaces.")
    own_images_only: bool = Field(
        default=True,
        description="With sign-in, each user sees only the images, jobs and spend they made, and images other "
        "users shared (by full id); off: every signed-in user sees everything, as one team gallery.",
    )
    admin_subjects: str = Field(
        default="",
        description="With sign-in, the users (token subjects, separated by spaces or commas) who see every user's "
        "images, jobs and spend, with the spend by user.",
    )
    admin_scope: str | None = Field(
        default=None,
        description="With sign-in, a scope whose holders are administrators like MCP_IMAGES_ADMIN_SUBJECTS.",
    )

    # --- transport ---
    transport: Literal["stdio", "http"] = Field(default="stdio", description="'stdio' or 'http' (streamable HTTP).")
    host: str = Field(default="127.0.0.1", description="HTTP bind address.")
    port: int = Field(default=8000, ge=0, le=65535, description="HTTP port.")
    path: str = Field(default="/mcp", description="HTTP path of the MCP endpoint.")
    auth_token: SecretStr | None = Field(
        default=None, description="Bearer token every HTTP request must carry (recommended for HTTP)."
    )
    stateless_http: bool = Field(
        default=False,
        description="Serve HTTP without sessions, so any instance behind a load balancer can answer any request.",
    )
    max_sessions: int = Field(
        default=1000,
        ge=1,
        description="Most HTTP sessions open at once (handshake-era clients); a client opening one more is told "
        "the server is full (503) until one ends or expires.",
    )
    session_idle_timeout: float = Field(
        default=1800.0,
        gt=0,
        description="Seconds an HTTP session may stay idle before it is closed (the client then starts a new one).",
    )
    rate_limit: int = Field(
        default=300,
        ge=0,
        description="Most HTTP requests one user (signed-in subject, or client address) may make per minute; more "
        "are answered 429 with Retry-After (0: no limit).",
    )
    allow_remote: bool = Field(
        default=False,
        description="Allow listening on a non-loopback address without an auth token (not recommended).",
    )
    cors_origins: str = Field(
        default="",
        description="Web origins (e.g. 'https://chat.example.com', comma-separated) whose pages may call the HTTP "
        "endpoint from a browser (CORS); each request still needs the token or sign-in.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level (stderr).")

    _environment: dict[str, str] = PrivateAttr(default_factory=lambda: dict(os.environ))
    """The environment when the settings were built, for the key variables a providers file names."""

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        stripped = value.strip()
        if stripped.lower() in PROVIDER_NAMES:
            return stripped.lower()
        if stripped.startswith(("http://", "https://")):
            return stripped
        raise ValueError(
            f"use one of {', '.join(PROVIDER_NAMES)} or the base URL of an OpenAI-compatible API, not {value!r}"
        )

    @field_validator("path")
    @classmethod
    def _path_starts_with_slash(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"the HTTP path must start with '/', got {value!r}")
        return value.rstrip("/") or "/"

    @field_validator("output_dir")
    @classmethod
    def _expand_output_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("models_file", "providers_file", "api_key_file")
    @classmethod
    def _expand_file(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().resolve()

    @field_validator("catalog_url")
    @classmethod
    def _feed_url(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() == "off":
            return None if value is None else "off"
        if not value.strip().startswith(("http://", "https://")):
            raise ValueError(f"use an http(s) URL or 'off', not {value!r}")
        return value.strip()

    @field_validator("oauth_issuer", "resource_url", "public_base_url", "s3_endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        """Issuer and resource URL are kept exactly as given: tokens must carry them character for character."""
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("public_base_url", "s3_endpoint_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return None if value is None else value.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        if self.store == "s3" and not self.s3_bucket:
            raise ValueError("--store s3 needs a bucket: set MCP_IMAGES_S3_BUCKET")
        if (self.oauth_issuer is None) != (self.resource_url is None):
            raise ValueError(
                "OAuth needs both MCP_IMAGES_OAUTH_ISSUER and MCP_IMAGES_RESOURCE_URL (the audience tokens must name)"
            )
        if self.oauth_issuer is not None and self.auth_token is not None:
            raise ValueError("use either OAuth (MCP_IMAGES_OAUTH_ISSUER) or a static MCP_IMAGES_AUTH_TOKEN, not both")
        return self

    def secrets(self) -> list[str]:
        """Every secret configured (API keys, the HTTP token, the S3 secret): what the redactor keeps out of every
        result, log line and sidecar."""
        values = (getattr(self, name) for name in type(self).model_fields)
        return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]

    def admins(self) -> frozenset[str]:
        """The subjects of `admin_subjects`."""
        return frozenset(self.admin_subjects.replace(",", " ").split())

    def variable(self, name: str) -> SecretStr | None:
        """An environment variable a providers file names for a key (blank counts as not set)."""
        value = self._environment.get(name, "").strip()
        return SecretStr(value) if value else None

    def exports_telemetry(self) -> bool:
        """Whether the standard OpenTelemetry variables name an OTLP endpoint (and do not disable the SDK)."""
        endpoints = (self.otel_endpoint, self.otel_traces_endpoint, self.otel_metrics_endpoint)
        return not self.otel_disabled and any(endpoints)

    def required_scopes(self) -> list[str]:
        return self.oauth_scopes.replace(",", " ").split()

    def instance(self) -> str:
        """This instance's name in shared job records."""
        return self.instance_name or f"{socket.gethostname()}:{os.getpid()}"

    def web_origins(self) -> list[str]:
        """The origins of `cors_origins`, without trailing slashes."""
        return [part.strip().rstrip("/") for part in self.cors_origins.split(",") if part.strip()]

    def extra_roots(self) -> list[Path]:
        """The folders from `allowed_dirs`, expanded and absolute."""
        return [Path(part).expanduser().resolve() for part in self.allowed_dirs.split(os.pathsep) if part.strip()]
