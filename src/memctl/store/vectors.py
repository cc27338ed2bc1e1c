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
    """Nearest memories as (id, cosine distance), best first (ties by id).

    Candidates: the ``max(k * oversample, 256)`` (at most ``MAX_K``) nearest by Hamming
    distance between 1-bit vectors that pass the filters, ties by id; then exact cosine
    distances from the float table re-rank them. The candidates come from
    ``_hamming_candidates`` (vec0's chunks read directly), or from vec0's own KNN where
    the chunks are not laid out as expected."""
    candidates = min(MAX_K, max(k * oversample, 256))
    keys = _filter_keys(model_id, tenant, namespace, archived)
    ids = _hamming_candidates(db, vector, candidates, keys)
    if ids is None:
        ids = _vec0_candidates(db, vector, candidates, keys)
    if not ids:
        return []
    rows = db.all(
        f"SELECT memory_id, vec_distance_cosine(vector, ?) AS distance FROM {EMBEDDING_TABLE} "
        f"WHERE memory_id IN ({marks(ids)}) ORDER BY distance, memory_id LIMIT ?",
        [vector, *ids, k],
    )
    return [(int(row[0]), float(row[1])) for row in rows]


# vec0's metadata columns in the order they were declared (migration 4): the n-th is
# stored in ``{VEC_TABLE}_metadatachunks0n``.
_METADATA = ("tenant_key", "namespace_key", "model_key", "archived")


def _filter_keys(
    model_id: str, tenant: str | None, namespace: str | None, archived: bool
) -> dict[str, int]:
    """The values the KNN's metadata columns must equal. Keys may collide: callers
    re-check tenant and namespace against the memories table."""
    keys = {"model_key": text_key(model_id), "archived": int(archived)}
    if tenant is not None:
        keys["tenant_key"] = text_key(tenant)
    if namespace is not None:
        keys["namespace_key"] = text_key(namespace)
    return keys


def _vec0_candidates(db: Database, vector: bytes, count: int, keys: dict[str, int]) -> list[int]:
    """vec0's own Hamming KNN (filters pushed down), for a store whose chunks
    ``_hamming_candidates`` cannot read. Among memories tied at the last distance it
    keeps vec0's choice, not the lowest ids."""
    where = "".join(f" AND {column} = ?" for column in keys)
    rows = db.all(
        f"SELECT memory_id FROM {VEC_TABLE} WHERE embedding MATCH vec_quantize_binary(?) "
        f"AND k = ?{where}",
        [vector, count, *keys.values()],
    )
    return [int(row[0]) for row in rows]


def _hamming_candidates(
    db: Database, vector: bytes, count: int, keys: dict[str, int]
) -> list[int] | None:
    """The ``count`` memories nearest to ``vector`` by Hamming distance between 1-bit
    vectors, ties by id, among those whose metadata equal ``keys``; None when vec0's
    chunks are not laid out as sqlite-vec 0.1.9 lays them out (pinned; migration 3
    reads the same layout).

    Why not vec0's KNN: it selects each chunk's nearest by repeated minimum search, a
    cost of chunk size x k per chunk. At 100k memories it took 5.4 ms for k = 16, 33 ms
    for 256 (what search asks) and 100 ms for 512, filters or not (docs/storage.md).
    Reading the chunks (~100 rows of 48 KB vectors, 8 KB ids, validity bitmaps and 8 KB
    per metadata column) and counting bits with numpy takes ~12-20 ms whatever
    ``count`` is. Ties are broken by id, so the result does not depend on how rows sit
    in chunks: at 100k memories 30-130 tie at the 256th distance, and vec0 keeps its own
    pick of them. Taking every tied memory instead measured no better in the search
    eval (large store, hybrid recall@5 0.897 both ways, MRR@10 0.810 against 0.813).

    Layout: ``_chunks`` (chunk_id, size, validity: one bit per slot, rowids: int64 per
    slot), ``_vector_chunks00`` (rowid = chunk_id, vectors: size x dim/8 bytes) and
    ``_metadatachunks0n`` (rowid = chunk_id, data: int64 per slot for INTEGER columns).
    """
    import numpy as np

    columns = [name for name in _METADATA if name in keys]
    tables = [f"{VEC_TABLE}_vector_chunks00"] + [
        f"{VEC_TABLE}_metadatachunks0{_METADATA.index(name)}" for name in columns
    ]
    # each table read whole, in chunk order, in one snapshot: a join of them is planned
    # as nested scans (their ``rowid PRIMARY KEY`` columns are not the rowid)
    with db.read():
        chunk_rows = db.all(
            f"SELECT chunk_id, size, validity, rowids FROM {VEC_TABLE}_chunks ORDER BY chunk_id"
        )
        parts = [
            db.all(f"SELECT rowid, {'vectors' if n == 0 else 'data'} FROM {table} ORDER BY rowid")
            for n, table in enumerate(tables)
        ]
    query = bytes(db.scalar("SELECT vec_quantize_binary(?)", (vector,)))
    if not chunk_rows:
        return []
    width, chunk_ids = len(query), [row[0] for row in chunk_rows]
    slots = sum(int(row[1]) for row in chunk_rows)
    blobs = [b"".join(row[2] for row in chunk_rows), b"".join(row[3] for row in chunk_rows)]
    blobs += [b"".join(row[1] for row in part) for part in parts]
    lengths = [slots // 8, slots * 8, slots * width] + [slots * 8] * len(columns)
    if (
        any(int(row[1]) % 8 for row in chunk_rows)
        or any([row[0] for row in part] != chunk_ids for part in parts)
        or [len(blob) for blob in blobs] != lengths
    ):
        return None
    valid = np.unpackbits(np.frombuffer(blobs[0], np.uint8), bitorder="little").astype(bool)
    ids = np.frombuffer(blobs[1], np.int64)
    for name, blob in zip(columns, blobs[3:], strict=True):
        valid &= np.frombuffer(blob, np.int64) == keys[name]
    chosen = np.flatnonzero(valid)
    if len(chosen) == 0:
        return []
    word = np.uint64 if width % 8 == 0 else np.uint8
    ones = np.bitwise_count(
        np.frombuffer(blobs[2], word).reshape(slots, -1) ^ np.frombuffer(query, word)
    )
    # every slot's distance, then the chosen ones' (cheaper than copying the chosen
    # vectors out first), column by column (``sum(axis=1)`` over 6 columns: 1.9 ms; 0.2)
    everywhere = ones[:, 0].astype(np.int32)
    for column in range(1, ones.shape[1]):
        everywhere += ones[:, column]
    distance = everywhere[chosen]
    if len(chosen) > count:
        # everything up to the count-th smallest distance, then ties by id
        bound = np.partition(distance, count - 1)[count - 1]
        near = np.flatnonzero(distance <= bound)
        chosen, distance = chosen[near], distance[near]
    nearest = np.lexsort((ids[chosen], distance))[:count]
    return [int(i) for i in ids[chosen[nearest]]]


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


def waiting_count(db: Database) -> int:
    """Nothing waits: vec0 takes every vector as it is written (PostgreSQL's HNSW graph
    does not, ``postgres/vectors``)."""
    return 0


def unscanned_count(db: Database, tenant: str | None, namespace: str | None, archived: bool) -> int:
    return 0


def graph_some(db: Database, limit: int) -> int:
    return 0


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
