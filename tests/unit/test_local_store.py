"""The local store's index: saves never rescan the folder, listings rescan it only when it changed, and a new
image never takes the files of one stored by another server meanwhile."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mcp_server_images.imaging.probe import probe
from mcp_server_images.store import ImageRecord, LocalStore, NewImage, Operation, image_search, image_table, records
from mcp_server_images.store.base import ImageNotFoundError
from mcp_server_images.store.records import new_record
from tests.support.clock import FrozenClock
from tests.support.images import png_bytes
from tests.support.index_files import as_layout_1, assert_search_in_step
from tests.support.store_truth import PROMPTS, assert_answers_as_the_sidecars_say, newest

IMAGE = png_bytes((32, 16), (200, 10, 10))
META = NewImage(prompt="a dot", model="gpt-image-2", operation=Operation.GENERATE)


def copy_in(
    folder: Path,
    image_id: str,
    prompt: str | None,
    *,
    second: int = 0,
    user: str | None = None,
    job_id: str | None = None,
    partial: bool = False,
) -> ImageRecord:
    """An image and its sidecar written straight into the folder, as another process (or a person) would."""
    meta = NewImage(
        prompt=prompt, model="gpt-image-2", operation=Operation.GENERATE, user=user, job_id=job_id, partial=partial
    )
    now = datetime(2026, 11, 20, 9, 0, second % 60, tzinfo=UTC)
    record = new_record(meta, probe(IMAGE), image_id=image_id, size=len(IMAGE), locate=str, now=now)
    (folder / record.name).write_bytes(IMAGE)
    (folder / record.sidecar_name).write_text(json.dumps(record.sidecar()))
    return record


def counting_scans(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    scans: list[int] = []
    scan = store._index._reconcile

    def counted(folder: int) -> None:
        scans.append(1)
        scan(folder)

    monkeypatch.setattr(store._index, "_reconcile", counted)
    return scans


def test_saves_do_not_rescan_the_folder_and_a_listing_sees_every_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = LocalStore(tmp_path, FrozenClock())
    other = LocalStore(tmp_path, FrozenClock())  # another server on the same folder
    ours.recent()
    scans = counting_scans(ours, monkeypatch)

    saved = [ours.save(IMAGE, probe(IMAGE), META).id for _ in range(3)]
    theirs = other.save(IMAGE, probe(IMAGE), META).id
    saved.append(ours.save(IMAGE, probe(IMAGE), META).id)

    assert scans == [], "a save adds its own record to the index"
    assert {record.id for record in ours.recent()} == {*saved, theirs}
    assert scans == [], "the other server's save went into the index the folder shares"
    copy_in(tmp_path, "0123abcd", "copied in by hand")
    assert {record.id for record in ours.recent()} == {*saved, theirs, "0123abcd"}
    assert scans == [1], "the folder changed behind the store's back: one scan"
    ours.recent()
    assert scans == [1]


def test_a_new_image_never_takes_the_files_of_one_stored_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers, the same second, the same random id: the second to save picks another id."""
    moment = datetime(2026, 11, 22, 9, 30, 0, tzinfo=UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Frozen:
            return cls.fromtimestamp(moment.timestamp(), UTC)

    ids = iter(["aaaaaaaa", "aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(records, "datetime", Frozen)
    monkeypatch.setattr("mcp_server_images.store.local.secrets.token_hex", lambda _size: next(ids))

    first = LocalStore(tmp_path, FrozenClock()).save(IMAGE, probe(IMAGE), META)
    second = LocalStore(tmp_path, FrozenClock()).save(png_bytes((32, 16), (0, 0, 200)), probe(IMAGE), META)

    assert (first.id, second.id) == ("aaaaaaaa", "bbbbbbbb")
    assert (tmp_path / first.name).read_bytes() == IMAGE
    assert {record.id for record in LocalStore(tmp_path, FrozenClock()).recent()} == {"aaaaaaaa", "bbbbbbbb"}


def as_written(folder: Path) -> list[ImageRecord]:
    """Every image of the folder read straight from its sidecars: what the store answered from before its index."""
    loaded = (json.loads(path.read_text()) for path in folder.glob("*.json"))
    return [ImageRecord.from_sidecar(data, lambda name: str(folder / name)) for data in loaded]


def test_listings_lookups_and_search_answer_as_the_sidecars_say(tmp_path: Path) -> None:
    """A folder written by other processes: the index answers exactly what reading every sidecar answers."""
    for number in range(48):
        copy_in(
            tmp_path,
            f"{number % 4:x}{number:02x}0f0{number % 3:x}{number % 2:x}",
            PROMPTS[number % len(PROMPTS)],
            second=number // 3,  # three images a second: order falls back to the name
            user=[None, "alice", "bob"][number % 3],
            job_id=f"job_{number % 5:08x}",
            partial=number % 7 == 0,
        )
    assert_answers_as_the_sidecars_say(LocalStore(tmp_path, FrozenClock()), as_written(tmp_path), str(tmp_path))


def test_a_new_store_on_an_indexed_folder_reads_no_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server started on a folder it indexed before lists it from the index alone."""
    made = [LocalStore(tmp_path, FrozenClock()).save(IMAGE, probe(IMAGE), META).id for _ in range(3)]
    LocalStore(tmp_path, FrozenClock()).recent()
    read: list[str] = []
    reading = Path.read_text

    def counted(path: Path, *args: object, **kwargs: object) -> str:
        read.append(path.name)
        return reading(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counted)
    started = LocalStore(tmp_path, FrozenClock())

    assert sorted(record.id for record in started.recent()) == sorted(made)
    assert started.get(made[0][:6]).id == made[0]
    assert read == []


def test_a_sidecar_rewritten_or_deleted_behind_the_stores_back_is_seen(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, FrozenClock())
    kept = copy_in(tmp_path, "aaaa0001", "kept")
    dropped = copy_in(tmp_path, "bbbb0002", "dropped")
    assert {record.id for record in store.recent()} == {kept.id, dropped.id}

    sidecar = tmp_path / kept.sidecar_name
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "shared": True}))  # shared by another server
    (tmp_path / dropped.sidecar_name).unlink()

    assert [record.id for record in store.recent()] == [kept.id]
    assert store.get("aaaa").shared is True
    with pytest.raises(ImageNotFoundError):
        store.get(dropped.id)


def older_index(folder: Path, layout: str) -> None:
    """The folder's index as a version before this one left it: of no layout (the first, or not an index at all),
    or of layout 1 (before the prompt search), up to date with the folder."""
    path = folder / ".index" / "images.sqlite3"
    if layout == "of layout 1":
        LocalStore(folder, FrozenClock()).recent()
        as_layout_1(path)
        return
    path.parent.mkdir()
    older = sqlite3.connect(path)
    older.execute("CREATE TABLE images (id TEXT, name TEXT)")
    older.execute("INSERT INTO images VALUES ('cccc0003', 'gone.png')")
    older.commit()
    older.close()


@pytest.mark.parametrize("layout", ["of no layout", "of layout 1"])
def test_an_index_of_an_older_layout_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture, layout: str) -> None:
    kept = copy_in(tmp_path, "aaaa0001", "a fox")
    older_index(tmp_path, layout)

    listed = LocalStore(tmp_path, FrozenClock()).recent(query="fox")

    assert [record.id for record in listed] == [kept.id]
    check = sqlite3.connect(tmp_path / ".index" / "images.sqlite3")
    assert check.execute("PRAGMA user_version").fetchone()[0] == image_table.LAYOUT
    assert check.execute("SELECT id FROM images").fetchall() == [(kept.id,)]
    check.close()
    assert_search_in_step(tmp_path / ".index" / "images.sqlite3")
    assert [r.levelname for r in caplog.records if "image index" in r.getMessage()] == ["WARNING"]


@pytest.mark.usefixtures("through_the_trigrams")
def test_an_index_another_process_holds_locked_is_kept_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The index in memory has the search's tables too: a search reads through them."""
    LocalStore(tmp_path, FrozenClock()).recent()  # the index file exists
    kept = copy_in(tmp_path, "aaaa0001", "a fox")
    holder = sqlite3.connect(tmp_path / ".index" / "images.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, and never finishing
    monkeypatch.setattr(image_table, "BUSY_SECONDS", 0.01)
    try:
        store = LocalStore(tmp_path, FrozenClock())
        listed = [record.id for record in store.recent()]
        saved = store.save(IMAGE, probe(IMAGE), META).id
        found = store.get(saved).id
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert listed == [kept.id]
    assert found == saved
    assert [r.levelname for r in caplog.records if "image index" in r.getMessage()] == ["WARNING"]
    searches = planned(store, lambda: store.recent(query="a fox"))
    assert [plan for plan in searches if plan.startswith("SCAN images_search VIRTUAL TABLE")], searches
    assert [record.id for record in store.recent(query="a fox")] == [kept.id]


def test_the_start_up_sweep_leaves_the_index_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's start sweeps stale temporaries; that must not make its first listing look the folder over."""
    made = LocalStore(tmp_path, FrozenClock()).save(IMAGE, probe(IMAGE), META).id
    LocalStore(tmp_path, FrozenClock()).recent()
    started = LocalStore(tmp_path, FrozenClock())
    started.remove_stale_temporaries()
    scans = counting_scans(started, monkeypatch)

    assert [record.id for record in started.recent()] == [made]
    assert scans == []


def test_a_start_looks_through_the_image_folder_only_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start's sweep of stale temporaries must not list every image when nothing changed since the index last
    read the folder (it took 100 ms at 100,000 images); writes keep their temporaries in the index's folder."""
    for _ in range(3):
        LocalStore(tmp_path, FrozenClock()).save(IMAGE, probe(IMAGE), META)
    LocalStore(tmp_path, FrozenClock()).recent()
    left = tmp_path / ".index" / ".partial-k3j2h1.png"
    left.write_bytes(b"half an image")
    old = left.stat().st_mtime - 3600
    os.utime(left, (old, old))
    listed: list[str] = []
    scandir = os.scandir

    def listing(folder: Path) -> Iterator[os.DirEntry[str]]:
        listed.append(str(folder))
        return scandir(folder)

    monkeypatch.setattr(os, "scandir", listing)

    assert LocalStore(tmp_path, FrozenClock()).remove_stale_temporaries() == 1
    assert listed == [str(tmp_path / ".index")]
    assert not left.exists()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == [".index"]


SEARCH_QUERIES = [
    "fox",
    "Fox",
    "RED FOX",
    "red  fox",
    "a red fox in",
    "fox in the snow",
    "x",
    "ox",
    "Ox",
    " f",
    '"hello"',
    '"',
    '""',
    "AND NOT",
    "(bye) OR",
    "*star*",
    "*",
    "%_*",
    "fox%_",
    "ÉCLAIR AU",
    "café",
    "cafe",
    "İSTANBUL",
    "i̇stanbul",
    "istanbul",
    "straße",
    "STRASSE",
    "σίσυφος",
    "東京",
    "京タワ",
    "🦊🦊",
    "🦊 f",
    "spaced   out\tfox",
    "fox-fox",
    "-fox-fox-fox-fox",
    "nothing here",
    "\x00",
    "nul\x00 in the",
    "in the fox",
]


@pytest.mark.parametrize("route", ["as chosen", "through the trigrams", "newest first"])
def test_a_prompt_search_finds_what_reading_every_prompt_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """Whichever way a search reads: several words, any case, queries shorter than a trigram, the search syntax of
    FTS5 and SQLite's patterns taken as text, and letters whose lowercase is longer or differs from a case fold."""
    if route == "through the trigrams":
        monkeypatch.setattr(image_search, "CANDIDATE_COST", 0)
        monkeypatch.setattr(image_search, "PAGE_RATIO", 10**9)
    elif route == "newest first":
        monkeypatch.setattr(image_search, "CANDIDATE_COST", 10**9)
    for number in range(66):
        copy_in(
            tmp_path,
            f"{number % 4:x}{number:02x}0f0{number % 3:x}{number % 2:x}",
            PROMPTS[number % len(PROMPTS)],
            second=number // 3,
            user=[None, "alice", "bob"][number % 3],
        )
    store = LocalStore(tmp_path, FrozenClock())
    truth = as_written(tmp_path)

    for query in SEARCH_QUERIES:
        for user in [None, "alice"]:
            for offset, limit in [(0, None), (0, 1), (2, 3)]:
                asked = {"offset": offset, "limit": limit, "query": query, "user": user}
                assert store.recent(**asked) == newest(truth, **asked), asked  # type: ignore[arg-type]
            assert store.count(query=query, user=user) == len(
                newest(truth, offset=0, limit=None, query=query, user=user)
            ), (query, user)


@pytest.mark.usefixtures("through_the_trigrams")
def test_a_search_follows_saves_shares_deletes_and_changes_behind_the_stores_back(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, FrozenClock())
    fox = store.save(IMAGE, probe(IMAGE), NewImage(prompt="A fox", model="m", operation=Operation.GENERATE))
    whale = store.save(IMAGE, probe(IMAGE), NewImage(prompt="a whale", model="m", operation=Operation.GENERATE))
    store.mark_shared(fox, shared=True)
    assert [r.id for r in store.recent(query="fox")] == [fox.id]
    assert store.recent(query="fox")[0].shared is True

    store.delete(fox)
    copy_in(tmp_path, "abcd0001", "a fox copied in")
    sidecar = tmp_path / whale.sidecar_name
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "prompt": "a whale and a fox"}))

    assert sorted(r.id for r in store.recent(query="FOX")) == sorted(["abcd0001", whale.id])
    assert store.count(query="whale") == 1
    assert store.count(query="A fox") == 2
    assert LocalStore(tmp_path, FrozenClock()).recent(query="a fox copied") == store.recent(query="a fox copied")
    assert_search_in_step(tmp_path / ".index" / "images.sqlite3")


@pytest.fixture
def through_the_trigrams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every search of a query with a trigram reads through the trigram table, however few images the store holds."""
    monkeypatch.setattr(image_search, "CANDIDATE_COST", 0)
    monkeypatch.setattr(image_search, "PAGE_RATIO", 10**9)


def planned(store: LocalStore, action: Callable[[], object]) -> list[str]:
    """How SQLite goes through the tables for each statement the index runs while `action` runs."""
    statements: list[str] = []
    store.recent()  # the index is open and up to date
    db = store._index._db
    assert db is not None
    db.set_trace_callback(statements.append)
    try:
        action()
    finally:
        db.set_trace_callback(None)
    plans = []
    for statement in statements:
        if statement.lstrip().upper().startswith("SELECT"):
            plans.append(" | ".join(str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {statement}")))
    return plans


def test_a_search_reads_the_images_its_rarest_trigram_names_not_every_image(tmp_path: Path) -> None:
    for number in range(40):
        copy_in(tmp_path, f"{number:04x}beef", f"a fox number {number} in the snow", second=number)
    store = LocalStore(tmp_path, FrozenClock())

    searches = planned(store, lambda: (store.recent(query="number 17 ", limit=20), store.count(query="Number 17")))
    reads = [plan for plan in searches if "trigrams" not in plan and "state" not in plan]
    assert len(reads) == 2, searches
    for plan in reads:  # the candidates the trigram "17 " names, then each one's row by its number
        assert plan.startswith("SCAN images_search VIRTUAL TABLE INDEX"), plan
        assert "SEARCH images USING INTEGER PRIMARY KEY" in plan, plan

    common = planned(store, lambda: store.recent(query="fox", limit=20))  # in every prompt: newest first
    assert [plan for plan in common if plan == "SCAN images USING INDEX images_newest"], common
    assert [r.id for r in store.recent(query="number 17 ")] == ["0011beef"]


@pytest.fixture
def no_trigrams(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's SQLite as one without the trigram tokenizer (as built before 3.34, or without FTS5)."""
    image_search.available.cache_clear()
    monkeypatch.setattr(image_search, "TOKENIZER", "no_such_tokenizer")
    yield
    image_search.available.cache_clear()


@pytest.mark.usefixtures("no_trigrams")
def test_without_the_trigram_tokenizer_a_search_reads_every_prompt_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for number in range(12):
        copy_in(tmp_path, f"{number:04x}cafe", PROMPTS[number % len(PROMPTS)], second=number)
    store = LocalStore(tmp_path, FrozenClock())
    truth = as_written(tmp_path)

    for query in SEARCH_QUERIES:
        assert store.recent(query=query, limit=4) == newest(truth, offset=0, limit=4, query=query, user=None)
        assert store.count(query=query) == len(newest(truth, offset=0, limit=None, query=query, user=None))
    LocalStore(tmp_path / "other", FrozenClock()).save(IMAGE, probe(IMAGE), META)

    said = [r for r in caplog.records if "trigram" in r.getMessage()]
    assert [r.levelname for r in said] == ["WARNING"]
    assert "prompt searches read every stored prompt" in said[0].getMessage()
