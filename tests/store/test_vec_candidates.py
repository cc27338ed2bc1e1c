"""SQLite's KNN candidates read from vec0's chunks (store/vectors.py): the nearest by
Hamming distance among the memories that pass the filters, ties by id, exactly; and
vec0's own KNN where the chunks are not laid out as expected."""

import random
import struct
from pathlib import Path
from typing import Any

import pytest

from memctl.store import moves, vectors
from memctl.store.columns import VEC_TABLE
from memctl.store.db import Database
from tests.lifecycle.lifecycle_support import MODEL, T0, open_db, packaged, put


def tied_vector(rng: random.Random) -> bytes:
    """A vector whose 1-bit copy differs from the others' only in its first 12 bits:
    Hamming distances 0-12 over 3,000 memories, so most candidates tie."""
    head = [rng.choice((-1.0, 1.0)) for _ in range(12)]
    tail = [rng.uniform(0.1, 1.0) for _ in range(372)]
    return struct.pack("384f", *head, *tail)


def fill(db: Database) -> list[int]:
    """3,000 memories in two tenants and two namespaces, vectors of ``MODEL`` and of
    another model, a third of them deleted (free slots in vec0's chunks) and some
    archived."""
    policies, rng = packaged(), random.Random(7)
    with db.write():
        ids = [
            put(
                db,
                policies,
                T0,
                f"{'ab'[n % 2]}/{n}",
                value=n,
                tenant=("default", "other")[n % 3 == 0],
            )
            for n in range(3000)
        ]
    rows = vectors.pending(db, MODEL, 10**9)
    with db.write():
        for model, part in ((MODEL, rows[:2600]), ("other-model", rows[2600:])):
            vectors.put(
                db,
                [(r.id, r.tenant, r.namespace, r.content_hash, tied_vector(rng)) for r in part],
                model,
            )
    with db.write():
        moves.purge(db, ids[1::3])
    with db.write():
        moves.archive(db, ids[0:600:6], "archived", T0)
    return ids


def reference(db: Database, query: bytes, count: int, **filters: Any) -> list[int]:
    """The ``count`` nearest by Hamming distance (computed by sqlite-vec one row at a
    time from the float vectors), ties by id, among the memories passing ``filters``."""
    tenant, namespace, archived = (
        filters.get("tenant"),
        filters.get("namespace"),
        filters.get("archived", False),
    )
    table = "archive" if archived else "memories"
    where, params = ["e.model = ?"], [filters.get("model", MODEL)]
    if tenant is not None:
        where.append("m.tenant = ?")
        params.append(tenant)
    if namespace is not None:
        where.append("m.namespace = ?")
        params.append(namespace)
    rows = db.all(
        "SELECT e.memory_id, vec_distance_hamming(vec_quantize_binary(e.vector), "
        f"vec_quantize_binary(?)) AS d FROM embeddings e JOIN {table} m ON m.id = e.memory_id "
        f"WHERE {' AND '.join(where)} ORDER BY d, e.memory_id LIMIT ?",
        [query, *params, count],
    )
    return [int(row[0]) for row in rows]


def test_candidates_are_the_nearest_with_ties_by_id(db_path: Path) -> None:
    db = open_db(db_path)
    fill(db)
    rng = random.Random(3)
    cases: list[dict[str, Any]] = [
        {},
        {"tenant": "default"},
        {"tenant": "other", "namespace": "b"},
        {"tenant": "other", "archived": True},
        {"model": "other-model"},
    ]
    for filters in cases:
        for count in (1, 40, 256):
            query = tied_vector(rng)
            keys = vectors._filter_keys(
                str(filters.get("model", MODEL)),
                filters.get("tenant"),
                filters.get("namespace"),
                bool(filters.get("archived", False)),
            )
            found = vectors._hamming_candidates(db, query, count, keys)
            assert found and len(found) == min(count, len(reference(db, query, 10**6, **filters)))
            assert found == reference(db, query, count, **filters), (filters, count)
            # vec0's own KNN finds the same distances; only its order among ties differs
            own = vectors._vec0_candidates(db, query, count, keys)
            assert len(own) == len(found)
            distance = {
                int(row[0]): int(row[1])
                for row in db.all(
                    "SELECT memory_id, vec_distance_hamming(embedding, vec_quantize_binary(?)) "
                    f"FROM {VEC_TABLE} WHERE embedding MATCH vec_quantize_binary(?) AND k = 4096",
                    (query, query),
                )
            }
            assert sorted(distance[i] for i in own) == sorted(distance[i] for i in found)


def test_knn_reranks_the_candidates_by_cosine(db_path: Path) -> None:
    db = open_db(db_path)
    fill(db)
    query = tied_vector(random.Random(11))
    found = vectors.knn(db, query, 10, MODEL, "default")
    candidates = reference(db, query, 256, tenant="default")
    exact = db.all(
        "SELECT memory_id, vec_distance_cosine(vector, ?) AS d FROM embeddings "
        f"WHERE memory_id IN ({','.join('?' * len(candidates))}) ORDER BY d, memory_id LIMIT 10",
        [query, *candidates],
    )
    assert found == [(int(row[0]), float(row[1])) for row in exact]


def test_unexpected_layout_is_not_read(db_path: Path) -> None:
    db = open_db(db_path)
    fill(db)
    query = tied_vector(random.Random(5))
    keys = vectors._filter_keys(MODEL, "default", None, False)
    assert vectors._hamming_candidates(db, query, 256, keys) is not None
    with db.write():  # a metadata chunk of the wrong length: not sqlite-vec 0.1.9's layout
        db.execute(
            f"UPDATE {VEC_TABLE}_metadatachunks00 SET data = zeroblob(16) "
            f"WHERE rowid = (SELECT max(rowid) FROM {VEC_TABLE}_metadatachunks00)"
        )
    assert vectors._hamming_candidates(db, query, 256, keys) is None


def test_knn_falls_back_to_vec0(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = open_db(db_path)
    fill(db)
    query = tied_vector(random.Random(5))
    read = vectors.knn(db, query, 5, MODEL, "default")
    monkeypatch.setattr(vectors, "_hamming_candidates", lambda *args: None)
    fallback = vectors.knn(db, query, 5, MODEL, "default")
    assert [d for _, d in fallback] == [d for _, d in read]
