"""Compaction's view of the store: how fragmented the vector index and the database are,
rebuilding the index, giving deleted rows' space back; the engine does each
(``backend.Upkeep``: ``upkeep.py`` for SQLite's vec0, ``postgres/upkeep.py``)."""

from memctl.store.backend import backend_of
from memctl.store.db import Database
from memctl.store.index_stats import IndexStats

VecStats = IndexStats  # the name lifecycle/compact.py knows it by


def vec_stats(db: Database) -> IndexStats:
    return backend_of(db).upkeep.index_stats(db)


def rebuild_vectors(db: Database) -> int:
    """Rebuild the vector index with only its live rows (one write transaction); how many
    vectors it holds."""
    return backend_of(db).upkeep.rebuild_index(db)


def vacuum(db: Database) -> bool:
    """Give the free space back; True if it took one full rewrite (SQLite: the switch to
    incremental vacuum, ``upkeep.vacuum``)."""
    return backend_of(db).upkeep.vacuum(db)
