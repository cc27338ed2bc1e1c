"""export -> import into an empty database -> export gives the same records."""

import os
import random
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest

from memctl.paths import ServerUrl
from memctl.store import open_database
from memctl.store.backend import backend_of
from memctl.store.db import connect
from tests.conftest import cli
from tests.lifecycle.lifecycle_support import invariants
from tests.transfer.transfer_testkit import T0, comparable, doc, ok, read_export, store

MODEL = "all-MiniLM-L6-v2/384"


def _vector(seed: int) -> bytes:
    rng = random.Random(seed)
    values = [rng.uniform(-1, 1) for _ in range(384)]
    norm = sum(v * v for v in values) ** 0.5
    return struct.pack("<384f", *(v / norm for v in values))


@pytest.fixture
def seeded(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A database with every kind of memory a round trip must keep."""
    monkeypatch.setenv("MEMCTL_NOW", str(T0 - 5000))
    store("knowledge/auth/jwt", '{"algo": "RS256"}', "--tags", "auth,security", "--agent", "a1")
    store("metrics/task/count", "3")
    store("notes/old", "to be archived", "--importance", "9")
    store("coordination/swarm-1/status", "running", "--ttl", "60")  # expired at T0
    store("--tenant", "other", "knowledge/secret", "other tenant's")
    monkeypatch.setenv("MEMCTL_NOW", str(T0 - 4000.123456))
    store("knowledge/auth/jwt", '{"algo": "ES256"}', "--agent", "a2")  # multi_value conflict
    store("metrics/task/count", "4")  # counter: 7
    store(
        "notes/big",
        "x" * 3000,
        "--type",
        "learning",
        "--metadata",
        '{"source": "ci", "n": [1, 2]}',
        "--session",
        "s-9",
        "--reward",
        "0.75",
        "--importance",
        "7.25",
    )
    ok(cli("recall", "notes/big"))
    ok(cli("delete", "notes/old"))  # archived, keeps its id and fields
    db = open_database(db_path, create=False)
    with db.write():
        db.execute(
            "UPDATE memories SET last_decay_at = ?, promoted_at = ? WHERE key = 'big'",
            (T0 - 3000.5, T0 - 2000.25),
        )
        rows = db.all("SELECT id, tenant, namespace, content_hash FROM memories WHERE key != 'big'")
        items = [(r[0], r[1], r[2], r[3], _vector(r[0])) for r in rows]
        backend_of(db).vectors.put(db, items, MODEL)
    db.close()
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    return db_path


def _export(db: Path | str, out: Path, *extra: str) -> tuple[dict, list[dict]]:
    ok(cli("export", "--db", str(db), "-o", str(out), *extra))
    return read_export(out)


ALL = ("--include-archived", "--include-expired", "--include-embeddings")


@pytest.mark.usefixtures("backend")
def test_round_trip_keeps_every_record_and_field(seeded: Path, tmp_path: Path) -> None:
    header, first = _export(seeded, tmp_path / "a.jsonl", *ALL)
    assert header["format"] == "memctl-export" and header["version"] == 1
    assert header["counts"] == {"memories": 4, "archived": 1, "total": 5}
    assert header["embedding"] == {"model": MODEL, "dimension": 384, "included": True}
    assert header["tenants"] == ["default"]
    by_key = {r["key"]: r for r in first}
    big = by_key["big"]
    assert big["compressed"] is True and big["value"] == "x" * 3000 and "embedding" not in big
    assert big["last_decay_at"] and big["promoted_at"] and big["accessed_at"]
    assert big["access_count"] == 1 and big["reward"] == 0.75
    assert big["updated_at"] == "2027-01-15T06:53:19.876544Z"  # microseconds kept
    assert by_key["auth/jwt"]["conflicts"][0]["value"] == {"algo": "RS256"}
    assert by_key["task/count"]["value"] == 7
    assert by_key["old"]["archive_reason"] == "deleted" and by_key["old"]["archived_at"]
    assert by_key["swarm-1/status"]["expires_at"] == "2027-01-15T06:37:40.000000Z"

    fresh = tmp_path / "fresh.db"
    report = doc(cli("import", "--db", str(fresh), str(tmp_path / "a.jsonl"), "--json"))
    assert (report["created"], report["archived"], report["invalid"]) == (4, 1, 0)
    assert report["vectors_reused"] == 3 and report["embedding_backlog"] == 1
    assert report["expired_on_arrival"] == 1
    header2, second = _export(fresh, tmp_path / "b.jsonl", *ALL)
    assert comparable(second) == comparable(first)
    assert header2 == header

    # the imported database behaves: counts, vectors, keyword index, expired stays hidden
    db = open_database(fresh, create=False)
    assert db.scalar("SELECT count(*) FROM vec_memories") == 3
    assert db.scalar("SELECT count(*) FROM memories_fts") == 5
    assert db.scalar("SELECT seq FROM sqlite_sequence WHERE name = 'memories'") >= 5
    log = db.one("SELECT action, count, details FROM lifecycle_log WHERE action = 'imported'")
    assert log["count"] == 5 and orjson.loads(log["details"])["format"] == "memctl-jsonl"
    invariants(db)  # the imported vectors: marked embedded exactly where there is one
    db.close()
    assert cli("recall", "--db", str(fresh), "coordination/swarm-1/status").exit_code == 1
    assert ok(cli("recall", "--db", str(fresh), "notes/big")).stdout == "x" * 3000 + "\n"
    # new ids never collide with the imported archive's
    ok(cli("store", "--db", str(fresh), "notes/new", "1"))
    ids = [
        r[0]
        for r in open_database(fresh, create=False).all(
            "SELECT id FROM memories UNION ALL SELECT id FROM archive"
        )
    ]
    assert len(ids) == len(set(ids))


@pytest.mark.usefixtures("backend")
def test_round_trip_without_embeddings_puts_memories_in_the_backlog(
    seeded: Path, tmp_path: Path
) -> None:
    _, first = _export(seeded, tmp_path / "a.jsonl.gz", "--include-archived", "--include-expired")
    assert (tmp_path / "a.jsonl.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert all("embedding" not in r for r in first)
    fresh = tmp_path / "fresh.db"
    report = doc(cli("import", "--db", str(fresh), str(tmp_path / "a.jsonl.gz"), "--json"))
    assert report["vectors_reused"] == 0 and report["embedding_backlog"] == 4
    _, second = _export(fresh, tmp_path / "b.jsonl", "--include-archived", "--include-expired")
    strip = [{**r, "embedding_model": None} for r in comparable(first)]
    assert comparable(second) == strip
    db = open_database(fresh, create=False)
    invariants(db)  # no vector, so nothing marked embedded (the archived one too)
    db.close()


def test_json_document_format_round_trips(seeded: Path, tmp_path: Path) -> None:
    ok(cli("export", "-o", str(tmp_path / "a.json"), *ALL))
    document = orjson.loads((tmp_path / "a.json").read_bytes())
    assert document["format"] == "memctl-export" and len(document["memories"]) == 5
    fresh = tmp_path / "fresh.db"
    ok(cli("import", "--db", str(fresh), str(tmp_path / "a.json")))
    ok(cli("export", "--db", str(fresh), "--format", "json", "-o", str(tmp_path / "b.json"), *ALL))
    again = orjson.loads((tmp_path / "b.json").read_bytes())
    assert comparable(again["memories"]) == comparable(document["memories"])


def test_export_to_stdout_and_filters(seeded: Path) -> None:
    out = ok(cli("export")).stdout.splitlines()
    header = orjson.loads(out[0])
    assert header["counts"]["total"] == 3 == len(out) - 1  # expired and archived left out

    def keys(*args: str) -> list[str]:
        lines = ok(cli("export", *args)).stdout.splitlines()[1:]
        return [orjson.loads(line)["key"] for line in lines]

    assert keys("--namespace", "knowledge") == ["auth/jwt"]
    assert keys("--agent", "a2") == ["auth/jwt"]
    assert keys("--type", "learning") == ["big"]
    assert sorted(keys("--since", "2027-01-15T06:53:00Z")) == ["auth/jwt", "big", "task/count"]
    assert keys("--since", "1h") == []
    assert sorted(keys("--include-expired")) == ["auth/jwt", "big", "swarm-1/status", "task/count"]


@pytest.mark.usefixtures("backend")
def test_tenant_filter_never_leaks(seeded: Path, tmp_path: Path) -> None:
    for args in ((), ("--include-archived", "--include-expired")):
        _, records = _export(seeded, tmp_path / "d.jsonl", *args)
        assert {r["tenant"] for r in records} == {"default"}
        assert "other tenant's" not in (tmp_path / "d.jsonl").read_text()
    header, records = _export(seeded, tmp_path / "o.jsonl", "--tenant", "other", *ALL)
    assert header["tenants"] == ["other"] and [r["value"] for r in records] == ["other tenant's"]
    header, records = _export(seeded, tmp_path / "all.jsonl", "--all-tenants")
    assert header["tenants"] == ["default", "other"] and len(records) == 4
    # a whole-database snapshot would contain the other tenant: refused without --all-tenants
    result = cli("export", "-o", str(tmp_path / "s.db"))
    assert result.exit_code == 2 and "--all-tenants" in result.stderr
    assert not list(tmp_path.glob("*s.db*"))
    # importing a multi-tenant file keeps tenants apart only with --all-tenants
    fresh = tmp_path / "fresh.db"
    result = cli("import", "--db", str(fresh), str(tmp_path / "all.jsonl"))
    assert result.exit_code == 2 and "2 tenants" in result.stderr
    ok(cli("import", "--db", str(fresh), str(tmp_path / "all.jsonl"), "--all-tenants"))
    _, back = _export(fresh, tmp_path / "back.jsonl", "--all-tenants")
    no_model = lambda rs: [{**r, "embedding_model": None} for r in comparable(rs)]  # noqa: E731
    assert no_model(back) == no_model(records)
    # a one-tenant file can move into another tenant
    ok(cli("import", "--db", str(fresh), str(tmp_path / "o.jsonl"), "--tenant", "moved"))
    assert ok(cli("recall", "--db", str(fresh), "--tenant", "moved", "knowledge/secret")).stdout


def test_sqlite_snapshot_opens_as_memctl_database(seeded: Path, tmp_path: Path) -> None:
    target = tmp_path / "snap.db"
    summary = doc(cli("export", "-o", str(target), "--all-tenants", "--json"))
    assert summary["format"] == "sqlite" and summary["tenants"] == ["default", "other"]
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    # in WAL mode like the live database (VACUUM INTO writes a rollback-journal file),
    # and no -wal/-shm files left beside it
    assert sorted(p.name for p in tmp_path.glob("snap.db*")) == ["snap.db"]
    copy = connect(target)
    assert copy.scalar("PRAGMA journal_mode") == "wal"
    copy.close()
    live = open_database(seeded, create=False)
    snap = open_database(target, create=False)
    for sql in (
        "SELECT count(*) FROM memories",
        "SELECT count(*) FROM archive",
        "SELECT count(*) FROM vec_memories",
        "SELECT count(*) FROM memories_fts",
        "SELECT count(*) FROM lifecycle_log",
    ):
        assert snap.scalar(sql) == live.scalar(sql), sql
    assert summary["counts"] == {"memories": 5, "archived": 1, "total": 6}
    live.close()
    snap.close()
    result = cli(
        "export", "--format", "sqlite", "-o", str(tmp_path / "f.db"), "--all-tenants", "-n", "x"
    )
    assert result.exit_code == 2 and "filters do not apply" in result.stderr


def test_export_files_are_private_and_atomic(seeded: Path, tmp_path: Path) -> None:
    for name in ("a.jsonl", "a.jsonl.gz", "a.json"):
        ok(cli("export", "-o", str(tmp_path / name)))
        assert oct(os.stat(tmp_path / name).st_mode & 0o777) == "0o600"
    target = tmp_path / "keep.jsonl"
    target.write_text("previous backup\n")
    result = cli("export", "-o", str(target), "--since", "not a time")
    assert result.exit_code == 2
    assert target.read_text() == "previous backup\n"  # never half-written
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    result = cli("export", "-o", str(tmp_path / "missing" / "x.jsonl"))
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_a_failure_mid_export_leaves_the_previous_file(
    seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memctl.transfer import memctl_format

    target = tmp_path / "backup.jsonl.gz"
    ok(cli("export", "-o", str(target)))
    previous = target.read_bytes()
    calls = []

    def failing(memory: object, vector: object) -> dict:
        calls.append(memory)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return {"key": "partial"}

    monkeypatch.setattr(memctl_format, "record_dict", failing)
    result = cli("export", "-o", str(target))
    assert result.exit_code == 3 and len(calls) == 2
    assert (
        result.stderr == f"memctl export: error: cannot write {target}: No space left on device\n"
    )
    assert target.read_bytes() == previous
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _vectors(location: Path | ServerUrl) -> dict[tuple[str, str, str], tuple[str, bytes]]:
    """Every stored vector, by its memory's tenant and path (ids change in a move)."""
    db = open_database(location, create=False)
    try:
        rows = db.all(
            "SELECT id, tenant, namespace, key FROM memories "
            "UNION ALL SELECT id, tenant, namespace, key FROM archive"
        )
        loaded = backend_of(db).vectors.load(db, [int(r[0]) for r in rows])
        return {(r[1], r[2], r[3]): loaded[int(r[0])] for r in rows if int(r[0]) in loaded}
    finally:
        db.close()


@pytest.mark.postgres
def test_a_whole_store_moves_sqlite_to_postgresql_and_back_with_its_vectors(
    seeded: Path, tmp_path: Path, pg_server: Any
) -> None:
    """The README's move: export everything from the SQLite file, import it into the hub
    (and back into a new file): every record, field and vector arrives, bit for bit."""
    everything = (*ALL, "--all-tenants")
    _, first = _export(seeded, tmp_path / "store.jsonl.gz", *everything)
    name, url = pg_server.new_database(migrated=False)  # an empty database, as a DBA gives
    try:
        hub = ServerUrl(url)
        moved = ["import", "--db", url, str(tmp_path / "store.jsonl.gz"), "--all-tenants"]
        report = doc(cli(*moved, "--json"))
        assert (report["created"], report["archived"], report["invalid"]) == (5, 1, 0)
        assert report["vectors_reused"] == 4 and report["embedding_backlog"] == 1
        _, on_hub = _export(url, tmp_path / "hub.jsonl", *everything)
        assert comparable(on_hub) == comparable(first)
        assert _vectors(hub) == _vectors(seeded) and len(_vectors(hub)) == 4
        db = open_database(hub, create=False)
        try:
            invariants(db)
        finally:
            db.close()
        assert ok(cli("recall", "--db", url, "notes/big")).stdout == "x" * 3000 + "\n"
        assert ok(cli("recall", "--db", url, "--tenant", "other", "knowledge/secret")).stdout

        back = tmp_path / "back.db"
        ok(cli("import", "--db", str(back), str(tmp_path / "hub.jsonl"), "--all-tenants"))
        _, again = _export(back, tmp_path / "again.jsonl", *everything)
        assert comparable(again) == comparable(first)
        assert _vectors(back) == _vectors(seeded)
    finally:
        pg_server.drop(name)
