"""Migrations: frozen steps, the checked-in schema, and up/down with rows in every table
from every version (real SQLite files with sqlite-vec)."""

import struct
from pathlib import Path
from typing import Any

import pytest

from memctl.errors import BadInput, StorageError
from memctl.store import open_database, schema, vectors
from memctl.store.columns import ARCHIVE_COLUMNS, MEMORY_COLUMNS
from memctl.store.db import DRIVER, Database, connect
from memctl.store.migrations import LATEST, migrate, runner, status
from memctl.store.migrations.sqlite import SQLiteBackend, plain_tables, schema_sql
from memctl.store.migrations.sqlite_steps import STEPS
from tests.store import migration_data as data


def snapshots_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.bak"))


# ------------------------------------------------------------------ the schema itself


def test_schema_sql_is_a_freshly_migrated_database() -> None:
    db = data.create(Path(":memory:"), LATEST, rows=False)
    assert schema_sql(db) == data.SCHEMA_SQL.read_text(), (
        "regenerate: python -m memctl.store.migrations > src/memctl/store/schema.sql"
    )


@pytest.mark.parametrize("version", range(1, LATEST + 1))
def test_frozen_steps_make_what_each_migration_made_when_it_landed(version: int) -> None:
    db = data.create(Path(":memory:"), version, rows=False)
    assert schema_sql(db) == (data.FIXTURES / f"schema-v{version}.sql").read_text()


def test_steps_are_numbered_in_order_with_unique_names() -> None:
    assert len(STEPS) == LATEST  # the fast path's copy of the number
    assert [step.version for step in STEPS] == list(range(1, LATEST + 1))
    assert len({step.name for step in STEPS}) == LATEST
    for step in STEPS:
        assert step.up and step.down and step.description and step.down_description


def _structure(db: Any, table: str) -> dict[str, Any]:
    """Columns (type, not null, default, primary key), indexes and AUTOINCREMENT."""
    columns = [
        (r[1], r[2].upper(), bool(r[3]) or bool(r[5]), r[4], r[5])
        for r in db.execute(f'PRAGMA table_info("{table}")').fetchall()
    ]
    indexes = {}
    for r in db.execute(f'PRAGMA index_list("{table}")').fetchall():
        info = db.execute(f'PRAGMA index_info("{r[1]}")').fetchall()
        name = r[1] if r[3] == "c" else f"<{r[3]}>"  # constraint indexes: SQLite names them
        indexes[(name, tuple(i[2] for i in info))] = (bool(r[2]), bool(r[4]))
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    return {"columns": columns, "indexes": indexes, "autoincrement": "AUTOINCREMENT" in sql}


def test_schema_py_describes_the_migrated_tables() -> None:
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    migrated = data.create(Path(":memory:"), LATEST, rows=False)
    declared = DRIVER.connect(":memory:")
    dialect = sqlite.dialect()
    for table in schema.metadata.sorted_tables:
        declared.execute(str(CreateTable(table).compile(dialect=dialect)))
        for index in table.indexes:
            declared.execute(str(CreateIndex(index).compile(dialect=dialect)))
    assert sorted(schema.metadata.tables) == plain_tables(migrated)
    for name in schema.metadata.tables:
        assert _structure(declared, name) == _structure(migrated.conn, name), name
    partial = {
        r[0]: r[1]
        for db in (declared, migrated.conn)
        for r in db.execute("SELECT name, sql FROM sqlite_master WHERE sql LIKE '%WHERE%'")
    }
    assert list(partial) == ["ix_memories_backlog"]  # the same WHERE in both (dict merged)


def test_hot_path_columns_match_the_schema() -> None:
    assert tuple(c.name for c in schema.memories.columns) == MEMORY_COLUMNS
    assert tuple(c.name for c in schema.archive.columns) == ARCHIVE_COLUMNS


