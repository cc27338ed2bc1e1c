"""archive and restore: selection, round trip with every field, conflicts, search."""

import random
from pathlib import Path

import pytest
from lifecycle_support import (
    DAY,
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

from memctl.errors import BadInput, NotFound
from memctl.lifecycle.archive import archive, restore, select
from memctl.lifecycle.expiry import expires_at
from memctl.lifecycle.memories import recall
from memctl.store import log
from memctl.store import memories as store
from memctl.store.backend import backend_of
from memctl.store.postgres import upkeep as pg_upkeep
from tests.conftest import cli


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch):
    def set_now(seconds: float) -> None:
        monkeypatch.setenv("MEMCTL_NOW", str(seconds))

    set_now(T0)
    return set_now


@pytest.mark.usefixtures("backend")
def test_restore_round_trip_keeps_every_field(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    memory_id = put(
        db,
        policies,
        T0,
        "learning/big",
        value={"text": "x" * 5000, "n": [1, 2, 3]},  # compressed
        importance=7.5,
        type="learning",
        tags=["a", "b"],
        metadata={"source": "ci", "decay": {"floor": 3}},
        agent_id="agent-7",
        session_id="s-1",
        reward=0.75,
    )
    recall(db, policies, T0 + 10, "default", "learning", "big")
    add_vectors(db)
    before = store.get_many(db, [memory_id])[memory_id]
    assert before.compressed and before.access_count == 1 and before.embedding_model == MODEL

    report = archive(db, policies, T0 + DAY, "default", [before])
    assert report.count == 1
    archived = store.get_many(db, [memory_id], archived=True)[memory_id]
    assert (archived.archived_at, archived.archive_reason) == (T0 + DAY, "archived")
    invariants(db)

    restored = restore(db, policies, T0 + 2 * DAY, "default", "learning/big", None)
    assert [m.id for m in restored] == [memory_id]
    after = store.get_many(db, [memory_id])[memory_id]
    assert after.to_dict() == before.to_dict()  # same id, value, counters, vector model...
    if db.engine == "sqlite":  # vec0's flag (PostgreSQL: the table says it)
        assert db.scalar("SELECT archived FROM vec_memories WHERE memory_id = ?", (memory_id,)) == 0
    invariants(db)


def test_restore_sets_expiry_from_policy_or_ttl(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    put(db, policies, T0, "coordination/a/b")  # policy ttl 1 h
    put(db, policies, T0, "notes/x")
    memories = select(db, T0 + 2 * 3600, "default", None, below_importance=10)
    assert len(memories) == 2  # expired ones included: an explicit archive moves them
    archive(db, policies, T0 + 2 * 3600, "default", memories)
    now = T0 + 5 * DAY
    (coordination,) = restore(db, policies, now, "default", "coordination/a/b", None)
    assert coordination.expires_at == now + 3600
    (notes,) = restore(db, policies, now, "default", "notes/*", 600)
    assert notes.expires_at == now + 600
    archive(db, policies, now, "default", [notes])
    (again,) = restore(db, policies, now, "default", str(notes.id), 0)
    assert again.expires_at is None


@pytest.mark.usefixtures("backend")
def test_one_restore_gives_each_memory_its_own_expiry(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL restores in one statement per MOVE_IDS ids, the expiries joined in by
    id (postgres/upkeep.restore_rows): each memory gets its own, across statements."""
    monkeypatch.setattr(pg_upkeep, "MOVE_IDS", 3)  # statements mixing policies
    policies = packaged()
    db = open_db(db_path)
    paths = ["coordination/a/1", "notes/1", "session/s/1", "coordination/a/2", "notes/2"]
    for path in paths:
        put(db, policies, T0, path)
    archive(
        db, policies, T0 + 10, "default", select(db, T0 + 10, "default", None, below_importance=10)
    )
    now = T0 + 5 * DAY
    restored = restore(db, policies, now, "default", "*", None)
    wanted = {path: expires_at(policies.for_path(path), None, now) for path in paths}
    assert {m.path: m.expires_at for m in restored} == wanted
    assert len({v for v in wanted.values()}) == 3  # three different expiries
    active = store.get_many(db, [m.id for m in restored])
    assert {m.path: m.expires_at for m in active.values()} == wanted
    assert db.scalar("SELECT count(*) FROM archive") == 0
    invariants(db)


@pytest.mark.usefixtures("backend")
def test_restore_picks_the_latest_archived_version(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    first = put(db, policies, T0, "notes/a", value="v1")
    archive(db, policies, T0 + 1, "default", select(db, T0 + 1, "default", "notes/a"))
    second = put(db, policies, T0 + 2, "notes/a", value="v2")
    archive(db, policies, T0 + 3, "default", select(db, T0 + 3, "default", "notes/a"))
    assert first != second
    (restored,) = restore(db, policies, T0 + 4, "default", "notes/a", None)
    assert (restored.id, restored.value) == (second, "v2")
    # the older version stays archived; by id it cannot come back while the path is active
    with pytest.raises(BadInput, match="active memory exists at notes/a"):
        restore(db, policies, T0 + 5, "default", str(first), None)
    assert store.get_many(db, [first], archived=True)  # nothing changed
    invariants(db)


def test_restore_refuses_active_path_and_missing(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    put(db, policies, T0, "notes/a")
    put(db, policies, T0, "notes/b")
    archive(db, policies, T0, "default", select(db, T0, "default", "notes/*"))
    put(db, policies, T0 + 1, "notes/b", value="new")
    with pytest.raises(BadInput):
        restore(db, policies, T0 + 2, "default", "notes/*", None)
    assert len(store.select(db, store.Filters(tenant="default", archived=True))) == 2
    with pytest.raises(NotFound):
        restore(db, policies, T0 + 2, "default", "nothing/here", None)
    with pytest.raises(NotFound):
        restore(db, policies, T0 + 2, "acme", "notes/a", None)  # other tenant
    assert [m.path for m in restore(db, policies, T0 + 2, "default", "notes/a", None)] == [
        "notes/a"
    ]
    assert log.recent(db, action="restored")[0]["count"] == 1


@pytest.mark.usefixtures("backend")
def test_cli_archive_filters_and_exit_codes(now) -> None:
    now(T0 - 40 * DAY)
    assert cli("store", "notes/old-low", "1", "--importance", "2").exit_code == 0
    assert cli("store", "notes/old-high", "1", "--importance", "9").exit_code == 0
    now(T0)
    assert cli("store", "notes/new-low", "1", "--importance", "2").exit_code == 0
    dry = doc(cli("archive", "--older-than", "30d", "--dry-run", "--json"))
    assert (dry["count"], dry["dry_run"]) == (2, True)
    both = doc(
        cli("archive", "notes/*", "--older-than", "30d", "--below-importance", "5", "--json")
    )
    assert both["paths"] == ["notes/old-low"] and both["by_namespace"] == {"notes": 1}
    assert cli("archive").exit_code == 2
    assert cli("archive", "notes/missing").exit_code == 1
    assert cli("archive", "bad\nglob*").exit_code == 2
    assert doc(cli("archive", "notes[x]?*", "--json"))["count"] == 0  # [ and ? are literal
    assert cli("archive", "notes/").exit_code == 2  # never re-addressed to another path
    assert cli("archive", "--older-than", "soon").exit_code == 2
    assert doc(cli("archive", "zzz/*", "--json"))["count"] == 0  # a glob may match nothing
    human = cli("archive", "notes/new-low")
    assert "archived notes/new-low" in human.stdout and "1 memory archived" in human.stdout


def test_cli_restore_and_list_search_archived(now) -> None:
    assert cli("store", "notes/jwt", '"rotate the jwt signing keys monthly"').exit_code == 0
    stored = doc(cli("store", "notes/other", '"unrelated"', "--json"))
    assert doc(cli("archive", "notes/jwt", "--json"))["count"] == 1
    listed = doc(cli("list", "--archived", "--json"))["memories"]
    assert [m["path"] for m in listed] == ["notes/jwt"]
    hits = doc(cli("search", "jwt signing", "--archived", "--mode", "keyword", "--json"))["hits"]
    assert [h["path"] for h in hits] == ["notes/jwt"]
    assert doc(cli("search", "jwt signing", "--mode", "keyword", "--json"))["hits"] == []
    restored = doc(cli("restore", "notes/jwt", "--ttl", "2h", "--json"))
    assert restored["count"] == 1 and restored["memories"][0]["expires_at"] is not None
    assert cli("restore", "notes/jwt").exit_code == 1  # nothing archived any more
    assert cli("restore", "notes/jwt", "--ttl", "-5").exit_code == 2
    assert cli("archive", "notes/other").exit_code == 0
    human = cli("restore", str(stored["id"]))
    assert f"restored notes/other (id {stored['id']}, expires never)" in human.stdout


@pytest.mark.usefixtures("backend")
def test_search_archived_uses_the_vector_flag(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    ids = [put(db, policies, T0, f"notes/{n}") for n in range(5)]
    add_vectors(db, seed=3)
    archive(db, policies, T0, "default", select(db, T0, "default", "notes/1"))
    query = random_vector(random.Random(9))
    active = {i for i, _ in backend_of(db).vectors.knn(db, query, 10, MODEL, "default")}
    gone = {
        i for i, _ in backend_of(db).vectors.knn(db, query, 10, MODEL, "default", archived=True)
    }
    assert gone == {ids[1]} and active == set(ids) - {ids[1]}
