"""Command line entry point: flags mirror the `MCP_IMAGES_*` environment variables one to one.

`mcp-server-images` serves MCP; `mcp-server-images config <client>` prints a client snippet,
`mcp-server-images doctor` checks the set-up and `mcp-server-images catalog show|check|sign` shows the model
catalog in force, checks a catalog feed and signs one. On start the server logs (to stderr) what it resolved: provider,
base URL, where the key came from (never the key), the output directory and the default model, so a
misconfiguration is visible before the first call. Started in a terminal, it also says what it is waiting for.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import anyio
from pydantic import ValidationError

from .. import __version__
from ..backends.redact import RedactingFilter, Redactor
from ..clock import Clock
from ..errors import ConfigurationError
from ..providers import Endpoint
from ..providers_file import providers_of
from ..settings import ENV_PREFIX, ResultShapeSetting, Settings
from ..telemetry.logs import configure_logging
from .client_config import CLIENTS, TOKEN_PLACEHOLDER, remote_of, start_command, subcommand, this_install

if TYPE_CHECKING:  # the OpenTelemetry SDK is imported only when it exports
    from ..telemetry.otel import Export

log = logging.getLogger("mcp_server_images")

# (flag, settings field, argparse extras). The help text comes from the field's description.
FLAGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--transport", "transport", {"choices": ["stdio", "http"]}),
    ("--host", "host", {}),
    ("--port", "port", {"type": int}),
    ("--path", "path", {}),
    ("--output-dir", "output_dir", {"metavar": "DIR"}),
    ("--provider", "provider", {"metavar": "KIND|URL"}),
    ("--base-url", "base_url", {"metavar": "URL"}),
    ("--api-key", "api_key", {"metavar": "KEY"}),
    ("--api-key-file", "api_key_file", {"metavar": "FILE"}),
    ("--api-key-command", "api_key_command", {"metavar": "COMMAND"}),
    ("--key-command-timeout", "key_command_timeout", {"type": float, "metavar": "SECONDS"}),
    ("--key-lifetime", "key_lifetime", {"type": float, "metavar": "SECONDS"}),
    ("--key-header", "key_header", {"choices": ["authorization", "api-key"]}),
    ("--api-version", "api_version", {"metavar": "VERSION"}),
    ("--providers-file", "providers_file", {"metavar": "FILE"}),
    ("--default-model", "default_model", {"metavar": "MODEL"}),
    ("--vision-model", "vision_model", {"metavar": "MODEL"}),
    ("--image-api", "image_api", {"choices": ["images", "responses"]}),
    ("--responses-model", "responses_model", {"metavar": "MODEL"}),
    ("--models-file", "models_file", {"metavar": "FILE"}),
    ("--models-refresh-hours", "models_refresh_hours", {"type": float, "metavar": "HOURS"}),
    ("--catalog-url", "catalog_url", {"metavar": "URL|off"}),
    ("--catalog-keys", "catalog_keys", {"metavar": "KEYS"}),
    ("--catalog-refresh-hours", "catalog_refresh_hours", {"type": float, "metavar": "HOURS"}),
    ("--default-notice-days", "default_notice_days", {"type": int, "metavar": "DAYS"}),
    ("--inline-image-urls", "inline_image_urls", {"action": "store_true"}),
    ("--allowed-dirs", "allowed_dirs", {"metavar": "DIRS"}),
    ("--allow-private-urls", "allow_private_urls", {"action": "store_true"}),
    ("--max-input-bytes", "max_input_bytes", {"type": int, "metavar": "BYTES"}),
    ("--max-input-pixels", "max_input_pixels", {"type": int, "metavar": "PIXELS"}),
    ("--fetch-timeout", "fetch_timeout", {"type": float, "metavar": "SECONDS"}),
    ("--max-decode-pixels", "max_decode_pixels", {"type": int, "metavar": "PIXELS"}),
    ("--response-deadline", "response_deadline", {"type": float, "metavar": "SECONDS"}),
    ("--partial-images", "partial_images", {"type": int, "metavar": "N"}),
    ("--heartbeat-interval", "heartbeat_interval", {"type": float, "metavar": "SECONDS"}),
    ("--cancel-upstream", "cancel_upstream", {"action": "store_true"}),
    ("--shutdown-grace", "shutdown_grace", {"type": float, "metavar": "SECONDS"}),
    ("--inline", "inline", {"choices": ["preview", "full", "none"]}),
    ("--inline-budget", "inline_budget", {"type": int, "metavar": "BYTES"}),
    ("--result-shape", "result_shape", {"choices": list(get_args(ResultShapeSetting))}),
    ("--upstream-timeout", "upstream_timeout", {"type": float, "metavar": "SECONDS"}),
    ("--max-upstream-bytes", "max_upstream_bytes", {"type": int, "metavar": "BYTES"}),
    ("--max-concurrency", "max_concurrency", {"type": int, "metavar": "N"}),
    ("--max-retries", "max_retries", {"type": int, "metavar": "N"}),
    ("--auth-token", "auth_token", {"metavar": "TOKEN"}),
    ("--stateless-http", "stateless_http", {"action": "store_true"}),
    ("--max-cost-per-call", "max_cost_per_call", {"type": float, "metavar": "USD"}),
    ("--daily-budget", "daily_budget", {"type": float, "metavar": "USD"}),
    ("--monthly-budget", "monthly_budget", {"type": float, "metavar": "USD"}),
    ("--user-daily-budget", "user_daily_budget", {"type": float, "metavar": "USD"}),
    ("--user-monthly-budget", "user_monthly_budget", {"type": float, "metavar": "USD"}),
    ("--confirm-above", "confirm_above", {"type": float, "metavar": "USD"}),
    ("--unknown-cost-per-image", "unknown_cost_per_image", {"type": float, "metavar": "USD"}),
    ("--store", "store", {"choices": ["local", "s3"]}),
    ("--s3-bucket", "s3_bucket", {"metavar": "BUCKET"}),
    ("--s3-prefix", "s3_prefix", {"metavar": "PREFIX"}),
    ("--s3-endpoint-url", "s3_endpoint_url", {"metavar": "URL"}),
    ("--s3-region", "s3_region", {"metavar": "REGION"}),
    ("--s3-access-key-id", "s3_access_key_id", {"metavar": "KEY"}),
    ("--s3-secret-access-key", "s3_secret_access_key", {"metavar": "SECRET"}),
    ("--link-expiry", "link_expiry", {"type": int, "metavar": "SECONDS"}),
    ("--public-base-url", "public_base_url", {"metavar": "URL"}),
    ("--index-ttl", "index_ttl", {"type": float, "metavar": "SECONDS"}),
    ("--job-lease", "job_lease", {"type": float, "metavar": "SECONDS"}),
    ("--instance-name", "instance_name", {"metavar": "NAME"}),
    ("--store-timeout", "store_timeout", {"type": float, "metavar": "SECONDS"}),
    ("--record-retention-hours", "record_retention_hours", {"type": float, "metavar": "HOURS"}),
    ("--image-expiry-days", "image_expiry_days", {"type": float, "metavar": "DAYS"}),
    ("--sweep-interval", "sweep_interval", {"type": float, "metavar": "SECONDS"}),
    ("--oauth-issuer", "oauth_issuer", {"metavar": "URL"}),
    ("--oauth-jwks-url", "oauth_jwks_url", {"metavar": "URL"}),
    ("--resource-url", "resource_url", {"metavar": "URL"}),
    ("--oauth-scopes", "oauth_scopes", {"metavar": "SCOPES"}),
    ("--no-own-images-only", "own_images_only", {"action": "store_false"}),
    ("--admin-subjects", "admin_subjects", {"metavar": "SUBJECTS"}),
    ("--admin-scope", "admin_scope", {"metavar": "SCOPE"}),
    ("--max-sessions", "max_sessions", {"type": int, "metavar": "N"}),
    ("--session-idle-timeout", "session_idle_timeout", {"type": float, "metavar": "SECONDS"}),
    ("--rate-limit", "rate_limit", {"type": int, "metavar": "PER_MINUTE"}),
    ("--allow-remote", "allow_remote", {"action": "store_true"}),
    ("--cors-origins", "cors_origins", {"metavar": "ORIGINS"}),
    ("--log-level", "log_level", {"choices": ["DEBUG", "INFO", "WARNING", "ERROR"]}),
    ("--log-format", "log_format", {"choices": ["text", "json"]}),
    ("--metrics", "metrics", {"action": "store_true"}),
    ("--metrics-port", "metrics_port", {"type": int, "metavar": "PORT"}),
    ("--metrics-user-labels", "metrics_user_labels", {"action": "store_true"}),
)


COMMANDS_HELP = "Without a command the server runs (on stdio unless --transport http)."


def _default(name: str) -> str:
    """A setting's default as --help shows it."""
    value = Settings.model_fields[name].get_default(call_default_factory=True)
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _add_setting_flags(target: argparse.ArgumentParser) -> None:
    """Every setting as a flag. Absent flags leave no attribute, so the environment and defaults apply."""
    fields = Settings.model_fields
    for flag, name, extra in FLAGS:
        env = ENV_PREFIX + name.upper()
        description = (fields[name].description or "").replace("%", "%%")
        help_text = f"{description} (default: {_default(name)}) [env: {env}]"
        target.add_argument(flag, dest=name, help=help_text, default=argparse.SUPPRESS, **extra)


