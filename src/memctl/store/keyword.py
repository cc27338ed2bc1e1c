"""Keyword search, SQLite's implementation (FTS5, bm25): the index rows of memories and
the ranked search over them. The only module that knows the FTS5 table; its functions
are ``backend.KeywordIndex``."""

from collections.abc import Sequence
from typing import Any

from memctl.store import dialect
from memctl.store.batch import marks
from memctl.store.columns import FTS_TABLE
from memctl.store.db import Database
from memctl.store.filters import Filters, where_clause


def add(db: Database, items: Sequence[tuple[int, str]]) -> None:
    """Index rows for new memories: (memory id, search text)."""
    if items:
        db.executemany(f"INSERT INTO {FTS_TABLE} (rowid, text) VALUES (?, ?)", items)


def replace(db: Database, memory_id: int, text: str) -> None:
    """A memory's new search text (FTS5 has no upsert: delete, then insert)."""
    db.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = ?", (memory_id,))
    db.execute(f"INSERT INTO {FTS_TABLE} (rowid, text) VALUES (?, ?)", (memory_id, text))


def drop(db: Database, ids: Sequence[int]) -> None:
    """The index rows of memories deleted for good (at most ``batch.BATCH`` ids)."""
    if ids:
        db.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks(ids)})", list(ids))


def keyword_search(
    db: Database, match: str, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """(id, bm25) best first; bm25 is negative, lower is better. ``match`` is an FTS5
    query built from quoted tokens, never raw user text.

    The FTS top ``4 * limit`` is ranked without touching the memories table and then
    filtered by rowid (a join costs a lookup for every matching row: 65 ms against 38 ms
    for 50k matches at 100k memories). When the filters leave too few, the join ranks
    only the memories that pass them.
    """
    fetched = db.all(
        f"SELECT rowid, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? "
        "ORDER BY rank LIMIT ?",
        [match, limit * 4],
    )
    allowed = filter_ids(db, [int(row[0]) for row in fetched], filters)
    hits = [(int(row[0]), float(row[1])) for row in fetched if row[0] in allowed][:limit]
    if len(hits) == limit or len(fetched) < limit * 4:
        return hits
    table = "archive" if filters.archived else "memories"
    where, params = where_clause(filters, dialect, alias="m")
    rows: list[Any] = db.all(
        f"SELECT m.id, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "
        f"JOIN {table} m NOT INDEXED ON m.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH ? AND {where} ORDER BY rank LIMIT ?",
        [match, *params, limit],
    )
    return [(int(row[0]), float(row[1])) for row in rows]


def filter_ids(db: Database, ids: list[int], filters: Filters) -> set[int]:
    """The subset of ``ids`` that satisfy ``filters`` (rowid lookups: NOT INDEXED keeps
    the planner from scanning a tenant index instead, 8 ms against 0.05 ms for 60 ids)."""
    if not ids:
        return set()
    table = "archive" if filters.archived else "memories"
    where, params = where_clause(filters, dialect)
    marks = ",".join("?" * len(ids))
    rows = db.all(
        f"SELECT id FROM {table} NOT INDEXED WHERE id IN ({marks}) AND {where}", [*ids, *params]
    )
    return {row[0] for row in rows}


def indexed_count(db: Database) -> int:
    """How many rows the FTS5 index holds (the N of its bm25): counted in its docsize
    table, 0.1 ms at 100k where ``count(*)`` on the index itself takes 16 ms."""
    return int(db.scalar(f"SELECT count(*) FROM {FTS_TABLE}_docsize"))
