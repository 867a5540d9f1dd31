"""The image index's file as tests look into it: whether its search's tables are in step with its rows, and the
file as the version before the prompt search (layout 1) kept it, which a server finds in a folder's `.index` or in
its S3 cache after an upgrade."""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

LAYOUT_1 = """
CREATE TABLE images (
    sidecar TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    user TEXT,
    job_id TEXT,
    partial INTEGER NOT NULL,
    shared INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX images_id ON images (id);
CREATE INDEX images_newest ON images (created, name, user, prompt);
CREATE INDEX images_user ON images (user, created, name);
CREATE INDEX images_job ON images (job_id, created, name);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
PRAGMA user_version = 1;
"""
COLUMNS = "sidecar, id, name, created, user, job_id, partial, shared, prompt, mtime_ns, record"


def as_layout_1(path: Path) -> None:
    """Rewrite the index file at `path` as layout 1, in place, with the same rows and state: the file the version
    before would have left, up to date."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        rows = db.execute(f"SELECT {COLUMNS} FROM images").fetchall()
        state = db.execute("SELECT key, value FROM state").fetchall()
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        dropped = "".join(f'DROP TABLE IF EXISTS "{table}";' for (table,) in tables.fetchall())
        db.executescript(f"BEGIN; {dropped} {LAYOUT_1}")
        db.executemany(f"INSERT INTO images ({COLUMNS}) VALUES ({', '.join('?' * 11)})", rows)
        db.executemany("INSERT INTO state VALUES (?, ?)", state)
        db.execute("COMMIT")
    finally:
        db.close()


def assert_search_in_step(path: Path) -> None:
    """The search's tables of the index at `path` hold its rows' prompts and nothing else: FTS5's own check of its
    index against the rows, and each trigram's count of images as counted again from the prompts."""
    db = sqlite3.connect(path)
    try:
        db.execute("INSERT INTO images_search (images_search, rank) VALUES ('integrity-check', 1)")
        counted: Counter[str] = Counter()
        for (prompt,) in db.execute("SELECT prompt FROM images"):
            counted.update({prompt[start : start + 3] for start in range(len(prompt) - 2)} | {""})
        assert dict(db.execute("SELECT gram, images FROM trigrams").fetchall()) == dict(counted)
    finally:
        db.close()