def parser() -> argparse.ArgumentParser:
    """The command line. Every setting's flag is added once, to a parser every command's parser (and the top one)
    takes as a parent: argparse copies a parent's flags for a fraction of what adding each flag to each parser
    costs (it lays out each one's help as it is added), and the parser is built at every start."""
    flags = argparse.ArgumentParser(add_help=False)
    _add_setting_flags(flags)
    result = argparse.ArgumentParser(
        prog="mcp-server-images",
        parents=[flags],
        allow_abbrev=False,
        description="MCP server for image generation, editing, variations and vision on OpenAI-compatible APIs. "
        "Every flag can also be set by the environment variable shown; flags win.",
        epilog="Keys also come from the provider's own variable: OPENAI_API_KEY (openai and custom providers), "
        "DEDALUS_API_KEY, AZURE_OPENAI_API_KEY, GEMINI_API_KEY, XAI_API_KEY, OPENROUTER_API_KEY; OPENAI_BASE_URL "
        "sets the base URL for openai, AZURE_OPENAI_ENDPOINT for azure. Local servers (ollama, vllm-omni, localai) "
        "need no key. Prefer environment variables or a key file for secrets: command lines are visible to other "
        "users of the machine.",
    )
    result.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = result.add_subparsers(dest="command", title="commands", description=COMMANDS_HELP)
    config = commands.add_parser(
        "config",
        parents=[flags],
        help="print the snippet that adds this server to an MCP client, with this install's command",
        description="Print the snippet that adds this server to an MCP client (stdout), and where it goes (stderr).",
    )
    config.add_argument("client", choices=list(CLIENTS), help="the MCP client")
    doctor = commands.add_parser(
        "doctor",
        parents=[flags],
        help="check the set-up: versions, key, provider, models, image folder, HTTP safety",
        description="Check the set-up the server would run with; exit status 1 when something must be fixed.",
    )
    doctor.add_argument("--json", action="store_true", help="print the checks as JSON")
    _add_catalog_commands(commands, flags)
    return result


