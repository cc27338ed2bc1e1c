"""Moving memories between the active table and the archive, or out for good, with their
keyword and vector rows. Call inside a write transaction.

Ids are unique across ``memories`` and ``archive`` (an archived row keeps its id), so
the keyword and vector rows of a memory follow it through archive and restore untouched
but for vec0's ``archived`` flag.

On PostgreSQL a move is one statement that deletes the rows and inserts what the delete
returned (``postgres/upkeep.archive_rows``, ``restore_rows``): the delete locks each row
and returns the version a concurrent writer committed, so no change is lost between a
copy and a deletion. (SQLite's write transaction excludes other writers.)
"""

from collections.abc import Sequence

from memctl.store.backend import backend_of
from memctl.store.batch import chunks, marks
from memctl.store.db import Database


def archive(db: Database, ids: Sequence[int], reason: str, now: float) -> int:
    """Move memories to the archive with ``reason``. Returns the count. How the rows
    move is the engine's (``Upkeep.archive_rows``): SQLite copies and deletes per batch
    of ids, PostgreSQL deletes and inserts what the delete returned in one statement."""
    return backend_of(db).upkeep.archive_rows(db, ids, reason, now)


def purge(db: Database, ids: Sequence[int], archived: bool = False) -> int:
    """Delete memories (active or archived) and their index rows for good."""
    table = "archive" if archived else "memories"
    removed = 0
    engine = backend_of(db)
    for chunk in chunks(ids):
        removed += db.execute(f"DELETE FROM {table} WHERE id IN ({marks(chunk)})", chunk).rowcount
        engine.keywords.drop(db, chunk)
        engine.vectors.drop(db, chunk)
    return removed


def restore(db: Database, expiry: dict[int, float | None]) -> int:
    """Move archived memories back to the active table with their own id and every
    field, setting ``expires_at`` per id (``Upkeep.restore_rows``: SQLite copies,
    updates and deletes per batch; PostgreSQL deletes and inserts what the delete
    returned, with the new expiry, in one statement)."""
    return backend_of(db).upkeep.restore_rows(db, expiry)
