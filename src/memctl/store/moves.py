"""Moving memories between the active table and the archive, or out for good, with their
keyword and vector rows. Call inside a write transaction.

Ids are unique across ``memories`` and ``archive`` (an archived row keeps its id), so
the keyword and vector rows of a memory follow it through archive and restore untouched
but for vec0's ``archived`` flag.

A restore locks its rows first (``db.lock_rows``): on PostgreSQL another writer could
otherwise change a row between its copy into the other table and its deletion, and that
change would be lost (SQLite's write transaction excludes other writers). An archive
needs no lock on PostgreSQL: its one statement deletes the rows and inserts what the
delete returned (``postgres/upkeep.archive_rows``).
"""

from collections.abc import Sequence

from memctl.store.backend import backend_of
from memctl.store.batch import chunks, marks
from memctl.store.columns import MEMORY_COLUMNS
from memctl.store.db import Database

_COLUMNS = ", ".join(MEMORY_COLUMNS)


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
    field, setting ``expires_at`` per id."""
    moved = 0
    for chunk in chunks(list(expiry)):
        db.lock_rows("archive", chunk)
        db.execute(
            f"""
            INSERT INTO memories ({_COLUMNS})
            SELECT {_COLUMNS} FROM archive WHERE id IN ({marks(chunk)})
            """,
            chunk,
        )
        db.executemany(
            "UPDATE memories SET expires_at = ? WHERE id = ?",
            [(expiry[i], i) for i in chunk],
        )
        moved += db.execute(f"DELETE FROM archive WHERE id IN ({marks(chunk)})", chunk).rowcount
        backend_of(db).vectors.mark_archived(db, chunk, False)
    return moved
