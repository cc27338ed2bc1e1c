"""The database file: migrations, pragmas, permissions, refusing foreign or broken files."""

import os
import stat
from pathlib import Path

import pytest

from memctl.errors import StorageError
from memctl.store import open_database, schema
from memctl.store.columns import ARCHIVE_COLUMNS, MEMORY_COLUMNS
from memctl.store.db import DRIVER, connect
from memctl.store.migrations.sqlite_steps import STEPS
from tests.conftest import cli


def test_new_database_is_migrated_private_and_wal(db_path: Path) -> None:
    db = open_database(db_path, create=True)
    assert db.scalar("PRAGMA user_version") == len(STEPS)
    names = [row[0] for row in db.all("SELECT name FROM memctl_migrations ORDER BY id")]
    assert names == [step.name for step in STEPS]
    assert db.scalar("PRAGMA journal_mode") == "wal"
    assert db.scalar("SELECT vec_version()").startswith("v0.1")
    db.close()
    assert stat.S_IMODE(os.stat(db_path).st_mode) == 0o600


def test_reopening_does_not_migrate_again(db_path: Path) -> None:
    open_database(db_path, create=True).close()
    db = open_database(db_path, create=True)
    assert db.scalar("SELECT count(*) FROM memctl_migrations") == len(STEPS)


def test_read_only_open_does_not_create_the_file(db_path: Path) -> None:
    db = open_database(db_path, create=False)
    assert db.scalar("SELECT count(*) FROM memories") == 0
    assert not db_path.exists()


def test_hot_path_columns_match_the_schema() -> None:
    assert tuple(c.name for c in schema.memories.columns) == MEMORY_COLUMNS
    assert tuple(c.name for c in schema.archive.columns) == ARCHIVE_COLUMNS


def test_foreign_sqlite_database_is_refused(db_path: Path) -> None:
    conn = DRIVER.connect(str(db_path))
    conn.execute("CREATE TABLE memory_entries (id TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="not a memctl database"):
        open_database(db_path, create=True)
    result = cli("store", "a/b", "1")
    assert result.exit_code == 3
    assert "not a memctl database" in result.stderr


def test_corrupt_file_is_a_storage_error_and_left_alone(db_path: Path) -> None:
    garbage = b"this is not sqlite at all " * 200
    db_path.write_bytes(garbage)
    result = cli("recall", "a/b")
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert "corrupt or not a SQLite file" in result.stderr
    assert db_path.read_bytes() == garbage


def test_newer_schema_is_refused(db_path: Path) -> None:
    open_database(db_path, create=True).close()
    conn = DRIVER.connect(str(db_path))
    conn.execute(f"PRAGMA user_version = {len(STEPS) + 5}")
    conn.close()
    with pytest.raises(StorageError, match="newer than this memctl"):
        open_database(db_path, create=True)


def test_write_transaction_rolls_back_on_error(db_path: Path) -> None:
    db = open_database(db_path, create=True)
    with pytest.raises(RuntimeError), db.write():
        db.execute("INSERT INTO lifecycle_log (action, started_at, duration_ms) VALUES ('x', 0, 0)")
        raise RuntimeError("boom")
    assert db.scalar("SELECT count(*) FROM lifecycle_log") == 0


def test_locked_database_times_out_as_storage_error(db_path: Path, monkeypatch) -> None:
    open_database(db_path, create=True).close()
    holder = connect(db_path)
    holder.execute("BEGIN IMMEDIATE")
    waiter = connect(db_path)
    waiter.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(StorageError, match="locked"), waiter.write():
        pass
    holder.execute("ROLLBACK")


def test_disk_io_error_on_a_full_disk_says_disk_full(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite reports "disk I/O error" when a completely full disk leaves no room for the
    -wal/-shm files (reproduced on a full tmpfs, which a test cannot mount): the free
    space of the database's file system decides what the message says."""
    from memctl.store import db as dbmod

    error = DRIVER.OperationalError("disk I/O error")
    monkeypatch.setattr(dbmod, "free_bytes", lambda path: 4096)
    assert (
        str(dbmod._storage_error(error, db_path)) == f"database {db_path}: disk full (4 KiB free)"
    )
    monkeypatch.setattr(dbmod, "free_bytes", lambda path: 10 << 30)
    assert str(dbmod._storage_error(error, db_path)) == f"database {db_path}: disk I/O error"
    assert dbmod.free_bytes(db_path) is not None  # statvfs of the real folder works
