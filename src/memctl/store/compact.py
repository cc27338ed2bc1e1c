"""SQL for compaction: how fragmented the vec0 table is, rebuilding it, and VACUUM.

vec0 stores vectors in chunks of ``chunk_size`` slots and never reuses the slot of a
deleted row (NOTES-sqlite.md); ``VACUUM`` cannot shrink that, only a rebuild can.
"""

from dataclasses import dataclass

from memctl.store import vectors
from memctl.store.columns import VEC_TABLE
from memctl.store.db import Database


@dataclass
class VecStats:
    rows: int
    chunks: int
    chunk_size: int
    page_size: int
    pages: int
    free_pages: int

    @property
    def slots(self) -> int:
        return self.chunks * self.chunk_size

    @property
    def dead_slots(self) -> int:
        """Slots of deleted rows that vec0 will never reuse (the last chunk's unfilled
        tail is not counted: new rows go there)."""
        return max(0, self.slots - self.rows - self.chunk_size) if self.chunks else 0


def vec_stats(db: Database) -> VecStats:
    """Live rows and allocated chunks of the vec0 table (from its shadow tables)."""
    rows = int(db.scalar(f"SELECT count(*) FROM {VEC_TABLE}_rowids"))
    chunk = db.one(f"SELECT count(*), coalesce(max(size), 0) FROM {VEC_TABLE}_chunks")
    return VecStats(
        rows=rows,
        chunks=int(chunk[0]),
        chunk_size=int(chunk[1]) or 1024,
        page_size=int(db.scalar("PRAGMA page_size")),
        pages=int(db.scalar("PRAGMA page_count")),
        free_pages=int(db.scalar("PRAGMA freelist_count")),
    )


def rebuild_vectors(db: Database) -> int:
    """Recreate the vec0 table with only its live rows (vec0 never reuses the space of
    deleted rows, and ``ALTER TABLE ... RENAME`` breaks vec0): drop, recreate from the
    table's own DDL, refill from the float vectors. One write transaction, so a kill at
    any instant leaves the old or the new table, and readers see one or the other."""
    with db.write():
        ddl = db.scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (VEC_TABLE,)
        )
        db.execute(f"DROP TABLE {VEC_TABLE}")
        db.execute(str(ddl))
        return vectors.refill_index(db)


INCREMENTAL = 2  # PRAGMA auto_vacuum value
# Pages returned per write transaction: ~60 ms per step on a 140 MB database of 50k
# vectors, where a full VACUUM kept writers waiting 2.6 s (scripts/bench_lifecycle.py).
VACUUM_STEP_PAGES = 2048


def vacuum(db: Database) -> bool:
    """Return the free pages to the file system; True if it took a full VACUUM.

    A database in ``auto_vacuum = INCREMENTAL`` mode (new ones are created so:
    ``db.open_database``) gives them back in steps of ``VACUUM_STEP_PAGES``, each its own
    short write transaction, so a concurrent writer waits for one step, not for a
    rewrite of the whole file. A database in another mode is switched by one full
    VACUUM, which blocks writers while it runs (once)."""
    if int(db.scalar("PRAGMA auto_vacuum")) != INCREMENTAL:
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        db.execute("VACUUM")
        return True
    free = int(db.scalar("PRAGMA freelist_count"))
    for _ in range(free // VACUUM_STEP_PAGES + 2):  # bounded: others may free pages too
        if not free:
            break
        with db.write():
            db.execute(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})").fetchall()
            free = int(db.scalar("PRAGMA freelist_count"))
    return False
