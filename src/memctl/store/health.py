"""Read-only health checks of a database, for ``memctl doctor``: SQLite's own check and
whether the keyword and vector indexes agree with the memories they index."""

from dataclasses import dataclass

from memctl.store.columns import EMBEDDING_TABLE, FTS_TABLE, VEC_TABLE
from memctl.store.db import Database


def quick_check(db: Database) -> list[str]:
    """``PRAGMA quick_check``: ``["ok"]`` for a sound file, else what is wrong (at most
    10 lines). quick_check skips the index-content comparison of integrity_check, which
    is what makes the full one minutes long on a large file; the index agreement memctl
    cares about is checked by ``index_counts``."""
    return [str(row[0]) for row in db.all("PRAGMA quick_check(10)")]


@dataclass(frozen=True)
class IndexCounts:
    active: int
    archived: int
    keyword: int  # rows of the FTS5 index: one per active or archived memory
    vectors: int  # float vectors (embeddings table)
    index: int  # rows of the vec0 index: one per float vector
    orphans: int  # float vectors whose memory is gone

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

    with db.read():
        return IndexCounts(
            active=one("SELECT count(*) FROM memories"),
            archived=one("SELECT count(*) FROM archive"),
            keyword=one(f"SELECT count(*) FROM {FTS_TABLE}"),
            vectors=one(f"SELECT count(*) FROM {EMBEDDING_TABLE}"),
            index=one(f"SELECT count(*) FROM {VEC_TABLE}"),
            orphans=one(
                f"SELECT count(*) FROM {EMBEDDING_TABLE} e WHERE NOT EXISTS "
                "(SELECT 1 FROM memories m WHERE m.id = e.memory_id) AND NOT EXISTS "
                "(SELECT 1 FROM archive a WHERE a.id = e.memory_id)"
            ),
        )
