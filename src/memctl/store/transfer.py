"""SQL for export and import: streaming reads in id order, bulk inserts with explicit
ids, and consistent online snapshots of a SQLite database (``VACUUM INTO``).

Ids stay unique across ``memories`` and ``archive``: import takes them from the engine
(``Upkeep.new_ids``: SQLite one past the largest id ever used, with ``sqlite_sequence``
moved past them; PostgreSQL the id sequence), so a whole batch, archived rows included,
goes in with one bulk insert (``Database.insert_rows``: PostgreSQL's ``COPY``).
"""

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from memctl.errors import BadInput
from memctl.models import Memory
from memctl.store.backend import backend_of
from memctl.store.columns import (
    ARCHIVE_COLUMNS,
    EMBEDDING_DIM,
    MEMORY_COLUMNS,
)
from memctl.store.db import Database, connect
from memctl.store.memories import Filters, encode, row_to_memory, where_clause

EXPORT_BATCH = 500
VECTOR_BYTES = EMBEDDING_DIM * 4

Path3 = tuple[str, str, str]


# ---------------------------------------------------------------- export


def _where(db: Database, filters: Filters, since: float | None) -> tuple[str, list[Any]]:
    where, params = where_clause(filters, backend_of(db).dialect)
    if since is not None:
        where += " AND updated_at >= ?"
        params.append(since)
    return where, params


def _table(filters: Filters) -> tuple[str, str]:
    if filters.archived:
        return "archive", ", ".join(ARCHIVE_COLUMNS)
    return "memories", ", ".join(MEMORY_COLUMNS)


def count_rows(db: Database, filters: Filters, since: float | None) -> int:
    table, _ = _table(filters)
    where, params = _where(db, filters, since)
    return int(db.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params))


def tenants(db: Database, filters: Filters, since: float | None) -> set[str]:
    table, _ = _table(filters)
    where, params = _where(db, filters, since)
    rows = db.all(f"SELECT DISTINCT tenant FROM {table} WHERE {where}", params)
    return {str(row[0]) for row in rows}


def iter_rows(
    db: Database, filters: Filters, since: float | None, with_vectors: bool
) -> Iterator[tuple[Memory, bytes | None]]:
    """Memories matching ``filters`` in id order, ``EXPORT_BATCH`` rows per query (keyset
    pagination: memory use does not grow with the table), with their vectors if asked."""
    table, cols = _table(filters)
    where, params = _where(db, filters, since)
    # NOT INDEXED (SQLite): walk the rowid range; with the (tenant, ...) indexes the
    # planner would re-sort the whole tenant for every batch (quadratic: 28 s instead of
    # ~3 s at 100k).
    sql = (
        f"SELECT {cols} FROM {table}{backend_of(db).dialect.NOT_INDEXED} WHERE {where} "
        "AND id > ? ORDER BY id LIMIT ?"
    )
    last = -1
    while True:
        rows = db.all(sql, [*params, last, EXPORT_BATCH])
        if not rows:
            return
        last = int(rows[-1]["id"])
        vectors = vectors_of(db, [int(row["id"]) for row in rows]) if with_vectors else {}
        for row in rows:
            memory = row_to_memory(row)
            yield memory, vectors.get(memory.id)


def vectors_of(db: Database, ids: Sequence[int]) -> dict[int, bytes]:
    """Float32 vectors by memory id (from the plain ``embeddings`` table)."""
    loaded = backend_of(db).vectors.load(db, list(ids))
    return {memory_id: vector for memory_id, (_, vector) in loaded.items()}


# ---------------------------------------------------------------- snapshot


def snapshot(db: Database, target: Path) -> None:
    """A consistent copy of the whole database into ``target`` (an empty file the caller
    created with mode 0600), taken online while other processes keep writing. SQLite
    only: a PostgreSQL database is refused (exit 2) with what to do instead."""
    if db.engine != "sqlite":
        raise BadInput(
            "--format sqlite copies a SQLite database file; this database is on a "
            "PostgreSQL server: export JSON Lines instead (memctl export -o FILE.jsonl.gz "
            "--all-tenants --include-archived --include-expired --include-embeddings), "
            "and `memctl import` it into a SQLite file (--db FILE.db --all-tenants), "
            "or back the server up with pg_dump"
        )
    backend_of(db).upkeep.snapshot(db, target)


