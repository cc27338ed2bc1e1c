"""What long lifecycle jobs share: a bigger page cache, watching other writers, and
re-checking which ids are still there inside each write batch."""

from collections.abc import Callable, Sequence

from memctl.store.batch import marks
from memctl.store.db import Database

BULK_CACHE_KIB = 65536


def bulk_session(db: Database) -> None:
    """A larger page cache for a long lifecycle job on this connection, so a batch's
    dirty index pages are not spilled to the WAL (and rewritten) mid-transaction."""
    db.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")


def commit_watcher(db: Database) -> Callable[[], bool]:
    """A function telling whether another connection committed since its last call
    (``PRAGMA data_version``; this connection's own commits do not count)."""
    last = [int(db.scalar("PRAGMA data_version"))]

    def others_committed() -> bool:
        current = int(db.scalar("PRAGMA data_version"))
        changed = current != last[0]
        last[0] = current
        return changed

    return others_committed


def present_ids(db: Database, ids: Sequence[int], table: str = "memories") -> list[int]:
    """The subset of ``ids`` present in ``table`` (memories or archive), in order given."""
    if not ids:
        return []
    assert table in ("memories", "archive")
    rows = db.all(f"SELECT id FROM {table} WHERE id IN ({marks(ids)})", list(ids))
    have = {int(r[0]) for r in rows}
    return [i for i in ids if i in have]


def id_bounds(db: Database, table: str = "memories") -> tuple[int, int]:
    """The smallest and largest id in ``table`` ((0, -1) when it is empty)."""
    row = db.one(f"SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM {table}")
    return int(row[0]), int(row[1])
