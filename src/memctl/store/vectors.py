"""SQLite's vectors (``backend.VectorIndex``): the float32 ``embeddings`` table, its
bit-quantized vec0 index, and the embedding backlog (``backlog``, shared by the engines).

Search is two steps in one statement: a Hamming KNN over 1-bit vectors in vec0 picks
candidates (``oversample`` times more than asked), then exact cosine distances from
the float table re-rank them (migration 3 explains the speed).

vec0 sharp edges handled here (NOTES-sqlite.md): no upsert (DELETE then INSERT), no
statement rollback (each write in a SAVEPOINT), only ``=``-style filters are pushed down
into the KNN (tenant, model, archived, exact namespace), ``k`` at most 4096.
"""

from collections.abc import Sequence
from typing import Any

from memctl.store import backlog, dialect
from memctl.store.backlog import Pending as Pending  # re-exported: backend.VectorIndex
from memctl.store.batch import chunks, marks
from memctl.store.columns import EMBEDDING_TABLE, VEC_TABLE, text_key
from memctl.store.db import Database

MAX_K = 4096
_VEC_COLUMNS = "memory_id, embedding, tenant_key, namespace_key, model_key, archived"


def pending(db: Database, model_id: str, limit: int, tenant: str | None = None) -> list[Pending]:
    """Active memories whose vector is missing or from another model (``backlog``)."""
    return backlog.pending(db, dialect, model_id, limit, tenant)


def pending_count(db: Database, model_id: str, tenant: str | None = None) -> int:
    return backlog.pending_count(db, dialect, model_id, tenant)


def pending_ids(db: Database, ids: list[int], model_id: str) -> set[int]:
    return backlog.pending_ids(db, ids, model_id)


def put(db: Database, items: list[tuple[int, str, str, str, bytes]], model_id: str) -> int:
    """Store vectors for (id, tenant, namespace, content_hash, vector) if the memory's
    content is still the one embedded. Call inside a write transaction."""
    kept = backlog.mark_embedded(db, items, model_id)
    for memory_id, tenant, namespace, _, vector in kept:
        with db.savepoint("vec_put"):  # vec0 has no upsert and no statement rollback
            db.execute(f"DELETE FROM {VEC_TABLE} WHERE memory_id = ?", (memory_id,))
            db.execute(
                f"INSERT INTO {VEC_TABLE} ({_VEC_COLUMNS}) "
                "VALUES (?, vec_quantize_binary(?), ?, ?, ?, 0)",
                (int(memory_id), vector, text_key(tenant), text_key(namespace), text_key(model_id)),
            )
            db.execute(
                f"INSERT OR REPLACE INTO {EMBEDDING_TABLE} (memory_id, model, vector) "
                "VALUES (?, ?, ?)",
                (int(memory_id), model_id, vector),
            )
    return len(kept)


def knn(
    db: Database,
    vector: bytes,
    k: int,
    model_id: str,
    tenant: str | None,
    namespace: str | None = None,
    archived: bool = False,
    oversample: int = 4,
) -> list[tuple[int, float]]:
    """Nearest memories as (id, cosine distance), best first; filters pushed into the KNN."""
    candidates = min(MAX_K, max(k * oversample, 256))
    knn_sql = (
        f"SELECT memory_id FROM {VEC_TABLE} WHERE embedding MATCH vec_quantize_binary(?) "
        "AND k = ? AND model_key = ? AND archived = ?"
    )
    params: list[Any] = [vector, vector, candidates, text_key(model_id), int(archived)]
    if tenant is not None:  # keys may collide: callers re-check against the memories table
        knn_sql += " AND tenant_key = ?"
        params.append(text_key(tenant))
    if namespace is not None:
        knn_sql += " AND namespace_key = ?"
        params.append(text_key(namespace))
    rows = db.all(
        f"SELECT memory_id, vec_distance_cosine(vector, ?) AS distance FROM {EMBEDDING_TABLE} "
        f"WHERE memory_id IN ({knn_sql}) ORDER BY distance LIMIT ?",
        [*params, k],
    )
    return [(int(row[0]), float(row[1])) for row in rows]


