"""The providers file (`MCP_IMAGES_PROVIDERS_FILE`): several providers in one server.

```toml
[defaults]                          # optional: the model each task uses when a call names none
generate = "gpt-image-2.6-flare"    # a model, or model@provider
edit = "qwen-image-edit@local"
vision = "gpt-6-luna"

[providers.openai]                  # the name calls use in model@name; kind may be left out when it is a kind
key_env = "OPENAI_API_KEY"          # or key_file = "...", or key_command = "..."; by default the kind's variable

[providers.local]
kind = "vllm-omni"
base_url = "http://localhost:8000/v1"
models = ["Qwen/Qwen-Image"]        # what it serves (else its own model list says)
```

Every mistake is refused at start-up naming the file, the provider and the field, as the models file's are. The
file is read once; a key named by `key_env` is taken from the environment the server started with (settings.py),
a `key_file` is read and a `key_command` run when a request first needs the key (backends/credentials.py).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ConfigurationError
from .providers import KINDS, PROFILES, Budget, Endpoint, KeySpec, ProviderKind, endpoint_of, kind_of
from .settings import Settings

TASKS = ("generate", "edit", "vision")
"""What [defaults] may name a model for."""
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
"""A provider's name: what follows the `@` of `model@name`."""
FIELDS = frozenset(
    {
        "kind",
        "base_url",
        "key_env",
        "key_file",
        "key_command",
        "key_command_timeout",
        "key_lifetime",
        "key_header",
        "api_version",
        "models",
        "daily_budget",
        "monthly_budget",
    }
)
KEY_FIELDS = ("key_env", "key_file", "key_command")


@dataclass(frozen=True)
class ProvidersFile:
    endpoints: tuple[Endpoint, ...]
    defaults: Mapping[str, str]
    """Task (generate, edit, vision) -> model, as written (`model` or `model@provider`)."""

    def secrets(self, settings: Settings) -> list[str]:
        """Every secret the redactor must know from the start: the settings' own (keys, the HTTP token, the S3
        secret) and each provider's key (keys from files and commands it learns as they are read)."""
        keys = [endpoint.api_key.get_secret_value() for endpoint in self.endpoints if endpoint.api_key is not None]
        return [*settings.secrets(), *keys]


def providers_of(settings: Settings) -> ProvidersFile:
    """Every provider of this server: those of the providers file, or the one of the simple case."""
    if settings.providers_file is None:
        return ProvidersFile((endpoint_of(settings),), {})
    return read_providers(settings.providers_file, settings)


def read_providers(path: Path, settings: Settings) -> ProvidersFile:
    """Parse and check the file; raise ConfigurationError naming what to fix."""
    document = _read(path)
    providers = document.get("providers")
    if not isinstance(providers, dict) or not providers:
        raise ConfigurationError(
            f"The providers file {path} names no provider: add a [providers.NAME] table for each, e.g. "
            '[providers.openai] with key_env = "OPENAI_API_KEY".'
        )
    endpoints = tuple(_endpoint(path, name, raw, settings) for name, raw in providers.items())
    defaults = _defaults(path, document.get("defaults", {}), {endpoint.name for endpoint in endpoints})
    return ProvidersFile(endpoints, defaults)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the providers file {path}: {exc.strerror or exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"The providers file {path} is not valid TOML: {exc}.") from exc
    unknown = set(document) - {"defaults", "providers"}
    if unknown:
        raise ConfigurationError(
            f"The providers file {path} has unknown top-level keys {sorted(unknown)}; only [defaults] and "
            "[providers.NAME] tables belong there."
        )
    return document


