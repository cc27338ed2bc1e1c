"""What long lifecycle jobs share: the engine's bulk settings, watching other writers,
and re-checking which ids are still there inside each write batch."""

from collections.abc import Callable, Sequence

from memctl.store.backend import backend_of
from memctl.store.db import Database


def bulk_session(db: Database) -> None:
    """Engine settings for a long lifecycle job on this connection (SQLite: a larger page
    cache, so a batch's dirty index pages are not spilled to the WAL mid-transaction)."""
    backend_of(db).upkeep.bulk_session(db)


def commit_watcher(db: Database) -> Callable[[], bool]:
    """A function telling whether another connection committed since its last call
    (``lifecycle.batching`` pauses longer while others write)."""
    return backend_of(db).upkeep.commit_watcher(db)


def present_ids(db: Database, ids: Sequence[int], table: str = "memories") -> list[int]:
    """The subset of ``ids`` present in ``table`` (memories or archive), in order given;
    on PostgreSQL locked, skipping rows another transaction holds (call inside the write
    that changes them)."""
    if not ids:
        return []
    assert table in ("memories", "archive")
    dialect = backend_of(db).dialect
    among, params = dialect.in_ids("id", ids)
    rows = db.all(f"SELECT id FROM {table} WHERE {among} ORDER BY id{dialect.SKIP_LOCKED}", params)
    have = {int(r[0]) for r in rows}
    return [i for i in ids if i in have]


def id_bounds(db: Database, table: str = "memories") -> tuple[int, int]:
    """The smallest and largest id in ``table`` ((0, -1) when it is empty)."""
    row = db.one(f"SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM {table}")
    return int(row[0]), int(row[1])
