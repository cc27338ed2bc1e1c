"""``IndexStats``: how fragmented a vector index and its database are, as either engine
reports it (``backend.Upkeep.index_stats``; ``lifecycle/compact.py`` decides from it)."""

from dataclasses import dataclass


@dataclass
class IndexStats:
    """SQLite: vec0 stores vectors in chunks of ``chunk_size`` slots and never reuses the
    slot of a deleted row; ``pages`` / ``free_pages`` are the file's. PostgreSQL: ``rows``
    is the vector count, no chunks (nothing to rebuild), and ``free_pages`` the dead
    rows' share of memctl's tables in pages (what ``VACUUM`` gives back)."""

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
