"""The S3 store's index on a real bucket (SeaweedFS): every instance answers listings, lookups, search and expiry
from its own cache of the bucket's index, kept up to date by the bucket's journal, so a read costs the same whatever
the bucket holds. What must hold: a bucket written before the index existed answers as its sidecars say; a second
instance sees what the first adds, shares and deletes, and neither loses an image when both write at once; images
put in the bucket by another tool appear once the sweep reconciles; a damaged snapshot or journal entry costs one
warning, never an image; a cache of an older layout is rebuilt from the bucket.

Each instance here has a cache folder of its own, as servers on different machines have.
"""

from __future__ import annotations

import gzip
import json
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import obstore
import pytest
from obstore.store import S3Store as Bucket

from mcp_server_images.imaging.probe import probe
from mcp_server_images.store import ImageRecord, NewImage, Operation, image_search, image_table, s3_index
from mcp_server_images.store.base import ImageNotFoundError
from mcp_server_images.store.records import new_record
from mcp_server_images.store.s3 import S3Store
from tests.support.clock import FrozenClock
from tests.support.images import png_bytes
from tests.support.index_files import as_layout_1, assert_search_in_step
from tests.support.s3 import S3Server, team_store
from tests.support.store_truth import PROMPTS, assert_answers_as_the_sidecars_say

pytestmark = pytest.mark.subprocess

IMAGE = png_bytes((32, 16), (10, 10, 200))
META = NewImage(prompt="a blue dot", model="gpt-image-2", operation=Operation.GENERATE)