def _imported_by_opening(path: Path, create: bool) -> list[str]:
    import subprocess
    import sys

    from tests.conftest import SRC

    code = (
        "import sys; from pathlib import Path; from memctl.store import open_database\n"
        f"open_database(Path({str(path)!r}), create={create}).close()\n"
        "names = ('sqlalchemy', 'memctl.store.migrations.runner',\n"
        "         'memctl.store.migrations.sqlite')\n"
        "print(','.join(name for name in names if name in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(SRC)}
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(",") if done.stdout.strip() else []


def test_opening_never_imports_sqlalchemy_nor_the_steps_when_up_to_date(db_path: Path) -> None:
    assert _imported_by_opening(db_path, create=True) == [
        "memctl.store.migrations.runner",
        "memctl.store.migrations.sqlite",
    ]  # it was created: the steps ran, as frozen SQL
    assert _imported_by_opening(db_path, create=True) == []
    assert "sqlalchemy" not in _imported_by_opening(db_path.with_name("missing.db"), False)


# ------------------------------------------------------------------ every version, with rows


@pytest.fixture(scope="module")
def latest_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every row of a database made at the latest version with the same memories."""
    db = data.create(tmp_path_factory.mktemp("ref") / "ref.db", LATEST)
    return data.dump(db)


def _check_vectors_found(db: Database) -> None:
    """The current search code finds every memory with a current-model vector by it."""
    for memory_id, (model, vector) in data.vectors().items():
        if model != data.MODEL:
            continue
        owner = next(r for r in data.ACTIVE + data.ARCHIVED if r["id"] == memory_id)
        archived = "archived_at" in owner
        hits = vectors.knn(db, vector, 1, model, owner["tenant"], owner["namespace"], archived)
        assert hits and hits[0][0] == memory_id and hits[0][1] < 1e-5


@pytest.mark.parametrize("version", range(0, LATEST + 1))
def test_up_down_up_keeps_every_row(
    version: int, tmp_path: Path, latest_rows: dict[str, Any]
) -> None:
    db = data.create(tmp_path / "memctl.db", version)
    seeded = data.dump(db)
    empty = data.create(Path(":memory:"), LATEST, rows=False)
    expected_up = data.migrated_up(latest_rows, version) if version else data.dump(empty)

    first = migrate(db, LATEST)
    assert first.applied == (version < LATEST)
    assert data.dump(db) == expected_up
    assert schema_sql(db) == data.SCHEMA_SQL.read_text()
    if version:
        _check_vectors_found(db)
    if first.snapshot:  # the snapshot holds the database exactly as it was
        assert data.dump(connect(Path(first.snapshot))) == seeded
    assert bool(first.snapshot) == (0 < version < 4)  # steps 3 and 4 move data

    back = migrate(db, version)
    assert back.drops == []  # nothing the older layouts cannot hold
    assert data.dump(db) == seeded
    if version:
        fixture = (data.FIXTURES / f"schema-v{version}.sql").read_text()
        assert schema_sql(db) == fixture
    else:
        assert data.dump(db) == {"user_version": 0, "sqlite_sequence": []}

    again = migrate(db, LATEST)
    assert data.dump(db) == expected_up
    assert [p.step.version for p in again.steps] == [p.step.version for p in first.steps]


def test_each_single_step_round_trips(tmp_path: Path) -> None:
    """Down one version at a time from the latest, then up one at a time."""
    db = data.create(tmp_path / "memctl.db", LATEST)
    top = data.dump(db)
    # back up again, the tables a down step dropped are empty
    by_version = {LATEST: data.migrated_up(top, LATEST - 1)}
    for version in range(LATEST - 1, 0, -1):
        migrate(db, version, force=version == LATEST - 1)  # step 5 drops events, tokens
        by_version[version] = data.dump(db)
        assert by_version[version] == data.dump(data.create(tmp_path / f"{version}.db", version))
    for version in range(2, LATEST + 1):
        migrate(db, version)
        assert data.dump(db) == by_version[version]


# ------------------------------------------------------------------ what a down step drops


def test_down_names_what_it_would_drop_and_refuses_without_force(tmp_path: Path) -> None:
    db = data.create(tmp_path / "memctl.db", LATEST)
    with db.write():  # a vector whose memory is gone, and one of the wrong size
        db.execute("INSERT INTO embeddings VALUES (999, ?, ?)", (data.MODEL, b"\0" * 1536))
        db.execute("UPDATE embeddings SET vector = ? WHERE memory_id = 5", (b"\0" * 16,))
    before = data.dump(db)

    plan = migrate(db, 2, dry_run=True)
    assert not plan.applied and plan.snapshot
    assert [(p.step.version, p.drops) for p in plan.steps] == [
        (5, [("API tokens", 2), ("events", 3)]),
        (4, []),
        (
            3,
            [
                ("vectors of memories that no longer exist", 1),
                ("vectors that are not 384 float32 values", 1),
            ],
        ),
    ]
    assert data.dump(db) == before and snapshots_in(tmp_path) == []

    with pytest.raises(BadInput, match=r"no longer exist: 1, vectors that are not 384 .*: 1;"):
        migrate(db, 2)
    assert data.dump(db) == before and snapshots_in(tmp_path) == []

    done = migrate(db, 2, force=True)
    assert done.applied and snapshots_in(tmp_path) == [Path(str(done.snapshot))]
    kept = {row[0] for row in db.all("SELECT memory_id FROM vec_memories")}
    assert kept == set(data.vectors()) - {5}
    assert data.dump(db)["memories"] == before["memories"]
    assert data.dump(connect(Path(str(done.snapshot)))) == before


def test_down_to_nothing_lists_every_table_then_reopens_as_new(tmp_path: Path) -> None:
    path = tmp_path / "memctl.db"
    db = data.create(path, LATEST)
    with pytest.raises(BadInput) as refused:
        migrate(db, 0)
    assert str(refused.value).startswith(
        "migrating down to schema 0 would drop API tokens: 2, events: 3, memories: 8, "
        "archived memories: 3, vectors: 9, lifecycle log rows: 3, snapshot rows: 2;"
    )
    assert db.scalar("PRAGMA user_version") == LATEST
    migrate(db, 0, force=True)
    assert data.dump(db) == {"user_version": 0, "sqlite_sequence": []}
    db.close()
    db = open_database(path, create=True)  # an empty file again, not a foreign one
    assert db.scalar("PRAGMA user_version") == LATEST


def test_walking_the_wrong_way_or_past_the_end_is_refused(tmp_path: Path) -> None:
    db = data.create(tmp_path / "memctl.db", 2)
    with pytest.raises(BadInput, match="use `memctl migrate down --to 1`"):
        migrate(db, 1, direction="up")
    with pytest.raises(BadInput, match="use `memctl migrate up --to 3`"):
        migrate(db, 3, direction="down")
    with pytest.raises(BadInput, match=f"this memctl knows 0 to {LATEST}"):
        migrate(db, LATEST + 1)
    assert migrate(db, 2).steps == []


# ------------------------------------------------------------------ opening


def test_open_upgrades_with_a_snapshot_and_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "memctl.db"
    data.create(path, 2).close()
    lines: list[str] = []
    db = open_database(path, create=True, notify=lines.append)
    (snap,) = snapshots_in(tmp_path)
    assert lines == [
        f"memctl: upgraded the database schema from 2 to {LATEST}; snapshot of schema 2: "
        f"{snap} (`memctl migrate status`)"
    ]
    assert snap.name.startswith("memctl.db.schema-2.") and snap.stat().st_mode & 0o777 == 0o600
    assert data.dump(connect(snap))["user_version"] == 2
    db.close()
    open_database(path, create=True, notify=lines.append).close()
    assert len(lines) == 1 and len(snapshots_in(tmp_path)) == 1


def test_open_without_rows_or_rewrites_writes_no_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "memctl.db"
    data.create(path, 1, rows=False).close()
    lines: list[str] = []
    open_database(path, create=True, notify=lines.append).close()
    assert snapshots_in(tmp_path) == []
    assert lines == [
        f"memctl: upgraded the database schema from 1 to {LATEST} (`memctl migrate status`)"
    ]


def test_newer_schema_is_one_error_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "memctl.db"
    data.create(path, LATEST).close()
    conn = DRIVER.connect(str(path))
    conn.execute(f"PRAGMA user_version = {LATEST + 2}")
    conn.close()
    message = (
        f"database {path} has schema version {LATEST + 2}, newer than this memctl knows "
        f"({LATEST}): upgrade memctl, or run `memctl migrate down --to {LATEST}` with the "
        "memctl that upgraded it"
    )
    with pytest.raises(StorageError) as error:
        open_database(path, create=True)
    assert str(error.value) == message
    db = open_database(path, create=True, migrate=False)
    now = status(db)
    assert (now.current, now.latest, now.newer, now.pending) == (LATEST + 2, LATEST, True, [])
    with pytest.raises(StorageError, match="newer than this memctl"):
        migrate(db, LATEST)


# ------------------------------------------------------------------ an engine that cannot snapshot


class NoSnapshotBackend(SQLiteBackend):
    """SQLite with PostgreSQL's rules: no snapshot of its own, no upgrade on open."""

    upgrades_on_open = False
    backup_advice = "take a backup first (pg_dump)"

    def snapshot(self, version: int) -> str | None:
        return None


def test_engine_without_snapshots_refuses_to_rewrite_data_unless_forced(tmp_path: Path) -> None:
    db = data.create(tmp_path / "memctl.db", 2)
    backend = NoSnapshotBackend(db)
    needs = f"schema version 2, this memctl needs {LATEST}: run `memctl mi"
    with pytest.raises(StorageError, match=needs):
        runner.upgrade_on_open(backend)
    with pytest.raises(
        BadInput, match="take a backup first \\(pg_dump\\), then rerun with --force"
    ):
        runner.run(backend, LATEST)
    assert db.scalar("PRAGMA user_version") == 2
    assert runner.run(backend, LATEST, force=True).applied
    assert snapshots_in(tmp_path) == []

    empty = NoSnapshotBackend(data.create(tmp_path / "empty.db", 0))
    runner.upgrade_on_open(empty)  # an empty database is set up on first use
    assert empty.version() == LATEST


def test_status_lists_every_step_with_when_it_ran(tmp_path: Path) -> None:
    db = data.create(tmp_path / "memctl.db", 2)
    now = status(db)
    assert (now.current, now.latest, now.pending) == (2, LATEST, [3, 4, 5])
    assert [(s.version, s.applied, s.applied_at is not None) for s in now.steps] == [
        (1, True, True),
        (2, True, True),
        (3, False, False),
        (4, False, False),
        (5, False, False),
    ]
    assert now.to_dict()["migrations"][2]["name"] == "m003_binary_quantized_index"


def test_vector_blobs_survive_the_round_trip_bit_for_bit(tmp_path: Path) -> None:
    db = data.create(tmp_path / "memctl.db", 1)
    migrate(db, LATEST)
    stored = {r[0]: (r[1], bytes(r[2])) for r in db.all("SELECT * FROM embeddings")}
    assert stored == data.vectors()
    assert all(len(struct.unpack("384f", v)) == 384 for _, v in stored.values())


def test_step_3_reads_float_vectors_of_many_chunks_exactly(tmp_path: Path) -> None:
    """Step 3 reads vec0's chunks itself (``_copy_float_vectors``): ids out of order,
    three chunks of 1024, deleted slots; the result is what vec0 itself returns."""
    import random

    db = data.create(tmp_path / "memctl.db", 2, rows=False)
    rng = random.Random(3)
    ids = rng.sample(range(1, 100_000), 2500)
    with db.write():
        for n, memory_id in enumerate(ids):
            vector = struct.pack("384f", *(rng.uniform(-1, 1) for _ in range(384)))
            db.execute(
                "INSERT INTO vec_memories VALUES (?, ?, 't', 'n', ?, 0)",
                (memory_id, vector, f"model-{n % 3}"),
            )
        for memory_id in ids[::25]:
            db.execute("DELETE FROM vec_memories WHERE memory_id = ?", (memory_id,))
    slow = {
        r[0]: (r[1], bytes(r[2]))
        for r in db.all("SELECT memory_id, model, embedding FROM vec_memories")
    }
    assert len(slow) == 2400 and db.scalar("SELECT count(*) FROM vec_memories_chunks") == 3
    migrate(db, 3)
    assert {r[0]: (r[1], bytes(r[2])) for r in db.all("SELECT * FROM embeddings")} == slow
