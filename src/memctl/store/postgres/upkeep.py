"""PostgreSQL's upkeep (``backend.Upkeep``): ids from the ``memories`` identity sequence,
``VACUUM ANALYZE`` for compaction, no snapshot (a server's database is backed up with
``pg_dump``).

Writers on PostgreSQL wait for row locks, not for a database-wide lock, so a lifecycle
batch does not hold them up the way it holds up SQLite's writers: ``commit_watcher``
never reports others (``lifecycle.batching`` then pauses its short idle share), and
there is no page cache to size per connection.
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from memctl.errors import BadInput
from memctl.store.batch import chunks
from memctl.store.columns import MEMORY_COLUMNS
from memctl.store.index_stats import IndexStats

if TYPE_CHECKING:
    from memctl.store.db import Database

# pg_try_advisory_lock(DAEMON_LOCK, hashtext(current_schema())): one daemon per store
DAEMON_LOCK = 0x6D656D64  # "memd"
# memctl's tables that hold a store's data (statistics, VACUUM, and the migrations'
# "does this hub hold data" check): one list, so a new table joins all three
TABLES = (
    "memories",
    "archive",
    "embeddings",
    "keywords",
    "lifecycle_log",
    "snapshots",
    "events",
    "tokens",
)
PAGE = 8192
MOVE_IDS = 5000  # ids per moving statement (one array parameter)
_COLUMNS = ", ".join(MEMORY_COLUMNS)


def bulk_session(db: "Database") -> None:
    """Nothing to set: the server's settings are the DBA's."""


def commit_watcher(db: "Database") -> Callable[[], bool]:
    return lambda: False


def import_cache(db: "Database") -> AbstractContextManager[None]:
    return nullcontext()


def new_ids(db: "Database", count: int) -> list[int]:
    """From the identity sequence of ``memories``, which every store also takes
    from: unique across machines without any lock."""
    if count <= 0:
        return []
    rows = db.all(
        "SELECT nextval(pg_get_serial_sequence('memories', 'id')) FROM generate_series(1, ?)",
        (count,),
    )
    return [int(row[0]) for row in rows]


def archive_rows(db: "Database", ids: Sequence[int], reason: str, now: float) -> int:
    """Move memories to the archive with ``reason`` (``moves.archive``): one statement
    per ``MOVE_IDS`` ids deletes the rows and inserts what the delete returned. The
    delete locks each row, and under READ COMMITTED returns the version a concurrent
    writer committed, so no write is lost and no lock is taken beforehand. Measured at
    1M memories, 100k expired, 4 writers storing (load 3-5): lock, copy and delete in
    statements of 500 ids took 2.4 s of server time, this 1.8 s; the client's CPU for
    the whole cleanup went from 2.3 s to 1.0 s. Returns the count."""
    moved = 0
    for chunk in chunks(list(ids), MOVE_IDS):
        moved += db.execute(
            f"WITH moved AS (DELETE FROM memories WHERE id = ANY(?) RETURNING {_COLUMNS}) "
            f"INSERT INTO archive ({_COLUMNS}, archived_at, archive_reason) "
            f"SELECT {_COLUMNS}, ?, ? FROM moved",
            [list(chunk), now, reason],
        ).rowcount
    return moved


def restore_rows(db: "Database", expiry: dict[int, float | None]) -> int:
    """Move archived memories back with their own id and every field, ``expires_at``
    per id (``moves.restore``): as ``archive_rows``, one statement per ``MOVE_IDS``
    ids, the new expiries joined in as a second array. (Copy, then an UPDATE per id,
    then delete took 30-65 s for 100k at 1M under load; every UPDATE of an indexed
    column writes a new row version into each index.) Returns the count."""
    chosen = ", ".join(
        "e.expires_at" if c == "expires_at" else f"moved.{c}" for c in MEMORY_COLUMNS
    )
    moved = 0
    for chunk in chunks(list(expiry), MOVE_IDS):
        moved += db.execute(
            f"WITH moved AS (DELETE FROM archive WHERE id = ANY(?) RETURNING {_COLUMNS}) "
            f"INSERT INTO memories ({_COLUMNS}) SELECT {chosen} FROM moved "
            "JOIN unnest(?::bigint[], ?::double precision[]) AS e(id, expires_at) "
            "ON e.id = moved.id",
            [chunk, chunk, [expiry[i] for i in chunk]],
        ).rowcount
    return moved


def index_stats(db: "Database") -> IndexStats:
    """Vector count; pages of memctl's tables and the dead rows' share of them (what
    ``VACUUM`` gives back), from the statistics collector."""
    marks = ", ".join(f"'{t}'" for t in TABLES)
    row = db.one(
        "SELECT coalesce(sum(pg_total_relation_size(relid)), 0), "
        "coalesce(sum(n_live_tup), 0), coalesce(sum(n_dead_tup), 0) "
        f"FROM pg_stat_user_tables WHERE relname IN ({marks}) "
        "AND schemaname = current_schema()"
    )
    size, live, dead = int(row[0]), int(row[1]), int(row[2])
    pages = size // PAGE
    return IndexStats(
        rows=int(db.scalar("SELECT count(*) FROM embeddings")),
        chunks=0,
        chunk_size=1,
        page_size=PAGE,
        pages=pages,
        free_pages=int(pages * dead / (live + dead)) if live + dead else 0,
    )


def rebuild_index(db: "Database") -> int:
    """Rebuild the HNSW graph (only with ``compact --force``: PostgreSQL reuses the space
    of deleted entries). ``CONCURRENTLY``: a hub's searches and writes go on while it
    runs (minutes per 100k vectors; building a 1M graph took 27 minutes on 2 quiet cores
    with ``maintenance_work_mem`` 4 GB, the server's setting), and the copy
    keeps the index's options (``ef_construction`` 400 since step p006, which is what
    a rebuild after that step is for). A rebuild cut off (a kill, the lock timeout
    while older transactions finish) leaves an invalid copy named ``..._ccnew``: the
    next one drops it first. Runs outside a transaction, as REINDEX CONCURRENTLY must."""
    db.execute("DROP INDEX IF EXISTS ix_embeddings_hnsw_ccnew")
    db.execute("REINDEX INDEX CONCURRENTLY ix_embeddings_hnsw")
    return int(db.scalar("SELECT count(*) FROM embeddings"))


def vacuum(db: "Database") -> bool:
    """``VACUUM (ANALYZE)`` memctl's tables (autovacuum usually has; it also
    refreshes the statistics the planner and the keyword scores use). Never a full
    rewrite: PostgreSQL reuses the space in place."""
    db.execute(f"VACUUM (ANALYZE) {', '.join(TABLES)}")
    return False


def snapshot(db: "Database", target: Path) -> None:
    raise BadInput("a PostgreSQL database cannot be copied into a SQLite file")


def try_daemon_lock(db: "Database", holder: str) -> str | None:
    """Take the store's daemon lock for this session (released when the connection
    closes, however the process ends): None when taken, else the holder's ``holder``
    text. Ours goes in this session's ``application_name``, where others read it: set
    before the lock is tried, so a holder always has its name (set after, a run that
    looked in between read a nameless holder as a daemon and exited 3, seen at load 38).
    A holder that let go between the try and the look (no row) reads as a ``--once``
    run, so a waiting run tries again rather than giving up."""
    db.execute("SELECT set_config('application_name', ?, false)", (holder[:63],))
    got = db.scalar("SELECT pg_try_advisory_lock(?, hashtext(current_schema()))", (DAEMON_LOCK,))
    if got:
        return None
    row = db.one(
        "SELECT a.application_name FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
        "AND l.classid = ? AND l.objid = hashtext(current_schema())::oid AND l.granted",
        (DAEMON_LOCK,),
    )
    return str(row[0]) if row is not None and row[0] else "memctl once ? ?"


def release_daemon_lock(db: "Database") -> None:
    db.scalar("SELECT pg_advisory_unlock(?, hashtext(current_schema()))", (DAEMON_LOCK,))