def _endpoint(path: Path, name: str, raw: object, settings: Settings) -> Endpoint:
    where = f"[providers.{name}] in {path}"
    if not NAME.match(name):
        raise ConfigurationError(
            f"{where}: a provider's name is lower-case letters, digits, '.', '_' and '-' (calls name it after @)."
        )
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{where} must be a table of fields.")
    unknown = set(raw) - FIELDS
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))}. Known fields: {', '.join(sorted(FIELDS))}."
        )
    kind = _kind(where, str(raw.get("kind", name)))
    profile = PROFILES[kind]
    base_url = _text(raw, "base_url", where) or profile.default_url
    if base_url is None:
        raise ConfigurationError(f"{where}: {profile.label} needs base_url (its endpoint).")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{where}: base_url must be an http(s) URL, not {base_url!r}.")
    header = _text(raw, "key_header", where)
    if header not in (None, "authorization", "api-key"):
        raise ConfigurationError(f"{where}: key_header is 'authorization' (Bearer) or 'api-key', not {header!r}.")
    return Endpoint(
        provider=kind,
        base_url=base_url.rstrip("/"),
        key=_key(path, where, raw, kind, settings),
        name=name,
        key_header="api-key" if header == "api-key" else "authorization" if header else None,
        api_version=(_text(raw, "api_version", where) or settings.api_version) if kind is ProviderKind.AZURE else None,
        models=_models(raw, where),
        budget=Budget(_amount(raw, "daily_budget", where), _amount(raw, "monthly_budget", where)),
    )


def _kind(where: str, value: str) -> ProviderKind:
    kind, url = kind_of(value)
    if url is not None:
        raise ConfigurationError(
            f"{where}: kind is one of {', '.join(KINDS)} or custom (any compatible API at base_url), not {value!r}."
        )
    return kind


def _key(path: Path, where: str, raw: Mapping[str, Any], kind: ProviderKind, settings: Settings) -> KeySpec:
    """The key's source: a variable, a file (relative to the providers file) or a command; by default the kind's
    own variables."""
    given = [name for name in KEY_FIELDS if name in raw]
    if len(given) > 1:
        raise ConfigurationError(f"{where}: give one of {', '.join(given)}, not several.")
    variables = (_text(raw, "key_env", where) or "",) if "key_env" in raw else PROFILES[kind].key_variables
    none = KeySpec(
        variables=variables,
        command_timeout=_positive(raw, "key_command_timeout", where) or settings.key_command_timeout,
        lifetime=_positive(raw, "key_lifetime", where) or settings.key_lifetime,
    )
    if "key_file" in raw:
        file = Path(_text(raw, "key_file", where) or "").expanduser()
        file = file if file.is_absolute() else path.parent / file
        return replace(none, file=file, source=f"file {file}", variables=())
    if "key_command" in raw:
        return replace(none, command=_text(raw, "key_command", where), source=f"key_command of {where}")
    for variable in variables:
        secret = settings.variable(variable)
        if secret is not None:
            return replace(none, secret=secret, source=variable)
    return none


def _defaults(path: Path, raw: object, names: set[str]) -> dict[str, str]:
    where = f"[defaults] in {path}"
    if not isinstance(raw, dict):
        raise ConfigurationError(f'{where} must be a table such as generate = "gpt-image-2.6-flare".')
    unknown = set(raw) - set(TASKS)
    if unknown:
        raise ConfigurationError(f"{where}: unknown task(s) {sorted(unknown)}; use {', '.join(TASKS)}.")
    defaults = {}
    for task, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{where}: {task} names a model (model or model@provider), not {value!r}.")
        model, at, provider = value.strip().rpartition("@")
        if at and model and provider not in names and NAME.match(provider):
            raise ConfigurationError(
                f"{where}: {task} = {value!r} names provider {provider!r}, which the file does not define "
                f"({', '.join(sorted(names))})."
            )
        defaults[task] = value.strip()
    return defaults


def _text(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}: {key} must be a non-empty string.")
    return value.strip()


def _models(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    value = raw.get("models", [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigurationError(f'{where}: models must be a list of model names, e.g. ["gpt-image-2"].')
    return tuple(item.strip() for item in value)


def _amount(raw: Mapping[str, Any], key: str, where: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigurationError(f"{where}: {key} must be an amount in USD of 0 or more, not {value!r}.")
    return float(value)


def _positive(raw: Mapping[str, Any], key: str, where: str) -> float | None:
    value = _amount(raw, key, where)
    if value is not None and value <= 0:
        raise ConfigurationError(f"{where}: {key} must be a number of seconds above 0.")
    return value
