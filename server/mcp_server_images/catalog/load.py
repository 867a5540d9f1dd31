"""Reading the catalog: the TOML file shipped in the package, then a signed feed's document, then a user file.

All three are the same format, read by the same code, each laid over the ones before it: an entry naming a known
model changes only the fields it gives, a new name adds a model. The feed (catalog/feed.py) carries corrections
between releases; the user file (MCP_IMAGES_MODELS_FILE) is for gateways' own models and the user's own
corrections, so it has the last word. Every mistake is refused with the document, the entry and the field named,
because a typo that silently turned into "this model takes no quality" would only show up as a confusing refusal
much later. A document also carries a header: `serial` (a whole number that only grows, by convention the date
it was written as YYYYMMDDNN), `published` (the date its facts are as of) and `valid_until` (after which a feed is
no longer applied).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigurationError
from .options import OPTIONS, Check, catalog_fields
from .spec import (
    Api,
    Family,
    FreeSizeRule,
    ImageEndpoint,
    Lifecycle,
    ModelKind,
    ModelSpec,
    Prices,
    Replacement,
    Status,
)

SHIPPED = Path(__file__).with_name("models.toml")
PROVIDER_PREFIX = "openai/"
OWNERS = {"openai": "OpenAI", "google": "Google", "xai": "xAI", "microsoft": "Microsoft"}
"""The catalog's vendors, and who retires their models (for messages)."""
VENDOR_PREFIXES = tuple(f"{vendor}/" for vendor in OWNERS)
"""Vendor prefixes gateways put before a model name (Dedalus: `openai/gpt-image-2`, `google/gemini-...`;
OpenRouter: `microsoft/mai-image-2.7`)."""
LIFECYCLE_KEYS = frozenset({"status", "shutdown", "notice", "replacements"})
REPORTED_KEYS = frozenset({"reported_shutdown", "reported_by"})
"""A shutdown date one source gives, unconfirmed: shown, never acted on."""
PROVIDER_LIFECYCLES = "on"
"""`[models."NAME".on.azure]`: the lifecycle on one provider kind, where its dates differ from the vendor's."""
NOT_INHERITED = LIFECYCLE_KEYS | REPORTED_KEYS | {"aliases", "extends", PROVIDER_LIFECYCLES, "deployment"}
HEADER_KEYS = frozenset({"serial", "published", "valid_until"})
TOP_LEVEL = HEADER_KEYS | {"defaults", "models"}
PROVIDER_OWNERS = {"azure": "Microsoft (Azure OpenAI)"}
"""Who retires a model on a provider that keeps its own dates, for messages."""
_RATIO = re.compile(r"^(auto|\d+(\.\d+)?:\d+(\.\d+)?)$")
_TIER = re.compile(r"^\d+(\.\d+)?[kK]$")


E = TypeVar("E", ModelKind, Family, Api, Status, ImageEndpoint)


class CatalogError(ConfigurationError):
    """A catalog file that cannot be used; the message names the file, the entry and what to fix."""


@dataclass(frozen=True)
class Header:
    """What a document says about itself: see the module docstring."""

    serial: int | None = None
    published: date | None = None
    valid_until: date | None = None


@dataclass(frozen=True)
class Document:
    """One catalog document, parsed: where it came from (a file, a feed URL), for messages, and its tables."""

    where: str
    content: dict[str, Any]
    header: Header


@dataclass(frozen=True)
class CatalogData:
    """Every model by canonical name (in file order) and, per kind, the default preference order."""

    models: dict[str, ModelSpec]
    defaults: dict[ModelKind, tuple[str, ...]]
    header: Header = Header()
    """The header of the catalog in force: the feed's document when one is applied, else the shipped file's."""


@dataclass
class _Entry:
    raw: dict[str, Any]
    where: str


def canonical_name(model: str) -> str:
    """The model name without a vendor prefix: `openai/gpt-image-1` and `gpt-image-1` are the same model, as are
    `google/gemini-3.1-flash-image` and `gemini-3.1-flash-image`."""
    model = model.strip()
    for prefix in VENDOR_PREFIXES:
        if model.lower().startswith(prefix):
            return model[len(prefix) :]
    return model


