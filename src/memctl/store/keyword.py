"""SQL for FTS5 keyword search."""

from typing import Any

from memctl.store.columns import FTS_TABLE
from memctl.store.db import Database
from memctl.store.memories import Filters, where_clause


def keyword_search(
    db: Database, match: str, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """(id, bm25) best first; bm25 is negative, lower is better. ``match`` is an FTS5
    query built from quoted tokens, never raw user text."""
    table = "archive" if filters.archived else "memories"
    where, params = where_clause(filters, alias="m")
    sql = (
        f"SELECT m.id, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "
        f"JOIN {table} m ON m.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH ? AND {where} ORDER BY rank LIMIT ?"
    )
    rows: list[Any] = db.all(sql, [match, *params, limit])
    return [(int(row[0]), float(row[1])) for row in rows]


def filter_ids(db: Database, ids: list[int], filters: Filters) -> set[int]:
    """The subset of ``ids`` that satisfy ``filters`` (for vector candidates)."""
    if not ids:
        return set()
    table = "archive" if filters.archived else "memories"
    where, params = where_clause(filters)
    marks = ",".join("?" * len(ids))
    rows = db.all(f"SELECT id FROM {table} WHERE id IN ({marks}) AND {where}", [*ids, *params])
    return {row[0] for row in rows}