def _add_catalog_commands(commands: Any, flags: argparse.ArgumentParser) -> None:
    catalog = commands.add_parser(
        "catalog",
        help="the model catalog in force; check or sign a catalog feed",
        description="The model catalog: show the one in force, check a signed feed, sign a feed document.",
    )
    actions = catalog.add_subparsers(dest="catalog_command", title="catalog commands", required=True)
    show_parser = actions.add_parser(
        "show",
        parents=[flags],
        help="the catalog a server would start with (shipped, the feed's cached copy, the models file)",
    )
    show_parser.add_argument("--json", action="store_true", help="print it as JSON")
    check_parser = actions.add_parser(
        "check",
        parents=[flags],
        help="fetch the configured feed now and say whether it is applied, or check a given document",
        description="Without SOURCE: fetch the configured feed (MCP_IMAGES_CATALOG_URL) as the server does, update "
        "the cached copy, and say whether it is applied and why not. With SOURCE (a file with FILE.sig beside it, or "
        "a URL with URL.sig): check it the same way without applying it. Exit status 1 when it would be refused.",
    )
    check_parser.add_argument("source", nargs="?", help="a feed document: a file or an http(s) URL")
    sign_parser = actions.add_parser(
        "sign",
        parents=[flags],
        help="check a feed document and write its signature to FILE.sig",
        description="Check FILE as a feed must be (models.toml's format, serial and valid_until), sign its exact "
        "bytes with an Ed25519 private key and write the base64 signature to FILE.sig; prints the public key to "
        "put in MCP_IMAGES_CATALOG_KEYS. The key file is PEM (PKCS #8, from `openssl genpkey -algorithm ed25519 "
        "-out key.pem`) or exactly 32 raw bytes.",
    )
    sign_parser.add_argument("document", type=Path, metavar="FILE", help="the feed document (TOML)")
    sign_parser.add_argument("--key", type=Path, required=True, metavar="KEYFILE", help="the private key file")


