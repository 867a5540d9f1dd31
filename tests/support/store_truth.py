"""What a store must answer, computed from its sidecars alone: the oracle the stores' indexes are checked against
(listings, counts, lookups by id or prefix, ids by prefix, a job's images, images made before a time)."""

from __future__ import annotations

from collections.abc import Iterable

from mcp_server_images.store import ImageRecord, Store
from mcp_server_images.store.base import ImageNotFoundError, created_at, find

PROMPTS = [
    "A Red Fox",
    "a red fox in the SNOW",
    "Éclair au café",
    None,
    "fox%_*",
    "a blue whale",
    'say "hello" AND NOT (bye) OR *star*',
    "İstanbul at night, STRASSE und Straße",
    "ǅungla ΣΊΣΥΦΟΣ 東京タワー 🦊🦊 fox",
    "  spaced   out\tfox\n",
    "fox-fox-fox-fox",
    "a nul\x00 in the fox",
]
"""Prompts for a store of a few dozen images: each in a twelfth of them, so that a query naming one prompt goes
through the search's trigrams while one in most prompts (fox) reads newest first; with the search syntax of FTS5,
SQLite's patterns, letters whose lowercase is longer or differs from a case fold, and a NUL character."""
QUERIES = [
    None,
    "",
    "fox",
    "RED FOX",
    "a red fox in",
    "éclair",
    "whale",
    "x",
    "ox",
    "%",
    "_",
    "*",
    '"',
    '"hello"',
    "AND NOT",
    "(bye) OR",
    "i̇stanbul",
    "🦊🦊",
    "\x00",
    "nul\x00 in the",
    "nothing",
]
"""Queries of no prompt, of most, of one (several words, any case), shorter than a trigram, and the characters FTS5
or SQLite's patterns would read as syntax, all taken as text."""
USERS = [None, "alice", "bob", "carol"]
PAGES = [(0, None), (0, 5), (7, 3), (60, 10)]
HEX = "0123456789abcdef"
LOOKUPS = ["00000f00", "0000", "1010", "2020f", "ffff", "0123456789", "xyz", "00"]


def newest(
    records: Iterable[ImageRecord], *, offset: int, limit: int | None, query: str | None, user: str | None
) -> list[ImageRecord]:
    """Newest first, filtered by prompt text (case-insensitive) and by who made them, then one page."""
    chosen = sorted(records, key=lambda r: (r.created, r.name), reverse=True)
    if query:
        needle = query.lower()
        chosen = [r for r in chosen if needle in (r.prompt or "").lower()]
    if user is not None:
        chosen = [r for r in chosen if r.user == user]
    end = None if limit is None else offset + limit
    return chosen[offset:end]


def job_finals(records: Iterable[ImageRecord], job_id: str) -> list[ImageRecord]:
    finals = (r for r in records if r.job_id == job_id and not r.partial)
    return sorted(finals, key=lambda r: (r.created, r.name))


def assert_answers_as_the_sidecars_say(store: Store, truth: list[ImageRecord], where: str) -> None:
    """Every read of `store` answers what reading every sidecar (`truth`) answers."""
    for query in QUERIES:
        for user in USERS:
            for offset, limit in PAGES:
                asked = {"offset": offset, "limit": limit, "query": query, "user": user}
                assert store.recent(**asked) == newest(truth, **asked), asked  # type: ignore[arg-type]
            assert store.count(query=query, user=user) == len(
                newest(truth, offset=0, limit=None, query=query, user=user)
            )
    for job in range(6):
        assert store.job_images(f"job_{job:08x}") == job_finals(truth, f"job_{job:08x}")
    for wanted in LOOKUPS:
        for user in USERS:
            own = truth if user is None else [record for record in truth if record.user == user]
            assert _answer(store, wanted, user, where) == _expected(own, wanted, where), (wanted, user)
    for prefix in ["", *(wanted for wanted in LOOKUPS if set(wanted) <= set(HEX))]:
        for user in USERS:
            ids = sorted(record.id for record in truth if user is None or record.user == user)
            starting = [image_id for image_id in ids if image_id.startswith(prefix)]
            assert store.ids_starting(prefix, 4, user=user) == starting[:4], (prefix, user)
    for record in truth:
        before = created_at(record) + 0.5
        expected = sorted((r for r in truth if created_at(r) < before), key=lambda r: (r.created, r.name))
        assert store.made_before(before, 1000) == expected
        assert store.made_before(before, 3) == expected[:3]


def _answer(store: Store, wanted: str, user: str | None, where: str) -> ImageRecord | str:
    try:
        return store.get(wanted, user=user)
    except ImageNotFoundError as error:
        return _said(str(error))


def _expected(records: list[ImageRecord], wanted: str, where: str) -> ImageRecord | str:
    try:
        return find(records, wanted, where)
    except ImageNotFoundError as error:
        return _said(str(error))


def _said(error: str) -> str:
    """An error as compared: which images an ambiguous prefix matches depends on which five the index took."""
    return error.split(" (")[0] if " matches several images " in error else error