def load_catalog(user_file: Path | None = None, shipped: Path = SHIPPED, feed: Document | None = None) -> CatalogData:
    """Parse and check the shipped file, with the feed's document and then the user's file laid over it; the
    header in force is the feed's when one is given, else the shipped file's."""
    return build_catalog(read_file(shipped), feed, read_file(user_file) if user_file is not None else None)


def build_catalog(base: Document, feed: Document | None, user: Document | None) -> CatalogData:
    """The catalog the documents make, each laid over the ones before it: the shipped one, a feed's, the user's."""
    documents = [document for document in (base, feed, user) if document is not None]
    header = (feed or base).header
    entries: dict[str, _Entry] = {}
    defaults: dict[str, Any] = {}
    for document in documents:
        defaults |= _table(document.content.get("defaults", {}), f"[defaults] in {document.where}")
        for name, raw in _table(document.content.get("models", {}), f"[models] in {document.where}").items():
            _merge(entries, name, _table(raw, f'[models."{name}"] in {document.where}'), document.where)
    for entry in entries.values():
        _check_own_fields(entry)
    models = {name: _build(name, _resolve(name, entries, ()), entries[name].where) for name in entries}
    _check_references(models, entries)
    return CatalogData(models, _defaults(defaults, models, [document.where for document in documents]), header)


def read_file(path: Path) -> Document:
    """A catalog document from a file (the shipped one, or the user's models file)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"Cannot read the models file {path}: {exc.strerror or exc}.") from exc
    return parse_document(data, str(path), what=f"The models file {path}")


def parse_document(data: bytes, where: str, *, what: str | None = None) -> Document:
    """A catalog document from its bytes; `what` starts the messages about the whole document."""
    what = what or f"The catalog document {where}"
    try:
        content = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{what} is not UTF-8 text: {exc}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{what} is not valid TOML: {exc}.") from exc
    unknown = set(content) - TOP_LEVEL
    if unknown:
        raise CatalogError(
            f"{what} has unknown top-level keys {sorted(unknown)}; only serial, published, valid_until, [defaults] "
            'and [models."NAME"] tables belong there.'
        )
    return Document(where, content, _header(content, where))


def _header(raw: Mapping[str, Any], where: str) -> Header:
    return Header(
        serial=_integer(raw["serial"], f"{where}: serial") if "serial" in raw else None,
        published=_date(raw["published"], f"{where}: published") if "published" in raw else None,
        valid_until=_date(raw["valid_until"], f"{where}: valid_until") if "valid_until" in raw else None,
    )


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CatalogError(f"{where} must be a table, not {type(value).__name__}.")
    return value


def _merge(entries: dict[str, _Entry], name: str, raw: dict[str, Any], source: str) -> None:
    """Add a new entry, or lay the given fields over the entry that has this name or alias."""
    existing = _find(entries, name)
    where = f'[models."{name}"] in {source}'
    if existing is None:
        entries[canonical_name(name)] = _Entry(dict(raw), where)
        return
    entry = entries[existing]
    entry.raw |= raw
    entry.where = f"{entry.where} (changed by {where})"


def _find(entries: Mapping[str, _Entry], name: str) -> str | None:
    wanted = canonical_name(name).lower()
    for key, entry in entries.items():
        names = [key, *(str(a) for a in entry.raw.get("aliases", []))]
        if wanted in (canonical_name(n).lower() for n in names):
            return key
    return None


def _resolve(name: str, entries: Mapping[str, _Entry], seen: tuple[str, ...]) -> dict[str, Any]:
    """The entry's fields with those of the entry it `extends` underneath (names, lifecycle never inherited)."""
    entry = entries[name]
    parent_name = entry.raw.get("extends")
    if parent_name is None:
        return dict(entry.raw)
    parent = _find(entries, str(parent_name))
    if parent is None:
        raise CatalogError(f"{entry.where}: extends {parent_name!r}, which is not a model in the catalog.")
    if parent in (*seen, name):
        chain = " -> ".join((*seen, name, parent))
        raise CatalogError(f"{entry.where}: extends goes round in a circle ({chain}).")
    inherited = {k: v for k, v in _resolve(parent, entries, (*seen, name)).items() if k not in NOT_INHERITED}
    return inherited | entry.raw


