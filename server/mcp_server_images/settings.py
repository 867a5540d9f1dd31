"""All configuration, built once at start-up and passed down.

Every field can be set by a `MCP_IMAGES_*` environment variable or by the matching CLI flag (see `cli/`), and the
providers' own variables (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `DEDALUS_API_KEY`) are read here too; which of them
decides the upstream is `providers.endpoint_of`'s business. So are OpenTelemetry's standard endpoint variables,
which switch its export on (the exporters read the rest of the `OTEL_*` variables themselves, as every
OpenTelemetry SDK does). No other module of the server reads the environment.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from platformdirs import user_pictures_dir
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "MCP_IMAGES_"


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
        description="API provider: 'openai', 'dedalus', or the base URL of any OpenAI-compatible gateway.",
    )
    base_url: str | None = Field(
        default=None,
        description="Base URL including the version path, e.g. https://api.openai.com/v1 (overrides the provider's).",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="API key (falls back to OPENAI_API_KEY, or DEDALUS_API_KEY for the dedalus provider).",
    )
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    dedalus_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("DEDALUS_API_KEY"))
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
        description="Seconds an instance reuses its listing of the bucket before asking for it again.",
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
        default=False,
        description="With sign-in, list_images and resources/list show each user only the images they made.",
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
    allow_remote: bool = Field(
        default=False,
        description="Allow listening on a non-loopback address without an auth token (not recommended).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level (stderr).")

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        stripped = value.strip()
        if stripped.lower() in ("openai", "dedalus"):
            return stripped.lower()
        if stripped.startswith(("http://", "https://")):
            return stripped
        raise ValueError(f"use 'openai', 'dedalus' or the base URL of an OpenAI-compatible API, not {value!r}")

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

    @field_validator("models_file")
    @classmethod
    def _expand_models_file(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().resolve()

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

    def exports_telemetry(self) -> bool:
        """Whether the standard OpenTelemetry variables name an OTLP endpoint (and do not disable the SDK)."""
        endpoints = (self.otel_endpoint, self.otel_traces_endpoint, self.otel_metrics_endpoint)
        return not self.otel_disabled and any(endpoints)

    def required_scopes(self) -> list[str]:
        return self.oauth_scopes.replace(",", " ").split()

    def instance(self) -> str:
        """This instance's name in shared job records."""
        return self.instance_name or f"{socket.gethostname()}:{os.getpid()}"

    def extra_roots(self) -> list[Path]:
        """The folders from `allowed_dirs`, expanded and absolute."""
        return [Path(part).expanduser().resolve() for part in self.allowed_dirs.split(os.pathsep) if part.strip()]