def load_settings(argv: Sequence[str] | None = None) -> Settings:
    return _settings(parser().parse_args(argv))


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {name: value for name, value in vars(args).items() if name in Settings.model_fields}
    return Settings(**overrides)


def describe(settings: Settings) -> str:
    configured = providers_of(settings)
    reached = "; ".join(
        f"provider {endpoint.label} at {endpoint.base_url}, {key_of(endpoint)}" for endpoint in configured.endpoints
    )
    default = configured.defaults.get("generate", settings.default_model)
    return (
        f"mcp-server-images {__version__}: {reached}; "
        f"default model {default}; images in {where_images_go(settings)}; "
        f"transport {settings.transport}{sign_in(settings)}{budgets(settings)}"
    )


def key_of(endpoint: Endpoint) -> str:
    """Where the provider's key comes from, for people (never the key)."""
    if endpoint.key_source:
        return f"key from {endpoint.key_source}"
    if not endpoint.profile.needs_key:
        return "no key (none needed)"
    return f"NO KEY (set {' or '.join(endpoint.key_variables)})"


def budgets(settings: Settings) -> str:
    """The spending limits in force, when any is set."""
    named = (
        ("per call", settings.max_cost_per_call),
        ("daily", settings.daily_budget),
        ("monthly", settings.monthly_budget),
        ("per user daily", settings.user_daily_budget),
        ("per user monthly", settings.user_monthly_budget),
        ("confirm above", settings.confirm_above),
    )
    limits = [f"{name} ${value:g}" for name, value in named if value is not None]
    return f"; budgets (USD, UTC): {', '.join(limits)}" if limits else ""


def where_images_go(settings: Settings) -> str:
    if settings.store == "s3":
        endpoint = f" at {settings.s3_endpoint_url}" if settings.s3_endpoint_url else ""
        prefix = settings.s3_prefix.strip("/")
        return f"s3://{settings.s3_bucket}/{prefix + '/' if prefix else ''}{endpoint}"
    return str(settings.output_dir)


def sign_in(settings: Settings) -> str:
    if settings.oauth_issuer:
        return f"; OAuth tokens from {settings.oauth_issuer} for {settings.resource_url}"
    return "; static bearer token" if settings.auth_token else ""