def load(db: Database, ids: list[int]) -> dict[int, tuple[str, bytes]]:
    """Float vectors (model id, float32 bytes) of the given memories that have one."""
    out: dict[int, tuple[str, bytes]] = {}
    for chunk in chunks(ids):
        for row in db.all(
            f"SELECT memory_id, model, vector FROM {EMBEDDING_TABLE} "
            f"WHERE memory_id IN ({marks(chunk)})",
            chunk,
        ):
            out[int(row[0])] = (str(row[1]), bytes(row[2]))
    return out


def insert_many(db: Database, items: list[tuple[int, bytes, str, str, str, int]]) -> None:
    """Vectors for new ids: (id, float32 vector, tenant, namespace, model, archived), in a
    savepoint (vec0 has no statement rollback). Callers validate the vectors."""
    if not items:
        return
    with db.savepoint("vec_insert_many"):
        db.executemany(
            f"INSERT INTO {VEC_TABLE} ({_VEC_COLUMNS}) "
            "VALUES (?, vec_quantize_binary(?), ?, ?, ?, ?)",
            [
                (i, vector, text_key(tenant), text_key(namespace), text_key(model), archived)
                for i, vector, tenant, namespace, model, archived in items
            ],
        )
        db.executemany(
            f"INSERT INTO {EMBEDDING_TABLE} (memory_id, model, vector) VALUES (?, ?, ?)",
            [(item[0], item[4], item[1]) for item in items],
        )


def drop(db: Database, ids: Sequence[int]) -> None:
    """The vectors of memories deleted or changed (at most ``batch.BATCH`` ids)."""
    if not ids:
        return
    # vec0 plans `memory_id IN (...)` as a full scan: one lookup per id
    db.executemany(f"DELETE FROM {VEC_TABLE} WHERE memory_id = ?", [(i,) for i in ids])
    db.execute(f"DELETE FROM {EMBEDDING_TABLE} WHERE memory_id IN ({marks(ids)})", list(ids))


def mark_archived(db: Database, ids: Sequence[int], archived: bool) -> None:
    """Flag the vectors of memories moved to (or back from) the archive: search skips
    archived ones unless asked. Call before the rows move: vec0 plans ``IN (...)`` as a
    full scan, so one lookup per id is ~10x faster, and before the move (which evicts
    its pages) another ~5x."""
    db.executemany(
        f"UPDATE {VEC_TABLE} SET archived = ? WHERE memory_id = ?",
        [(int(archived), i) for i in ids],
    )


def refill_index(db: Database) -> int:
    """Fill an empty vec0 table from the float vectors of active and archived memories
    (after compaction drops and recreates it). Call inside a write transaction."""
    return int(
        db.execute(
            f"INSERT INTO {VEC_TABLE} ({_VEC_COLUMNS}) "
            "SELECT e.memory_id, vec_quantize_binary(e.vector), memctl_key(m.tenant), "
            "memctl_key(m.namespace), memctl_key(e.model), m.archived "
            f"FROM {EMBEDDING_TABLE} e JOIN ("
            "SELECT id, tenant, namespace, 0 AS archived FROM memories UNION ALL "
            "SELECT id, tenant, namespace, 1 FROM archive) m ON m.id = e.memory_id "
            "ORDER BY e.memory_id"
        ).rowcount
    )


def forget_some(db: Database, tenant: str | None, limit: int) -> int:
    """Put up to ``limit`` embedded active memories of ``tenant`` (None: every tenant)
    back in the backlog, dropping their vectors; 0 when none is left (reindex --all).
    Call inside a write transaction."""
    ids = backlog.unmark_some(db, dialect, tenant, limit)
    if ids:
        with db.savepoint("vec_forget"):
            drop(db, ids)
    return len(ids)
