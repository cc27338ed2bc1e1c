"""SQL for export and import: streaming reads in id order, bulk inserts with explicit
ids, and consistent online snapshots (``VACUUM INTO``).

Ids stay unique across ``memories`` and ``archive``: import allocates them itself (one
past the largest id ever used) so a whole batch, archived rows included, goes in with
``executemany``, and ``sqlite_sequence`` is moved past the last id it handed out.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
IMPORT_CACHE_KIB = 16 * 1024
VECTOR_BYTES = EMBEDDING_DIM * 4

Path3 = tuple[str, str, str]


# ---------------------------------------------------------------- export


def _where(filters: Filters, since: float | None) -> tuple[str, list[Any]]:
    where, params = where_clause(filters)
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
    where, params = _where(filters, since)
    return int(db.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params))


def tenants(db: Database, filters: Filters, since: float | None) -> set[str]:
    table, _ = _table(filters)
    where, params = _where(filters, since)
    rows = db.all(f"SELECT DISTINCT tenant FROM {table} WHERE {where}", params)
    return {str(row[0]) for row in rows}


def iter_rows(
    db: Database, filters: Filters, since: float | None, with_vectors: bool
) -> Iterator[tuple[Memory, bytes | None]]:
    """Memories matching ``filters`` in id order, ``EXPORT_BATCH`` rows per query (keyset
    pagination: memory use does not grow with the table), with their vectors if asked."""
    table, cols = _table(filters)
    where, params = _where(filters, since)
    # NOT INDEXED: walk the rowid range; with the (tenant, ...) indexes the planner would
    # re-sort the whole tenant for every batch (quadratic: 28 s instead of ~3 s at 100k).
    sql = f"SELECT {cols} FROM {table} NOT INDEXED WHERE {where} AND id > ? ORDER BY id LIMIT ?"
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
    created with mode 0600), taken online while other processes keep writing."""
    db.execute("VACUUM INTO ?", (str(target),))


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
    """Active memories at these (tenant, namespace, key) paths, in one query."""
    if not paths:
        return {}
    values, params = _path_params(paths)
    rows = db.all(
        f"SELECT {', '.join(MEMORY_COLUMNS)} FROM memories "
        f"WHERE (tenant, namespace, key) IN (VALUES {values})",
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


def next_id(db: Database) -> int:
    """One past the largest memory id ever handed out (call inside the write)."""
    used = db.scalar(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'memories'), 0), "
        "coalesce((SELECT max(id) FROM memories), 0), coalesce((SELECT max(id) FROM archive), 0))"
    )
    return int(used or 0) + 1


def reserve_ids(db: Database, last_id: int) -> None:
    """Make AUTOINCREMENT continue after ``last_id`` (ids given to archived rows too)."""
    moved = db.execute(
        "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'memories'", (last_id,)
    ).rowcount
    if not moved:
        db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('memories', ?)", (last_id,))


def insert_rows(db: Database, rows: Sequence[dict[str, Any]], archived: bool) -> None:
    """Insert full rows (explicit ``id``; fields as Python values, see
    ``memories.encode``) into ``memories`` or ``archive``."""
    if not rows:
        return
    columns = ARCHIVE_COLUMNS if archived else MEMORY_COLUMNS
    table = "archive" if archived else "memories"
    db.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [[encoded[name] for name in columns] for encoded in map(encode, rows)],
    )


def insert_texts(db: Database, items: Sequence[tuple[int, str]]) -> None:
    """Keyword-index rows (rowid = memory id)."""
    backend_of(db).keywords.add(db, items)


def insert_vectors(db: Database, items: Sequence[tuple[int, bytes, str, str, str, int]]) -> None:
    """Vectors (id, float32 vector, tenant, namespace, model, archived) for new ids;
    validated by the caller."""
    backend_of(db).vectors.insert_many(db, list(items))


@contextmanager
def import_cache(db: Database, kib: int = IMPORT_CACHE_KIB) -> Iterator[None]:
    """A larger page cache for one bulk write. With the default 2 MB, vec0's 1.5 MB chunk
    blobs are evicted by the other tables' pages between inserts: 100k vectors took 20 s
    instead of 5 s. The cache is bounded, so memory still does not grow with the file."""
    previous = int(db.scalar("PRAGMA cache_size"))
    db.execute(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    finally:
        db.execute(f"PRAGMA cache_size = {previous}")
