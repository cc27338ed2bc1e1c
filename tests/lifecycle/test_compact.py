"""compact: rebuild a fragmented vec0 index, keep every vector and search result."""

import random
from pathlib import Path
from typing import Any

import pytest
from lifecycle_support import (
    MODEL,
    T0,
    add_vectors,
    doc,
    invariants,
    open_db,
    packaged,
    put,
    random_vector,
)

from memctl.lifecycle.compact import compact
from memctl.store import compact as sql
from memctl.store import log, moves, upkeep, vectors
from memctl.store.columns import VEC_TABLE
from memctl.store.db import Database
from tests.conftest import cli


def fill(db: Database, count: int) -> list[int]:
    policies = packaged()
    with db.write():
        ids = [put(db, policies, T0, f"notes/{n}", value=n) for n in range(count)]
    add_vectors(db)
    return ids


def neighbours(db: Database, seed: int) -> list[tuple[int, float]]:
    # The KNN is approximate (1-bit candidates, exact re-rank): far neighbours may tie at
    # the candidate cut-off and break differently after a rebuild, so compare the top 5
    # here and the index content exactly in index_content().
    return vectors.knn(db, random_vector(random.Random(seed)), 5, MODEL, "default")


def index_content(db: Database) -> list[tuple[int, bytes, int]]:
    return [
        (row[0], bytes(row[1]), row[2])
        for row in db.all(f"SELECT memory_id, embedding, archived FROM {VEC_TABLE} ORDER BY 1")
    ]


def test_rebuild_after_heavy_deletion_keeps_vectors(db_path: Path) -> None:
    db = open_db(db_path)
    ids = fill(db, 3000)
    with db.write():  # scattered deletions: vec0 frees only chunks that become empty
        moves.purge(db, [i for n, i in enumerate(ids) if n % 3])
    with db.write():  # some archived rows too: their flag must survive the rebuild
        moves.archive(db, ids[:300:3], "archived", T0)
    before = sql.vec_stats(db)
    assert before.chunks == 3 and before.rows == 1000 and before.dead_slots > 1024
    expected = {seed: neighbours(db, seed) for seed in range(3)}
    content = index_content(db)
    counts = invariants(db)

    report = compact(db, now=T0)
    assert report.rebuilt and report.count == 1000 and report.chunks_after == 1
    assert report.vacuumed and report.bytes_after < report.bytes_before
    assert invariants(db) == counts
    assert index_content(db) == content
    assert {seed: neighbours(db, seed) for seed in range(3)} == expected
    entry = log.recent(db, action="compacted")[0]
    assert entry["count"] == 1000 and entry["details"]["rebuilt"] is True

    again = compact(db, now=T0)  # nothing fragmented any more
    assert not again.rebuilt and not again.vacuumed and again.count == 0
    fill_more = [put(db, packaged(), T0, f"more/{n}") for n in range(10)]  # writes still work
    add_vectors(db, seed=5)
    assert invariants(db)["vectors"] == 1010 and len(fill_more) == 10


@pytest.mark.usefixtures("backend")
def test_cli_compact(db_path: Path) -> None:
    db = open_db(db_path)
    fill(db, 50)
    db.close()
    assert "nothing to do" in cli("compact").stdout
    forced = doc(cli("compact", "--force", "--json"))
    assert forced["rebuilt"] and forced["vacuumed"] and forced["count"] == 50
    db = open_db(db_path)
    assert invariants(db)["vectors"] == 50


def test_readers_keep_working_during_compaction(db_path: Path) -> None:
    db = open_db(db_path)
    ids = fill(db, 1500)
    with db.write():
        moves.purge(db, [i for n, i in enumerate(ids) if n % 2])
    expected = neighbours(db, 7)
    reader = open_db(db_path)
    with reader.read():  # a reader in the middle of a snapshot while compaction runs
        assert neighbours(reader, 7) == expected
        report = compact(db, force=True, now=T0)
        assert report.rebuilt
        assert neighbours(reader, 7) == expected
    assert neighbours(reader, 7) == expected  # and the rebuilt table after it
    assert invariants(reader)["vectors"] == 750


def test_free_pages_go_back_in_short_steps_on_new_databases(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New databases use incremental vacuum: compaction frees pages in write transactions
    of VACUUM_STEP_PAGES each, not one rewrite that blocks every writer."""
    db = open_db(db_path)
    assert db.scalar("PRAGMA auto_vacuum") == upkeep.INCREMENTAL
    ids = fill(db, 1500)
    with db.write():
        moves.purge(db, ids[:1200])
    counts = invariants(db)
    pages_before = db.scalar("PRAGMA page_count")
    steps: list[int] = []
    monkeypatch.setattr(upkeep, "VACUUM_STEP_PAGES", 16)  # several steps on a small file
    original = db.write

    def counting_write() -> Any:
        steps.append(1)
        return original()

    monkeypatch.setattr(db, "write", counting_write)
    report = compact(db, force=True, now=T0)
    assert report.vacuumed and not report.full_vacuum
    assert db.scalar("PRAGMA freelist_count") == 0
    assert db.scalar("PRAGMA page_count") < pages_before
    assert len(steps) > 3  # rebuild, several vacuum steps, the log entry
    assert invariants(db) == counts


def test_an_older_database_is_switched_once_by_a_full_vacuum(db_path: Path) -> None:
    db = open_db(db_path)
    fill(db, 20)
    db.execute("PRAGMA auto_vacuum = NONE")
    db.execute("VACUUM")  # as databases created before incremental vacuum are
    assert db.scalar("PRAGMA auto_vacuum") == 0
    first = compact(db, force=True, now=T0)
    assert first.full_vacuum and db.scalar("PRAGMA auto_vacuum") == upkeep.INCREMENTAL
    assert not compact(db, force=True, now=T0).full_vacuum
    assert invariants(db)["vectors"] == 20
