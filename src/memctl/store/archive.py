"""SQL for ``memctl archive`` and ``restore``: which active memories a path, glob, age or
importance names, and which archived version of a path comes back."""

from collections.abc import Sequence
from typing import Any

from memctl.models import Memory
from memctl.store.backend import backend_of
from memctl.store.columns import ARCHIVE_COLUMNS, MEMORY_COLUMNS
from memctl.store.db import Database
from memctl.store.memories import Filters, row_to_memory, where_clause
from memctl.store.rules import PATH, tenant_clause

_ARCHIVE_COLUMNS = ", ".join(ARCHIVE_COLUMNS)
_MEMORY_COLUMNS = ", ".join(MEMORY_COLUMNS)


def select_active(
    db: Database,
    filters: Filters,
    path: str | None = None,
    created_before: float | None = None,
    importance_below: float | None = None,
) -> list[Memory]:
    """Active memories matching ``filters``, an exact ``namespace/key`` path and the
    age/importance conditions, ordered by path."""
    where, params = where_clause(filters, backend_of(db).dialect)
    if path is not None:
        where += f" AND {PATH} = ?"
        params.append(path)
    if created_before is not None:
        where += " AND created_at < ?"
        params.append(created_before)
    if importance_below is not None:
        where += " AND importance < ?"
        params.append(importance_below)
    rows = db.all(
        f"""
        SELECT {_MEMORY_COLUMNS} FROM memories
        WHERE {where}
        ORDER BY namespace, key, id
        """,
        params,
    )
    return [row_to_memory(r) for r in rows]


def archived_by_id(db: Database, tenant: str | None, memory_id: int) -> Memory | None:
    params: dict[str, Any] = {"id": memory_id}
    row = db.one(
        f"""
        SELECT {_ARCHIVE_COLUMNS} FROM archive
        WHERE id = :id AND {tenant_clause(tenant, params, backend_of(db).dialect)}
        """,
        params,
    )
    return None if row is None else row_to_memory(row)


def latest_archived(
    db: Database, tenant: str | None, path: str | None, pattern: str | None
) -> list[Memory]:
    """The most recently archived version of each path: one exact ``namespace/key``
    path, or every path matching the glob ``pattern``."""
    params: dict[str, Any] = {}
    dialect = backend_of(db).dialect
    clauses = [tenant_clause(tenant, params, dialect)]
    if pattern is not None:
        clauses.append(dialect.glob(PATH, ":pattern"))
        params["pattern"] = dialect.glob_param(pattern)
    else:
        clauses.append(f"{PATH} = :path")
        params["path"] = path
    sql = f"""
        SELECT {_ARCHIVE_COLUMNS}
        FROM (
            SELECT *,
                   row_number() OVER (
                       PARTITION BY tenant, namespace, key
                       ORDER BY archived_at DESC, id DESC
                   ) AS rn
            FROM archive
            WHERE {" AND ".join(clauses)}
        )
        WHERE rn = 1
        ORDER BY namespace, key
    """
    return [row_to_memory(r) for r in db.all(sql, params)]


def active_ids_at(db: Database, paths: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    """Path -> id of active memories at the given (tenant, namespace, key) addresses."""
    out: dict[str, int] = {}
    for tenant, namespace, key in paths:
        row = db.one(
            "SELECT id FROM memories WHERE tenant = ? AND namespace = ? AND key = ?",
            (tenant, namespace, key),
        )
        if row is not None:
            out[f"{namespace}/{key}"] = int(row[0])
    return out