def put_by_hand(bucket: Bucket, where: str, image_id: str, number: int = 0) -> ImageRecord:
    """An image and its sidecar put straight into the bucket, as a server before the index (or another tool)."""
    meta = NewImage(
        prompt=PROMPTS[number % len(PROMPTS)],
        model="gpt-image-2",
        operation=Operation.GENERATE,
        user=[None, "alice", "bob"][number % 3],
        job_id=f"job_{number % 5:08x}",
        partial=number % 7 == 0,
    )
    now = datetime(2026, 11, 20, 9, number // 180, number // 3 % 60, tzinfo=UTC)  # three a second: names decide
    record = new_record(meta, probe(IMAGE), image_id=image_id, size=len(IMAGE), locate=where.__add__, now=now)
    obstore.put(bucket, record.name, IMAGE)
    obstore.put(bucket, record.sidecar_name, json.dumps(record.sidecar(), indent=2).encode())
    return record


def ids(store: S3Store) -> list[str]:
    return sorted(record.id for record in store.recent())


def keys(bucket: Bucket, prefix: str) -> list[str]:
    return sorted(meta["path"] for meta in obstore.list(bucket, prefix=prefix).collect())


def test_a_bucket_written_before_the_index_answers_as_its_sidecars_say(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    """The first instance indexes the bucket from one listing and leaves a snapshot; an instance on another machine
    starts from that snapshot, a restarted one from its cache: all three answer every read as the sidecars say."""
    bucket = s3_server.bucket_view(s3_prefix)
    where = f"s3://{s3_server.bucket}/{s3_prefix}"
    with ThreadPoolExecutor(8) as pool:
        numbers = range(48)
        truth = list(pool.map(put_by_hand, [bucket] * 48, [where] * 48, [_id(n) for n in numbers], numbers))
    clock = FrozenClock()

    first = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    assert_answers_as_the_sidecars_say(first, truth, where)
    assert keys(bucket, "index/snapshots/"), "the first listing is kept as a snapshot for the next instance"
    assert_answers_as_the_sidecars_say(team_store(s3_server, s3_prefix, tmp_path / "b", clock), truth, where)
    assert_answers_as_the_sidecars_say(team_store(s3_server, s3_prefix, tmp_path / "a", clock), truth, where)


def _id(number: int) -> str:
    """Ids that share prefixes, so lookups by prefix meet ambiguous ones."""
    return f"{number % 4:x}{number:02x}0f0{number % 3:x}{number % 2:x}"


def test_a_second_instance_sees_what_the_first_adds_shares_and_deletes(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    clock = FrozenClock()
    a = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    b = team_store(s3_server, s3_prefix, tmp_path / "b", clock)
    assert ids(b) == []

    made = [a.save(IMAGE, probe(IMAGE), META) for _ in range(3)]
    assert ids(b) == sorted(record.id for record in made)
    assert b.get(made[0].id).shared is False

    a.mark_shared(made[0], shared=True)
    a.delete(made[1])

    assert b.get(made[0].id).shared is True
    assert ids(b) == sorted([made[0].id, made[2].id])
    with pytest.raises(ImageNotFoundError):
        b.get(made[1].id)


def test_a_search_follows_what_instances_add_share_and_delete(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the search's trigrams (however few images the bucket holds), on the instance that writes, on one that
    reads the journal, and on one that starts from the snapshot."""
    monkeypatch.setattr(image_search, "CANDIDATE_COST", 0)
    monkeypatch.setattr(image_search, "PAGE_RATIO", 10**9)
    clock = FrozenClock()
    a = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    b = team_store(s3_server, s3_prefix, tmp_path / "b", clock)
    made = {
        prompt: a.save(IMAGE, probe(IMAGE), NewImage(prompt=prompt, model="m", operation=Operation.GENERATE))
        for prompt in ["A fox", "a whale", "a fox and a whale"]
    }
    assert [record.id for record in b.recent(query="whale")] == [made["a fox and a whale"].id, made["a whale"].id]

    a.mark_shared(made["A fox"], shared=True)
    a.delete(made["a fox and a whale"])

    for store, cache in [(a, "a"), (b, "b"), (team_store(s3_server, s3_prefix, tmp_path / "c", clock), "c")]:
        assert [(record.id, record.shared) for record in store.recent(query="FOX")] == [(made["A fox"].id, True)]
        assert store.count(query="a whale") == 1
        assert_search_in_step(tmp_path / cache / "index.sqlite3")


def test_an_instance_behind_a_compacted_journal_starts_again_from_the_snapshot(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The entries it had not read were removed by the sweep: the snapshot replaces every row of its cache, and its
    search's tables with them."""
    monkeypatch.setattr(s3_index, "SNAPSHOT_EVERY", 2)
    clock = FrozenClock()
    a = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    b = team_store(s3_server, s3_prefix, tmp_path / "b", clock)
    gone = a.save(IMAGE, probe(IMAGE), NewImage(prompt="a red fox", model="m", operation=Operation.GENERATE))
    assert [record.id for record in b.recent(query="red fox")] == [gone.id]
    a.delete(gone)
    for sweep in range(2):  # each leaves a snapshot and removes what the one before it covers
        for number in range(2):
            prompt = f"a whale number {sweep}{number}"
            a.save(IMAGE, probe(IMAGE), NewImage(prompt=prompt, model="m", operation=Operation.GENERATE))
        a.compact(before=0)
    assert keys(s3_server.bucket_view(s3_prefix), "index/journal/")[0] != "index/journal/000000000001.json"

    assert b.recent(query="red fox") == []
    assert [record.prompt for record in b.recent(query="WHALE")] == [
        f"a whale number {n}" for n in ("11", "10", "01", "00")
    ]
    assert_search_in_step(tmp_path / "b" / "index.sqlite3")


def test_two_instances_writing_at_once_lose_no_image(s3_server: S3Server, s3_prefix: str, tmp_path: Path) -> None:
    """Saves, shares and deletes on two instances at once: each journal number is taken by exactly one of them, and
    both (and a third instance started afterwards) end with the same images, as the bucket holds them."""
    clock = FrozenClock()
    a = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    b = team_store(s3_server, s3_prefix, tmp_path / "b", clock)

    def work(store: S3Store) -> list[str]:
        made = [store.save(IMAGE, probe(IMAGE), META) for _ in range(8)]
        store.mark_shared(made[0], shared=True)
        store.delete(made[1])
        return [record.id for record in made if record != made[1]]

    with ThreadPoolExecutor(4) as pool:
        kept = [image_id for made in pool.map(work, [a, b, a, b]) for image_id in made]

    bucket = s3_server.bucket_view(s3_prefix)
    sidecars = [key for key in keys(bucket, "") if "/" not in key and key.endswith(".json")]
    in_bucket = sorted(key.removesuffix(".json").rsplit("-", 1)[-1] for key in sidecars)
    assert sorted(kept) == in_bucket
    journal = [int(key.rsplit("/", 1)[-1].removesuffix(".json")) for key in keys(bucket, "index/journal/")]
    assert journal == list(range(4 * 10)), "one entry per save, share and delete, numbered without a gap"
    for store in (a, b, team_store(s3_server, s3_prefix, tmp_path / "c", clock)):
        assert ids(store) == sorted(kept)
        assert sum(record.shared for record in store.recent()) == 4


def test_images_put_in_the_bucket_by_hand_appear_once_the_sweep_reconciles(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    """A listing reads the index, never the whole bucket: what another tool puts in (or takes out) is seen once a
    sweep's reconciliation finds it, then by every instance."""
    clock = FrozenClock()
    bucket = s3_server.bucket_view(s3_prefix)
    where = f"s3://{s3_server.bucket}/{s3_prefix}"
    a = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    b = team_store(s3_server, s3_prefix, tmp_path / "b", clock)
    made = a.save(IMAGE, probe(IMAGE), META)
    assert ids(b) == [made.id]

    by_hand = put_by_hand(bucket, where, "0123abcd")
    assert ids(a) == [made.id], "a listing costs no LIST of the bucket"

    a.compact(before=0)

    assert ids(a) == sorted([made.id, by_hand.id])
    assert ids(b) == sorted([made.id, by_hand.id])
    assert b.get("0123").name == by_hand.name

    obstore.delete(bucket, [made.sidecar_name, made.name])
    b.compact(before=0)

    assert ids(a) == ids(b) == [by_hand.id]


def test_a_damaged_snapshot_is_skipped_with_one_warning(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock()
    bucket = s3_server.bucket_view(s3_prefix)
    a = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    made = [a.save(IMAGE, probe(IMAGE), META).id for _ in range(2)]
    [snapshot] = keys(bucket, "index/snapshots/")
    obstore.put(bucket, snapshot, gzip.compress(b'{"version": 1, "journal": 0}\n{"path": 7}'))

    caplog.set_level(logging.WARNING)
    fresh = team_store(s3_server, s3_prefix, tmp_path / "b", clock)

    assert ids(fresh) == sorted(made)
    warned = [record for record in caplog.records if "index" in record.getMessage()]
    assert [record.levelname for record in warned] == ["WARNING"]
    assert "damaged index snapshot" in warned[0].getMessage()
    assert ids(team_store(s3_server, s3_prefix, tmp_path / "c", clock)) == sorted(made), "the snapshot is repaired"


def test_a_damaged_journal_entry_is_skipped_with_one_warning_and_the_bucket_reconciled(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry that cannot be read may have named an image: the instance reading it lists the bucket once."""
    clock = FrozenClock()
    bucket = s3_server.bucket_view(s3_prefix)
    where = f"s3://{s3_server.bucket}/{s3_prefix}"
    a = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    made = a.save(IMAGE, probe(IMAGE), META)
    journal = keys(bucket, "index/journal/")
    by_hand = put_by_hand(bucket, where, "0123abcd")
    obstore.put(bucket, f"index/journal/{len(journal):012d}.json", b'{"stored": [{"path": "not an image"}]')

    caplog.set_level(logging.WARNING)
    listed = ids(a)
    later = a.save(IMAGE, probe(IMAGE), META)

    assert listed == sorted([made.id, by_hand.id])
    warned = [record for record in caplog.records if "index" in record.getMessage()]
    assert [record.levelname for record in warned] == ["WARNING"]
    assert "damaged index entry" in warned[0].getMessage()
    other = team_store(s3_server, s3_prefix, tmp_path / "b", clock)
    assert ids(other) == sorted([made.id, by_hand.id, later.id])


def test_a_damaged_cache_is_rebuilt_from_the_bucket(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock()
    a = team_store(s3_server, s3_prefix, tmp_path / "a", clock)
    made = [a.save(IMAGE, probe(IMAGE), META).id for _ in range(2)]
    del a
    cache = tmp_path / "a" / "index.sqlite3"
    for file in cache.parent.iterdir():
        file.unlink()
    cache.write_bytes(b"not a database at all" * 100)

    caplog.set_level(logging.WARNING)
    restarted = team_store(s3_server, s3_prefix, tmp_path / "a", clock)

    assert ids(restarted) == sorted(made)
    assert restarted.get(made[0][:5]).id == made[0]
    warned = [record for record in caplog.records if "index" in record.getMessage()]
    assert [record.levelname for record in warned] == ["WARNING"]
    assert "is damaged" in warned[0].getMessage()


def test_a_cache_of_an_older_layout_is_rebuilt_from_the_bucket(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A cache the version before the prompt search left (up to date, but without the search's tables) is replaced
    with one warning, and filled again from the bucket's snapshot and journal."""
    clock = FrozenClock()
    made = team_store(s3_server, s3_prefix, tmp_path / "a", clock).save(IMAGE, probe(IMAGE), META)
    cache = tmp_path / "a" / "index.sqlite3"
    as_layout_1(cache)

    caplog.set_level(logging.WARNING)
    restarted = team_store(s3_server, s3_prefix, tmp_path / "a", clock)

    assert [record.id for record in restarted.recent(query="Blue")] == [made.id]
    check = sqlite3.connect(cache)
    assert check.execute("PRAGMA user_version").fetchone()[0] == image_table.LAYOUT
    check.close()
    assert_search_in_step(cache)
    warned = [record for record in caplog.records if "index" in record.getMessage()]
    assert [record.levelname for record in warned] == ["WARNING"]
    assert "older layout" in warned[0].getMessage()
