"""SQL for memories: read, write and select them, with their keyword-index rows (moves
between the tables are in ``moves``; "which memories" is ``filters``).
"""

import gzip
from collections.abc import Sequence
from typing import Any

import orjson

from memctl.models import Memory
from memctl.store.backend import backend_of
from memctl.store.batch import chunks, marks
from memctl.store.columns import (
    ARCHIVE_COLUMNS,
    MEMORY_COLUMNS,
    MEMORY_FIELDS,
)
from memctl.store.db import Database
from memctl.store.filters import Filters, where_clause

_SELECT = ", ".join(MEMORY_COLUMNS)
_SELECT_ARCHIVE = ", ".join(ARCHIVE_COLUMNS)


def decode_value(blob: bytes, compressed: bool) -> Any:
    return orjson.loads(gzip.decompress(blob) if compressed else blob)


def row_to_memory(row: Any) -> Memory:
    """A ``memories`` or ``archive`` row (``MEMORY_COLUMNS`` or ``ARCHIVE_COLUMNS``) as a
    ``Memory``: the JSON columns decoded, the value unpacked."""
    values = dict(zip(row.keys(), row, strict=True))
    del values["content_hash"]  # storage only: what the vector was computed from
    compressed = values["compressed"] = bool(values["compressed"])
    values["value"] = decode_value(values["value"], compressed)
    values["tags"] = orjson.loads(values["tags"])
    values["metadata"] = orjson.loads(values["metadata"])
    conflicts = values["conflicts"]
    values["conflicts"] = orjson.loads(conflicts) if conflicts else []
    return Memory(**values)


def encode(values: dict[str, Any]) -> dict[str, Any]:
    """Memory fields as Python values (``tags`` a list, ``compressed`` a bool, ...) to
    column values; fields not given are left out. The inverse of ``row_to_memory``."""
    out = dict(values)
    for name in ("tags", "metadata"):
        if name in out:
            out[name] = orjson.dumps(out[name]).decode()
    if "conflicts" in out:
        out["conflicts"] = orjson.dumps(out["conflicts"]).decode() if out["conflicts"] else None
    if "compressed" in out:
        out["compressed"] = int(out["compressed"])
    return out


def get(db: Database, tenant: str, namespace: str, key: str, lock: bool = False) -> Memory | None:
    """The active memory at a path. ``lock`` (inside a write that will change it): lock
    its row so that no other writer changes it first (PostgreSQL; SQLite's write
    transaction excludes other writers anyway)."""
    row = db.one(
        f"SELECT {_SELECT} FROM memories WHERE tenant = ? AND namespace = ? AND key = ?"
        f"{backend_of(db).dialect.FOR_UPDATE if lock else ''}",
        (tenant, namespace, key),
    )
    return None if row is None else row_to_memory(row)


def get_many(db: Database, ids: Sequence[int], archived: bool = False) -> dict[int, Memory]:
    """Memories by id (active or archived), in one query per batch."""
    table, cols = ("archive", _SELECT_ARCHIVE) if archived else ("memories", _SELECT)
    out: dict[int, Memory] = {}
    for chunk in chunks(ids):
        for row in db.all(f"SELECT {cols} FROM {table} WHERE id IN ({marks(chunk)})", chunk):
            out[row["id"]] = row_to_memory(row)
    return out


def insert(db: Database, values: dict[str, Any], text: str) -> int | None:
    """Insert a memory (its fields as Python values, see ``encode``) and its keyword-index
    row; returns the new id, or None when another writer created a memory at the same
    path first (``ON CONFLICT DO NOTHING``: on PostgreSQL writers do not exclude each
    other; the caller reads the path again, locked, and resolves the conflict)."""
    fields = encode(values)
    names = [name for name in MEMORY_FIELDS if name in fields]
    row = db.one(
        f"INSERT INTO memories ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        "ON CONFLICT (tenant, namespace, key) DO NOTHING RETURNING id",
        [fields[name] for name in names],
    )
    if row is None:
        return None
    memory_id = int(row[0])
    backend_of(db).keywords.add(db, [(memory_id, text)])
    return memory_id


def update(db: Database, memory_id: int, values: dict[str, Any], text: str | None) -> None:
    """Update a memory (the given fields, as Python values); a new ``text`` replaces its
    keyword row and drops its vector (the memory rejoins the embedding backlog)."""
    fields = encode(values)
    if fields:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        db.execute(f"UPDATE memories SET {assignments} WHERE id = ?", [*fields.values(), memory_id])
    if text is not None:
        engine = backend_of(db)
        engine.keywords.replace(db, memory_id, text)
        engine.vectors.drop(db, [memory_id])


def record_access(db: Database, memory_id: int, now: float, boost: float) -> None:
    db.execute(
        "UPDATE memories SET access_count = access_count + 1, accessed_at = ?, "
        f"importance = {backend_of(db).dialect.least('10.0', 'importance + ?')} WHERE id = ?",
        (now, boost, memory_id),
    )


SORTS = {
    "updated": "updated_at DESC",
    "created": "created_at DESC",
    "importance": "importance DESC",
    "accessed": "accessed_at DESC",
    "access_count": "access_count DESC",
    "path": "namespace, key",
    "archived": "archived_at DESC",
}


def select(
    db: Database, filters: Filters, sort: str = "updated", limit: int | None = None
) -> list[Memory]:
    where, params = where_clause(filters, backend_of(db).dialect)
    table, cols = ("archive", _SELECT_ARCHIVE) if filters.archived else ("memories", _SELECT)
    sql = f"SELECT {cols} FROM {table} WHERE {where} ORDER BY {SORTS[sort]}, id"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [row_to_memory(row) for row in db.all(sql, params)]


def count(db: Database, filters: Filters) -> int:
    where, params = where_clause(filters, backend_of(db).dialect)
    table = "archive" if filters.archived else "memories"
    return int(db.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params))


def content_hash_of(db: Database, memory_id: int) -> str | None:
    value = db.scalar("SELECT content_hash FROM memories WHERE id = ?", (memory_id,))
    return None if value is None else str(value)


__all__ = ["SORTS", "Filters", "where_clause"]  # re-exported: the usual import