def _check_own_fields(entry: _Entry) -> None:
    """Check the fields an entry writes itself, so a mistake is reported where it is written, not where inherited."""
    own_keys = {*_FIELDS, *LIFECYCLE_KEYS, *REPORTED_KEYS, "extends", PROVIDER_LIFECYCLES}
    unknown = set(entry.raw) - own_keys
    if unknown:
        known = ", ".join(sorted(own_keys))
        raise CatalogError(f"{entry.where}: unknown field(s) {', '.join(sorted(unknown))}. Known fields: {known}.")
    for key, convert in _FIELDS.items():
        if key in entry.raw:
            convert(entry.raw[key], f"{entry.where}: {key}")


def _build(name: str, raw: dict[str, Any], where: str) -> ModelSpec:
    missing = [key for key in ("kind", "family", "api") if key not in raw]
    if missing:
        raise CatalogError(f"{where}: missing {', '.join(missing)} (or extend a model that has them).")
    spec_fields = {key: convert(raw[key], f"{where}: {key}") for key, convert in _MODEL_FIELDS.items() if key in raw}
    options = {key: convert(raw[key], f"{where}: {key}") for key, convert in _OPTION_FIELDS.items() if key in raw}
    for row in OPTIONS:
        if row.edit_field is not None and row.field is not None:
            options.setdefault(row.edit_field, options.get(row.field, ()))
    lifecycle = _lifecycle(raw, where)
    return ModelSpec(
        name=name,
        lifecycle=lifecycle,
        lifecycle_on=_provider_lifecycles(raw, where, lifecycle),
        option_values={key: value for key, value in options.items() if isinstance(value, tuple)},
        option_flags=frozenset(key for key, value in options.items() if value is True),
        **spec_fields,
    )


def _lifecycle(raw: Mapping[str, Any], where: str) -> Lifecycle:
    vendor = str(raw.get("vendor", "openai"))
    return _one_lifecycle(raw, where, OWNERS.get(vendor, vendor))


def _one_lifecycle(raw: Mapping[str, Any], where: str, owner: str) -> Lifecycle:
    status = _enum(Status)(raw.get("status", "active"), f"{where}: status")
    shutdown = _date(raw["shutdown"], f"{where}: shutdown") if "shutdown" in raw else None
    if status is not Status.ACTIVE and shutdown is None:
        raise CatalogError(f"{where}: a {status} model needs its shutdown date (shutdown = YYYY-MM-DD).")
    reported = _date(raw["reported_shutdown"], f"{where}: reported_shutdown") if "reported_shutdown" in raw else None
    reported_by = raw.get("reported_by", "")
    if not isinstance(reported_by, str) or (reported is not None and not reported_by.strip()):
        raise CatalogError(f'{where}: reported_by names the one source of reported_shutdown, e.g. "a release note".')
    return Lifecycle(
        owner=owner,
        status=status,
        shutdown=shutdown,
        notice=_date(raw["notice"], f"{where}: notice") if "notice" in raw else None,
        replacements=tuple(_replacement(item, f"{where}: replacements") for item in _list(raw, "replacements", where)),
        reported_shutdown=reported,
        reported_by=reported_by.strip(),
    )


def _provider_lifecycles(raw: Mapping[str, Any], where: str, default: Lifecycle) -> dict[str, Lifecycle]:
    """The lifecycles under `on`, by provider kind (Azure OpenAI retires models on its own dates); each needs its
    status and dates as the model's own does, and replacements not given are the vendor's."""
    table = _table(raw.get(PROVIDER_LIFECYCLES, {}), f"{where}: {PROVIDER_LIFECYCLES}")
    lifecycles = {}
    for provider, fields in table.items():
        at = f"{where}: {PROVIDER_LIFECYCLES}.{provider}"
        own = _table(fields, at)
        unknown = set(own) - LIFECYCLE_KEYS
        if unknown:
            raise CatalogError(f"{at}: unknown key(s) {sorted(unknown)}; use {', '.join(sorted(LIFECYCLE_KEYS))}.")
        given = {"replacements": [{"model": r.model, "note": r.note} for r in default.replacements]} | own
        lifecycles[provider] = _one_lifecycle(given, at, PROVIDER_OWNERS.get(provider, provider))
    return lifecycles


