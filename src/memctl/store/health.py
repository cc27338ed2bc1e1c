"""Read-only health checks of a database, for ``memctl doctor``: the engine's own check
and whether the keyword and vector indexes agree with the memories they index (SQLite
or PostgreSQL)."""

from dataclasses import dataclass
from pathlib import Path

from memctl.paths import Location
from memctl.store.backend import backend_of
from memctl.store.columns import EMBEDDING_TABLE, FTS_TABLE, VEC_TABLE
from memctl.store.db import Database
from memctl.store.migrations.runner import Status


def quick_check(db: Database) -> list[str]:
    """``PRAGMA quick_check``: ``["ok"]`` for a sound file, else what is wrong (at most
    10 lines). quick_check skips the index-content comparison of integrity_check, which
    is what makes the full one minutes long on a large file; the index agreement memctl
    cares about is checked by ``index_counts``. PostgreSQL: the server checks its own
    files; here, that pgvector is there and recent enough (``["ok"]``), else why not."""
    if db.engine == "postgresql":
        from memctl.errors import StorageError
        from memctl.store.postgres.pgvector import check_pgvector

        try:
            check_pgvector(db)
        except StorageError as exc:
            return [str(exc)]
        return ["ok"]
    return [str(row[0]) for row in db.all("PRAGMA quick_check(10)")]


@dataclass(frozen=True)
class IndexCounts:
    active: int
    archived: int
    keyword: int  # keyword-index rows (FTS5, or keywords): one per active or archived memory
    vectors: int  # float vectors (embeddings table)
    index: int  # rows of the vec0 index: one per float vector (PostgreSQL: the same rows)
    orphans: int  # float vectors whose memory is gone
    waiting: int = 0  # PostgreSQL: vectors written in bulk, not yet in the HNSW graph

    @property
    def agree(self) -> bool:
        return (
            self.keyword == self.active + self.archived
            and self.index == self.vectors
            and self.orphans == 0
        )


def index_counts(db: Database) -> IndexCounts:
    """The counts ``agree`` compares, in one read transaction."""

    def one(sql: str) -> int:
        row = db.one(sql)
        return int(row[0]) if row is not None else 0

    postgres = db.engine == "postgresql"
    with db.read():
        vectors = one(f"SELECT count(*) FROM {EMBEDDING_TABLE}")
        return IndexCounts(
            active=one("SELECT count(*) FROM memories"),
            archived=one("SELECT count(*) FROM archive"),
            keyword=one(f"SELECT count(*) FROM {'keywords' if postgres else FTS_TABLE}"),
            vectors=vectors,
            # every row is in the HNSW graph or waiting to go in (a CHECK: one of the
            # two columns set, step p005): nothing to compare
            index=vectors if postgres else one(f"SELECT count(*) FROM {VEC_TABLE}"),
            waiting=backend_of(db).vectors.waiting_count(db),
            orphans=one(
                f"SELECT count(*) FROM {EMBEDDING_TABLE} e WHERE NOT EXISTS "
                "(SELECT 1 FROM memories m WHERE m.id = e.memory_id) AND NOT EXISTS "
                "(SELECT 1 FROM archive a WHERE a.id = e.memory_id)"
            ),
        )


@dataclass(frozen=True)
class Examined:
    """What ``memctl doctor`` reports about a database (``examine``)."""

    status: Status
    problems: list[str]  # ``quick_check``: ["ok"] when sound
    counts: IndexCounts | None  # None while migrations are pending (or newer)
    size: int  # bytes: the file, or memctl's tables on a server


def examine(location: Location) -> Examined | None:
    """Read a database's health without changing it: a SQLite file, or a PostgreSQL
    database (None when there is no file, or the server's database has no memctl tables).
    Errors (cannot connect, not memctl's, ...) raise ``StorageError``."""
    from memctl.store.opening import open_database, schema_status

    if isinstance(location, Path) and not location.is_file():
        return None
    status = schema_status(location)
    if status.current == 0 and not isinstance(location, Path):
        return None
    db = open_database(location, create=False, migrate=False)
    try:
        problems = quick_check(db)
        counts = index_counts(db) if not status.pending and not status.newer else None
        size = int(db.describe()["size_bytes"])
    finally:
        db.close()
    return Examined(status, problems, counts, size)