def banner() -> str:
    """What a person who starts the server in a terminal needs to know: it is waiting for a client, not hung, and
    the commands that connect one, in the form that works where it runs (`make run ARGS=...` in a checkout)."""
    clients = ", ".join(CLIENTS)
    return (
        f"mcp-server-images {__version__}: an MCP server for image generation, editing and vision.\n"
        "It is now waiting for an MCP client on stdin/stdout; typing here does nothing useful. "
        "Press Ctrl+C to stop.\n"
        f"  Connect a client:   {subcommand('config <client>')}\n"
        f"                      (<client>: {clients})\n"
        f"  Check the set-up:   {subcommand('doctor')}\n"
        f"  All options:        {subcommand('--help')}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.exit(f"mcp-server-images: invalid configuration: {problems}")
    if args.command == "config":
        print_config(settings, args.client)
    elif args.command == "doctor":
        sys.exit(run_doctor(settings, as_json=args.json))
    elif args.command == "catalog":
        sys.exit(run_catalog(settings, args))
    else:
        serve(settings)


def print_config(settings: Settings, client: str) -> None:
    """The client's snippet on stdout; where it goes (and, for HTTP, how to start the server) on stderr."""
    chosen = CLIENTS[client]
    if settings.transport == "stdio":
        print(chosen.render(this_install(settings)))
        print(f"{chosen.title}: {chosen.where}", file=sys.stderr)
        return
    remote = remote_of(settings)
    snippet = chosen.render_http(remote)
    print(snippet)
    placeholder = TOKEN_PLACEHOLDER in snippet
    token = f" Replace {TOKEN_PLACEHOLDER} with the server's MCP_IMAGES_AUTH_TOKEN." if placeholder else ""
    print(
        f"{chosen.title}: add this for the server at {remote.url}.{token}\n"
        f"Start the server with the same settings: {start_command(settings)}",
        file=sys.stderr,
    )


def run_doctor(settings: Settings, *, as_json: bool) -> int:
    """Exit status 0 when nothing must be fixed, else 1."""
    from .doctor import diagnose, report

    checks = anyio.run(diagnose, settings, Clock())
    print(report(checks, as_json=as_json))
    return 1 if any(check.status == "fail" for check in checks) else 0


def run_catalog(settings: Settings, args: argparse.Namespace) -> int:
    """`catalog show|check|sign`: print what it found; exit status 0 when it succeeded, else 1."""
    from .catalog_commands import Outcome, check, show, sign_document

    clock = Clock()
    try:
        if args.catalog_command == "show":
            outcome = show(settings, clock, as_json=args.json)
        elif args.catalog_command == "check":
            outcome = anyio.run(check, settings, clock, args.source)
        else:
            outcome = sign_document(settings, clock, args.document, args.key)
    except ConfigurationError as exc:
        outcome = Outcome(f"mcp-server-images: {exc}", ok=False)
    print(outcome.text)
    return 0 if outcome.ok else 1


def serve(settings: Settings) -> None:
    """Serve MCP until the client goes (stdio) or the process is stopped (HTTP). What serving on the other transport
    needs is not imported.

    The cyclic garbage collector is paused while the server is built, and what was built is then frozen (see
    `freeze_start_up`)."""
    gc.disable()
    from ..app import build_server
    from ..services import open_store

    configure_logging(settings.log_level, settings.log_format)
    redacting = RedactingFilter(Redactor(settings.secrets()))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)  # a handler's filter sees the records of every logger
    if settings.transport == "stdio" and sys.stdin.isatty():
        print(banner(), file=sys.stderr, flush=True)
    export = None
    try:
        log.info(describe(settings))
        for endpoint in providers_of(settings).endpoints:
            if endpoint.key_source is None and endpoint.profile.needs_key:
                whose = "" if endpoint.name == endpoint.provider.value else f" for the provider {endpoint.name}"
                log.warning(
                    "No API key%s: set %s. The tools are listed, but every call fails until a key is set.",
                    whose,
                    " or ".join(endpoint.key_variables),
                )
        clock = Clock()
        if settings.store == "s3":
            open_store(settings, clock)  # a wrong bucket, endpoint or key stops here with one line, not a traceback
        export = start_export(settings)
        server = build_server(settings, clock)
        freeze_start_up()
        if settings.transport == "http":
            from ..adapter.serving.http import serve_http

            anyio.run(serve_http, server, settings)  # SIGTERM/SIGINT drain the server (adapter/serving/http.py)
        else:
            from ..adapter.serving.stdio import serve_stdio

            anyio.run(serve_stdio, server)
    except ConfigurationError as exc:
        sys.exit(f"mcp-server-images: {exc}")
    except KeyboardInterrupt:
        pass
    finally:
        if export is not None:
            export.shutdown()  # what is still buffered goes out before the process ends


def start_export(settings: Settings) -> Export | None:
    """OpenTelemetry's OTLP export, when the standard OTEL_* variables name an endpoint (the otel extra)."""
    if not settings.exports_telemetry():
        return None
    try:
        from ..telemetry.otel import start_export as started
    except ImportError as exc:
        raise ConfigurationError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, but the OpenTelemetry SDK is not installed: install "
            "mcp-server-images[otel], or unset the OTEL_* variables."
        ) from exc
    log.info("exporting traces and metrics over OTLP/HTTP")
    return started(__version__)


def freeze_start_up() -> None:
    """The start-up's objects (the SDK's and the server's modules, classes and schemas: some 150,000 of them) live
    as long as the process: move them out of the garbage collector's sight, then let it run again.

    Start-up only creates them (it leaves a few thousand objects of cyclic garbage), yet with the collector on,
    each of its full passes walks all of them: a start paid for some 60 ms of such passes, and the interpreter's
    last pass at exit for well over 100 ms more, which a client that starts and stops the server waits for too.
    Frozen objects are never collected; new ones are, as before (the `gc.freeze` recipe of Python's docs)."""
    gc.freeze()
    gc.enable()