def _list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise CatalogError(f"{where}: {key} must be a list.")
    return value


def _replacement(item: object, where: str) -> Replacement:
    if isinstance(item, str):
        return Replacement(item)
    table = _table(item, where)
    well_formed = isinstance(table.get("model"), str) and isinstance(table.get("note", ""), str)
    if not well_formed or set(table) - {"model", "note"}:
        raise CatalogError(f'{where}: each replacement is {{ model = "NAME", note = "what it is best for" }}.')
    return Replacement(table["model"], table.get("note", ""))


def _check_references(models: Mapping[str, ModelSpec], entries: Mapping[str, _Entry]) -> None:
    """Replacements must name catalogued models; an alias may belong to one model only."""
    owners: dict[str, str] = {}
    for name, spec in models.items():
        for alias in (name, *spec.aliases):
            key = canonical_name(alias).lower()
            if key in owners and owners[key] != name:
                raise CatalogError(f"{entries[name].where}: the name {alias!r} already belongs to {owners[key]}.")
            owners[key] = name
    for name, spec in models.items():
        for replacement in spec.lifecycle.replacements:
            if canonical_name(replacement.model).lower() not in owners:
                raise CatalogError(
                    f"{entries[name].where}: replacement {replacement.model!r} is not a model in the catalog."
                )


def _defaults(raw: Mapping[str, Any], models: Mapping[str, ModelSpec], sources: list[str]) -> dict[ModelKind, Any]:
    where = f"[defaults] in {' or '.join(sources)}"
    unknown = set(raw) - {kind.value for kind in ModelKind}
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {sorted(unknown)}; use image and vision.")
    by_name = {canonical_name(n).lower(): spec for spec in models.values() for n in (spec.name, *spec.aliases)}
    result: dict[ModelKind, tuple[str, ...]] = {}
    for kind in ModelKind:
        names: list[str] = []
        for name in _strings(raw.get(kind.value, []), f"{where}: {kind.value}"):
            spec = by_name.get(canonical_name(name).lower())
            if spec is None or spec.kind is not kind:
                raise CatalogError(f"{where}: {kind.value} lists {name!r}, which is not a catalogued {kind} model.")
            names.append(spec.name)
        result[kind] = tuple(names)
    return result


# --- field converters: each takes (value, "file entry: field") and raises CatalogError naming both ---


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f'{where} must be a list of strings, e.g. ["a", "b"].')
    return tuple(value)