def snapshot_file(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite file ``source`` into a new file ``target`` (mode
    0600); nothing if ``source`` does not exist (``doctor`` times hooks on the copy,
    which they create then, as they would the real file)."""
    if not source.is_file():
        return
    from memctl.store.opening import open_database

    db = open_database(source, create=False, migrate=False)
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        snapshot(db, target)
    finally:
        db.close()


def snapshot_tenants(path: Path) -> set[str]:
    """Tenants present in a snapshot file (active and archived)."""
    snap = connect(path)
    try:
        rows = snap.all("SELECT tenant FROM memories UNION SELECT tenant FROM archive")
        return {str(row[0]) for row in rows}
    finally:
        snap.close()


def snapshot_counts(path: Path) -> dict[str, int]:
    snap = connect(path)
    try:
        return {
            "memories": int(snap.scalar("SELECT count(*) FROM memories")),
            "archived": int(snap.scalar("SELECT count(*) FROM archive")),
        }
    finally:
        snap.close()


# ---------------------------------------------------------------- import


def _path_params(paths: Sequence[Path3]) -> tuple[str, list[str]]:
    values = ",".join("(?,?,?)" for _ in paths)
    return values, [part for path in paths for part in path]


def find_live(db: Database, paths: Sequence[Path3]) -> dict[Path3, Memory]:
    """Active memories at these (tenant, namespace, key) paths, in one query, locked
    until the import commits (PostgreSQL: no concurrent store changes them meanwhile)."""
    if not paths:
        return {}
    values, params = _path_params(paths)
    lock = backend_of(db).dialect.FOR_UPDATE
    rows = db.all(
        f"SELECT {', '.join(MEMORY_COLUMNS)} FROM memories "
        f"WHERE (tenant, namespace, key) IN (VALUES {values}) ORDER BY id{lock}",
        params,
    )
    return {(row["tenant"], row["namespace"], row["key"]): row_to_memory(row) for row in rows}


def find_archived(db: Database, paths: Sequence[Path3]) -> dict[Path3, list[tuple[int, float]]]:
    """(id, archived_at) of archived memories at these paths."""
    if not paths:
        return {}
    values, params = _path_params(paths)
    rows = db.all(
        "SELECT id, tenant, namespace, key, archived_at FROM archive "
        f"WHERE (tenant, namespace, key) IN (VALUES {values})",
        params,
    )
    found: dict[Path3, list[tuple[int, float]]] = {}
    for row in rows:
        path = (row["tenant"], row["namespace"], row["key"])
        found.setdefault(path, []).append((int(row["id"]), float(row["archived_at"])))
    return found


def new_ids(db: Database, count: int) -> list[int]:
    """``count`` ids never used by any memory, active or archived (inside the write)."""
    return backend_of(db).upkeep.new_ids(db, count)


def insert_rows(db: Database, rows: Sequence[dict[str, Any]], archived: bool) -> None:
    """Insert full rows (explicit ``id``; fields as Python values, see
    ``memories.encode``) into ``memories`` or ``archive``."""
    if not rows:
        return
    columns = ARCHIVE_COLUMNS if archived else MEMORY_COLUMNS
    table = "archive" if archived else "memories"
    db.insert_rows(table, columns, [[row[name] for name in columns] for row in map(encode, rows)])


def insert_texts(db: Database, items: Sequence[tuple[int, str]]) -> None:
    """Keyword-index rows (rowid = memory id)."""
    backend_of(db).keywords.add(db, items)


def insert_vectors(db: Database, items: Sequence[tuple[int, bytes, str, str, str, int]]) -> None:
    """Vectors (id, float32 vector, tenant, namespace, model, archived) for new ids;
    validated by the caller."""
    backend_of(db).vectors.insert_many(db, list(items))


def import_cache(db: Database) -> AbstractContextManager[None]:
    """Engine settings for one bulk write (SQLite: a larger page cache)."""
    return backend_of(db).upkeep.import_cache(db)
