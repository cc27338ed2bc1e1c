"""SQLite's upkeep (``backend.Upkeep``): page cache sizes for bulk work, ``PRAGMA
data_version`` to see other writers, AUTOINCREMENT ids for import, vec0 chunk statistics
and rebuilds, incremental ``VACUUM``, ``VACUUM INTO`` snapshots.

vec0 stores vectors in chunks of ``chunk_size`` slots and never reuses the slot of a
deleted row (NOTES-sqlite.md); ``VACUUM`` cannot shrink that, only a rebuild can.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from memctl.store import vectors
from memctl.store.batch import chunks, marks
from memctl.store.columns import MEMORY_COLUMNS, VEC_TABLE
from memctl.store.copies import copy_into
from memctl.store.db import Database
from memctl.store.index_stats import IndexStats

BULK_CACHE_KIB = 65536
IMPORT_CACHE_KIB = 16 * 1024
_COLUMNS = ", ".join(MEMORY_COLUMNS)


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


@contextmanager
def import_cache(db: Database) -> Iterator[None]:
    """A larger page cache for one bulk write. With the default 2 MB, vec0's 1.5 MB chunk
    blobs are evicted by the other tables' pages between inserts: 100k vectors took 20 s
    instead of 5 s. The cache is bounded, so memory still does not grow with the file."""
    previous = int(db.scalar("PRAGMA cache_size"))
    db.execute(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA cache_size = {previous}")


def new_ids(db: Database, count: int) -> list[int]:
    """``count`` ids past the largest ever handed out (``sqlite_sequence``, or a larger
    id already in either table); ``sqlite_sequence`` is moved past them so AUTOINCREMENT
    continues after them (ids given to archived rows too). Call inside the write."""
    if count <= 0:
        return []
    used = db.scalar(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'memories'), 0), "
        "coalesce((SELECT max(id) FROM memories), 0), coalesce((SELECT max(id) FROM archive), 0))"
    )
    first = int(used or 0) + 1
    last = first + count - 1
    moved = db.execute(
        "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'memories'", (last,)
    ).rowcount
    if not moved:
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('memories', ?)", (last,))
    return list(range(first, last + 1))


def archive_rows(db: Database, ids: Sequence[int], reason: str, now: float) -> int:
    """Move memories to the archive with ``reason`` (``moves.archive``), ``BATCH`` ids
    per statement: vec0's flag first, then copy, then delete. Returns the count."""
    moved = 0
    for chunk in chunks(ids):
        vectors.mark_archived(db, chunk, True)  # before the rows move (see there)
        db.execute(
            f"""
            INSERT INTO archive ({_COLUMNS}, archived_at, archive_reason)
            SELECT {_COLUMNS}, ?, ? FROM memories WHERE id IN ({marks(chunk)})
            """,
            [now, reason, *chunk],
        )
        moved += db.execute(f"DELETE FROM memories WHERE id IN ({marks(chunk)})", chunk).rowcount
    return moved


def restore_rows(db: Database, expiry: dict[int, float | None]) -> int:
    """Move archived memories back with their own id and every field, ``expires_at``
    per id (``moves.restore``), ``BATCH`` ids per statement. Returns the count."""
    moved = 0
    for chunk in chunks(list(expiry)):
        db.execute(
            f"INSERT INTO memories ({_COLUMNS}) "
            f"SELECT {_COLUMNS} FROM archive WHERE id IN ({marks(chunk)})",
            chunk,
        )
        db.executemany(
            "UPDATE memories SET expires_at = ? WHERE id = ?",
            [(expiry[i], i) for i in chunk],
        )
        moved += db.execute(f"DELETE FROM archive WHERE id IN ({marks(chunk)})", chunk).rowcount
        vectors.mark_archived(db, chunk, False)
    return moved


def index_stats(db: Database) -> IndexStats:
    """Live rows and allocated chunks of the vec0 table (from its shadow tables)."""
    rows = int(db.scalar(f"SELECT count(*) FROM {VEC_TABLE}_rowids"))
    chunk = db.one(f"SELECT count(*), coalesce(max(size), 0) FROM {VEC_TABLE}_chunks")
    return IndexStats(
        rows=rows,
        chunks=int(chunk[0]),
        chunk_size=int(chunk[1]) or 1024,
        page_size=int(db.scalar("PRAGMA page_size")),
        pages=int(db.scalar("PRAGMA page_count")),
        free_pages=int(db.scalar("PRAGMA freelist_count")),
    )


def rebuild_index(db: Database) -> int:
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
    ``db.open_sqlite``) gives them back in steps of ``VACUUM_STEP_PAGES``, each its own
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
            free = _release_pages(db, VACUUM_STEP_PAGES)
    return False


def _release_pages(db: Database, pages: int) -> int:
    """Give up to ``pages`` free pages back inside the current write; the pages left.

    ``incremental_vacuum`` frees one page per step of its statement. sqlean's driver
    steps it to the end; Python's own ``sqlite3`` (3.11, e.g. Debian's python3) steps a
    statement without result columns once, so there each call frees one page: call it
    until this step's share is gone (or nothing more moves)."""
    free = int(db.scalar("PRAGMA freelist_count"))
    target = max(0, free - pages)
    while free > target:
        db.execute(f"PRAGMA incremental_vacuum({free - target})").fetchall()
        left = int(db.scalar("PRAGMA freelist_count"))
        if left >= free:
            break
        free = left
    return free


def snapshot(db: Database, target: Path) -> None:
    """``VACUUM INTO`` an empty file the caller created with mode 0600: a consistent copy
    of the whole database, taken online while other processes keep writing."""
    copy_into(db, target)


def truncate_wal(db: Database) -> None:
    """``PRAGMA wal_checkpoint(TRUNCATE)``: copy the whole WAL into the database and cut
    the log file to zero bytes. It waits (the connection's busy timeout) for the writer
    and then for the readers still on the log; when they outlast the wait it leaves the
    log as it is (nothing is lost: try again later)."""
    db.one("PRAGMA wal_checkpoint(TRUNCATE)")
