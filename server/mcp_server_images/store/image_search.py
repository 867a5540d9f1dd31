"""The image index's prompt search (image_table.py, both stores'): an SQLite FTS5 table with the `trigram`
tokenizer over the images' prompts, so that a search reads the few images that may match instead of every image's
prompt.

What a search finds does not change: an image whose prompt, lowercased, holds the query, lowercased. Prompts are
kept lowercased in the index (Python's `str.lower`, as the query is) and the tokenizer folds no case
(`case_sensitive 1`), so the trigram table only narrows the images down: each candidate is still checked with
`instr`, the test every image went through before. A query of fewer than 3 characters has no trigram: it reads
every prompt (newest first, stopping once the page is full), as every query did before.

A search reads the images holding the query's rarest trigram, and a trigram in most prompts is a poor guide: so
the index also counts, for each trigram, the images whose prompt holds it (table `trigrams`), kept in step with
the rows. A search whose rarest trigram is common reads newest first instead (see `candidates`). FTS5 and its
trigram tokenizer (SQLite 3.34 and later) are compiled into the SQLite of most Pythons; where they are missing,
every search reads the prompts, said once in the log.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

log = logging.getLogger(__name__)

TOKENIZER = "trigram case_sensitive 1"
"""Trigrams of the prompts as stored (lowercased by Python): the tokenizer folds no case of its own."""
SEARCH_SCHEMA = (
    f"""CREATE VIRTUAL TABLE images_search USING fts5(
        prompt, content='images', content_rowid='number', tokenize='{TOKENIZER}'
    )""",
    "CREATE TABLE trigrams (gram TEXT PRIMARY KEY, images INTEGER NOT NULL) WITHOUT ROWID",
)
"""The search's tables, made with the index's own when this SQLite has FTS5 and the trigram tokenizer; every
write of the index keeps them in step with its rows, in its transaction (`take_out`, `put_in`, `count_changes`,
`empty`).
Not by triggers: adding rows to the FTS5 table one by one takes three times as long as adding them in one
statement, which counts when a folder of 100,000 images is first indexed."""
SEARCHED = "images_search CROSS JOIN images ON images.number = images_search.rowid"
"""The rows a search reads through the trigram table: its candidates first (CROSS JOIN keeps that order)."""
CANDIDATES = "images_search MATCH ?"
GRAM = 3
EVERY = ""
"""The trigram table's entry counting every image (every prompt holds the empty string)."""
CANDIDATE_COST = 10
"""Reading a candidate through the trigram table costs about as much as reading this many rows newest first (the
newest-first read goes through one index in order; a candidate is looked up by its number among rows that hold
whole sidecars: measured 1.4 against 0.11 microseconds at 100,000 images when the candidates lie apart)."""
PAGE_RATIO = 100
"""A search asking for one page reads newest first when its rarest trigram is in more than this many images per
image of the page: then, if the query is about as common as that trigram, the page fills long before the end,
while the trigram table would have had all those images read and sorted."""


@functools.cache
def available() -> bool:
    """Whether this process's SQLite has FTS5 and the trigram tokenizer; said once in the log when it has not."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    try:
        db.execute(f"CREATE VIRTUAL TABLE probe USING fts5(text, tokenize='{TOKENIZER}')")
    except sqlite3.OperationalError as exc:
        log.warning(
            "SQLite %s has no FTS5 trigram tokenizer (%s): prompt searches read every stored prompt",
            sqlite3.sqlite_version,
            exc,
        )
        return False
    finally:
        db.close()
    return True


def has_search(db: sqlite3.Connection) -> bool:
    """Whether this index has the search's tables (an index made where FTS5 was missing has not)."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'images_search'").fetchall()
    return bool(found)


def trigrams(text: str) -> set[str]:
    """Every run of 3 characters in the text, as the trigram tokenizer splits it (by code point, case kept)."""
    return {text[start : start + GRAM] for start in range(len(text) - GRAM + 1)}


def take_out(db: sqlite3.Connection, sidecars: list[tuple[str]]) -> list[str]:
    """Take the rows of these sidecars out of the FTS5 table, before they are deleted; their prompts."""
    gone = [row for key in sidecars for row in db.execute("SELECT number, prompt FROM images WHERE sidecar = ?", key)]
    db.executemany("INSERT INTO images_search (images_search, rowid, prompt) VALUES ('delete', ?, ?)", gone)
    return [prompt for _, prompt in gone]


def put_in(db: sqlite3.Connection, first: int) -> None:
    """Put the rows numbered from `first` on (those just added: a new row's number is above every other's) into
    the FTS5 table."""
    db.execute(
        "INSERT INTO images_search (rowid, prompt) SELECT number, prompt FROM images WHERE number >= ?", (first,)
    )


def empty(db: sqlite3.Connection) -> None:
    """Empty the search's tables, as every row of the index is about to be replaced."""
    db.execute("INSERT INTO images_search (images_search) VALUES ('delete-all')")
    db.execute("DELETE FROM trigrams")


def count_changes(db: sqlite3.Connection, dropped: Iterable[str], added: Iterable[str]) -> None:
    """Bring the trigram counts in step with prompts (lowercased, as stored) leaving and joining the index."""
    changes: Counter[str] = Counter()
    for prompt in dropped:
        changes.subtract(trigrams(prompt) | {EVERY})
    for prompt in added:
        changes.update(trigrams(prompt) | {EVERY})
    changed = [(gram, images) for gram, images in changes.items() if images]
    db.executemany(
        "INSERT INTO trigrams VALUES (?, ?) ON CONFLICT (gram) DO UPDATE SET images = images + excluded.images",
        changed,
    )
    db.executemany("DELETE FROM trigrams WHERE gram = ? AND images <= 0", [(gram,) for gram, _ in changed])


def candidates(counts: dict[str, int], images: int, wanted: int | None) -> str | None:
    """The FTS5 query naming the images that may hold a needle in their prompt, from how many of the `images` hold
    each of its trigrams (`counts`): its rarest trigram, and every other about as rare (reading a trigram's list of
    images costs far less than reading an image, so one in up to CANDIDATE_COST times as many images as the rarest
    pays for itself by ruling some out). None when reading newest first costs less: a needle with no trigram; a
    trigram in so many images that reading them all costs more than reading every row; or, when only the `wanted`
    newest matches are asked for (a page's end), one common enough that the page fills early.
    """
    if not counts:
        return None
    fewest = min(counts.values())
    if CANDIDATE_COST * fewest >= images:
        return None
    if wanted is not None and fewest > PAGE_RATIO * wanted:
        return None
    rare = sorted(gram for gram, count in counts.items() if count <= max(fewest, CANDIDATE_COST * fewest))
    return " AND ".join('"' + gram.replace('"', '""') + '"' for gram in rare)