def _integer(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CatalogError(f"{where} must be a whole number of 0 or more, not {value!r}.")
    return value


def _positive(value: object, where: str) -> int:
    number = _integer(value, where)
    if number < 1:
        raise CatalogError(f"{where} must be 1 or more, not {number}.")
    return number


def _boolean(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise CatalogError(f"{where} must be true or false, not {value!r}.")
    return value


def _date(value: object, where: str) -> date:
    if not isinstance(value, date):
        raise CatalogError(f"{where} must be a TOML date such as 2026-12-01 (no quotes), not {value!r}.")
    return value


def _enum(kind: type[E]) -> Callable[[object, str], E]:
    def convert(value: object, where: str) -> E:
        try:
            return kind(str(value))
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise CatalogError(f"{where} is {value!r}; use one of: {allowed}.") from None

    return convert


def _ratios(value: object, where: str) -> tuple[str, ...]:
    ratios = _strings(value, where)
    wrong = [ratio for ratio in ratios if not _RATIO.match(ratio)]
    if wrong:
        raise CatalogError(f'{where} lists {wrong}; an aspect ratio is written like "16:9", "9:19.5" or "auto".')
    return ratios


def _tiers(value: object, where: str) -> tuple[str, ...]:
    tiers = _strings(value, where)
    wrong = [tier for tier in tiers if not _TIER.match(tier)]
    if wrong:
        raise CatalogError(f'{where} lists {wrong}; a resolution is written like "1k" or "2K" (units of 1024 px).')
    return tiers


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where} must be a name (a non-empty string), not {value!r}.")
    return value.strip()


def _apis(value: object, where: str) -> tuple[Api, ...]:
    return tuple(_enum(Api)(item, where) for item in _strings(value, where))


def _vendor(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise CatalogError(f'{where} must be a vendor name without "/", e.g. "google", not {value!r}.')
    return value.strip().lower()


def _endpoints(value: object, where: str) -> frozenset[ImageEndpoint]:
    return frozenset(_enum(ImageEndpoint)(item, where) for item in _strings(value, where))


def _free_size(value: object, where: str) -> FreeSizeRule:
    table = _table(value, where)
    known = set(FreeSizeRule.__dataclass_fields__)
    if set(table) - known:
        raise CatalogError(f"{where}: unknown key(s) {sorted(set(table) - known)}; known: {sorted(known)}.")
    return FreeSizeRule(**{key: _integer(item, f"{where}.{key}") for key, item in table.items()})


def _prices(value: object, where: str) -> Prices:
    table = _table(value, where)
    known = set(Prices.__dataclass_fields__)
    if set(table) - known:
        raise CatalogError(f"{where}: unknown key(s) {sorted(set(table) - known)}; known: {sorted(known)}.")
    return Prices(**{key: _price(item, f"{where}.{key}") for key, item in table.items()})


def _price(item: object, where: str) -> float:
    """A price in USD per 1M tokens: NaN, infinities and negative numbers are refused (a NaN in the ledger would
    make every cap pass)."""
    try:
        value = float(item) if isinstance(item, int | float) and not isinstance(item, bool) else math.nan
    except OverflowError:
        value = math.inf
    if not math.isfinite(value) or value < 0:
        raise CatalogError(
            f"{where} must be a price in USD per 1M tokens (a finite number of 0 or more), not {item!r}."
        )
    return value


def _remarks(value: object, where: str) -> dict[str, str]:
    table = _table(value, where)
    if not all(isinstance(v, str) for v in table.values()):
        raise CatalogError(f'{where} maps a name to a sentence, e.g. {{ background = "..." }}.')
    return dict(table)


def _token_table(value: object, where: str) -> dict[str, int]:
    table = _table(value, where)
    return {quality: _integer(tokens, f"{where}.{quality}") for quality, tokens in table.items()}


_MODEL_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    "kind": _enum(ModelKind),
    "family": _enum(Family),
    "api": _enum(Api),
    "apis": _apis,
    "vendor": _vendor,
    "image_config": _boolean,
    "aspect_ratios": _ratios,
    "resolutions": _tiers,
    "deployment": _name,
    "aliases": _strings,
    "endpoints": _endpoints,
    "free_size": _free_size,
    "remarks": _remarks,
    "max_edit_images": _integer,
    "max_n": _positive,
    "n_per_request": _positive,
    "max_prompt_chars": _positive,
    "streaming": _boolean,
    "max_partial_images": _integer,
    "prices": _prices,
    "estimate_tokens": _token_table,
    "estimate_leaves_out": _remarks,
    "partial_image_tokens": _integer,
}
"""The fields of a model entry that are neither an image option's nor its lifecycle, with their converters."""
_OPTION_FIELDS: dict[str, Callable[[Any, str], Any]] = {
    name: _boolean if check in (Check.NUMBER, Check.TEXT) else _strings for name, check in catalog_fields().items()
}
"""The option table's fields: the values a model takes (lists), or that it takes a number or text option (flags)."""
_FIELDS = _MODEL_FIELDS | _OPTION_FIELDS
"""Every field a model entry may give besides its lifecycle, with the converter that checks it."""
