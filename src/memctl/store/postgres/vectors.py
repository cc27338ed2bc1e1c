"""PostgreSQL's vectors (``backend.VectorIndex``): one ``vector(384)`` per memory in
``embeddings`` with an HNSW index (cosine distance), pgvector >= 0.8; the embedding
backlog is the engines' shared SQL (``backlog``).

Filtered KNN is where pgvector loses recall: given ``WHERE tenant = ... AND namespace =
...`` the planner walks the HNSW graph and filters afterwards, so a namespace holding
1 % of the rows got recall 0.04 and often no rows at all (measured at 100k). So each
query chooses:

- **exact scan** when the filters leave at most ``exact_scan_rows`` memories (counted
  with a bounded count, at most that many index entries read): the distances of just
  those rows, sorted. ~1 µs a row (10k rows ~10 ms), and the answer is exact.
- **HNSW with iterative scan** otherwise (``hnsw.iterative_scan = relaxed_order``): the
  index scan keeps going while the filter rejects rows, up to ``hnsw.max_scan_tuples``;
  results are re-sorted by exact distance. Its cost grows as the filter's share shrinks
  (to find k rows of a namespace holding 1/n of the vectors it walks ~n x k), the exact
  scan's with the rows, so the line between them grows as the square root of the
  table (``exact_scan_rows``). ``hnsw.ef_search`` is ``EF_SEARCH``, or ``k`` when
  larger.

Active and archived memories share the index; which one a vector belongs to comes from
the join with ``memories`` or ``archive`` (an UPDATE of an HNSW-indexed row re-inserts
it into the graph, ~7 ms a row, so archiving never touches this table).

Vectors written in bulk (import, a store moved over) wait outside the graph: in
``embeddings.waiting``, with ``vector`` NULL, which HNSW does not index (migration p005).
Putting each into the graph costs the server 3.6-10 ms at 1M (``ef_construction`` 200;
400 since p006: 5.4 ms over two connections), which made an import of 100k take ~10
minutes in its one transaction; waiting, it takes a COPY (100k in ~20 s with its first
thousand put in). The import puts up to a
thousand into the graph itself, the daemon's ``embed`` job and ``memctl reindex`` the
rest, in short transactions (``graph_some``, ``lifecycle/graph.py``). Meanwhile:

- an exact scan (a filter leaving few rows) reads every vector, waiting or not;
- a walk of the graph is joined by an exact scan of the waiting vectors its filters
  leave, through the partial index ``ix_embeddings_waiting`` (nothing to read when none
  wait), while at most ``WAITING_SCANNED`` wait: each costs that scan a probe of
  ``memories`` (100k waiting made every search take 870 ms at 1M, whoever's they were).
  With more waiting (a big import, no daemon yet), the graph's walk finds them once they
  are in it; until then their memories are found by keyword (with their similarity,
  which ``load`` reads), and by vector in filters small enough for an exact scan.

Vectors travel in pgvector's binary format (``connection.Vector``), never as text.
"""

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from memctl.store import backlog
from memctl.store.backlog import Pending as Pending  # re-exported: backend.VectorIndex
from memctl.store.batch import chunks, marks
from memctl.store.postgres import dialect
from memctl.store.postgres.vector_type import Vector, vector_bytes

if TYPE_CHECKING:
    from memctl.store.db import Database
    from memctl.store.postgres.connection import PostgresDatabase

MAX_K = 4096
INT8_OID, TEXT_OID = 20, 25  # PostgreSQL's fixed oids of bigint and text
# How deep HNSW walks the graph (``hnsw.ef_search``), with or without a filter. At 1M on
# scripts/bench_postgres.py's vectors and the eval's questions (k 110, as search asks;
# the KNN alone, 12 questions, load ~2, the graph of ef_construction 400 that p006
# builds): without a namespace 110 recall@10 0.83 in 3.5 ms, 200 0.93 in 4.5 ms, 400
# 0.98 in 8.8 ms, 800 0.98 in 16 ms; in a namespace of 10 % (the iterative scan walks
# on in batches until k rows pass the filter) 100 0.84 in 12 ms, 400 0.97 in 16 ms, 800
# 0.99 in 24 ms, 1000 (pgvector's most) 0.99 in 30 ms. 800 keeps the hybrid search of
# that namespace under 50 ms (34-41 ms median) with recall to spare (0.977-0.98 on 30
# questions); 400 would save ~8 ms a search for less margin. With the graph of 200 the
# namespace stayed at 0.93-0.94 at any depth (README "Shared hub").
# `strict_order` instead of `relaxed_order`: recall 0.45, twice the time (10 %).
EF_SEARCH = 800
EF_SEARCH_MAX = 1000  # pgvector refuses more
# How far the iterative scan may walk past its first ef_search candidates
# (``hnsw.max_scan_tuples``, pgvector's default 20,000; it does not bound the first
# pass): ``SCAN_TUPLES_PER_K`` x k, at least ``SCAN_TUPLES``. In a namespace of 10 % at
# 1M the walk for search's 110 neighbours found ~1,200 candidates in 40-45 ms with the
# default, 25-29 ms stopped near 1,600-3,200 visited (still 110 rows), recall@10 the
# same 0.92 (scripts/bench_postgres.py's vectors, 25 questions, load ~1.7): going on
# past the first pass finds farther neighbours, not better near ones. A namespace near
# the exact-scan line (~4.5 % at 1M) may then yield fewer than k rows (a 1 % one, forced
# through the graph with 800, got 49 at least, 110 at the median).
SCAN_TUPLES = 2_000
SCAN_TUPLES_PER_K = 16
# The most vectors waiting outside the graph that a walk scans beside it (the module
# docstring): ~10 µs each at 1M, so at most ~10 ms more, for the seconds the import or
# the daemon takes to put that many into the graph.
WAITING_SCANNED = 1_000
# "At most WAITING_SCANNED wait", a bounded count (~0.1 ms): its parameters are
# ``_few_waiting()``. The walk's statement holds it as a one-time filter.
FEW_WAITING = (
    "(SELECT count(*) FROM (SELECT 1 FROM embeddings WHERE waiting IS NOT NULL LIMIT ?) w) <= ?"
)


def _few_waiting() -> list[object]:
    return [WAITING_SCANNED + 1, WAITING_SCANNED]


# The exact scan costs ~1 µs a row; the iterative scan more as the share kept shrinks
# (~k / share candidates; hnsw.max_scan_tuples caps it). At 1M they cross near 45,000
# rows (server CPU, load ~3: 20,000 rows exact 16 ms against 66 ms walking, 30,000 27
# against 55, 50,000 47 against 39): 45 x sqrt(1M). One grows with the rows kept, the
# other with vectors / rows kept, so the crossing grows as sqrt(vectors) (a model,
# measured at 1M only). Below EXACT_SCAN_ROWS an exact scan is cheap at any size.
EXACT_SCAN_ROWS = 20_000
EXACT_SCAN_SCALE = 45
# Set in every session's start-up packet (connection._params): no round trip.
SESSION_SETTINGS = (
    ("hnsw.ef_search", str(EF_SEARCH)),
    ("hnsw.iterative_scan", "relaxed_order"),
    ("hnsw.max_scan_tuples", str(SCAN_TUPLES)),
)


def _pg(db: "Database") -> "PostgresDatabase":
    """The PostgreSQL connection, with pgvector's type registered for ``Vector``."""
    assert db.engine == "postgresql"
    pg = cast("PostgresDatabase", db)
    pg.vector_oid  # noqa: B018 (looks the type up once, registers the dumper)
    return pg


def pending(db: "Database", model_id: str, limit: int, tenant: str | None = None) -> list[Pending]:
    return backlog.pending(db, dialect, model_id, limit, tenant)


def pending_count(db: "Database", model_id: str, tenant: str | None = None) -> int:
    return backlog.pending_count(db, dialect, model_id, tenant)


def pending_ids(db: "Database", ids: list[int], model_id: str) -> set[int]:
    return backlog.pending_ids(db, ids, model_id)


def put(db: "Database", items: list[tuple[int, str, str, str, bytes]], model_id: str) -> int:
    """Mark the memories still embedded as they were, and upsert their vectors: one
    statement per batch (with the HNSW index, each new vector costs a graph insert)."""
    kept = backlog.mark_embedded(db, items, model_id)
    if kept:
        _pg(db)
        db.executemany(
            "INSERT INTO embeddings (memory_id, model, vector) VALUES (?, ?, ?) "
            "ON CONFLICT (memory_id) DO UPDATE SET model = excluded.model, "
            "vector = excluded.vector, waiting = NULL",
            [(int(memory_id), model_id, Vector(vector)) for memory_id, _, _, _, vector in kept],
        )
    return len(kept)


def insert_many(db: "Database", items: list[tuple[int, bytes, str, str, str, int]]) -> None:
    """Vectors for new ids: (id, float32 vector, tenant, namespace, model, archived)."""
    if items:
        pg = _pg(db)
        # binary COPY: pgvector's own format (connection.Vector), no statement per row,
        # into ``waiting``: no graph insert until ``graph_some`` (the module docstring)
        pg.copy_in(
            "embeddings",
            ("memory_id", "model", "waiting"),
            ((i, model, Vector(vector)) for i, vector, _, _, model, _ in items),
            types=(INT8_OID, TEXT_OID, pg.vector_oid),
        )


def waiting_count(db: "Database") -> int:
    """Vectors waiting to be put into the HNSW graph (found meanwhile as the module
    docstring says)."""
    return int(db.scalar("SELECT count(*) FROM embeddings WHERE waiting IS NOT NULL"))


def unscanned_count(
    db: "Database", tenant: str | None, namespace: str | None, archived: bool
) -> int:
    """The waiting vectors ``knn`` with these filters does not scan: all of them when
    more than ``WAITING_SCANNED`` wait and the filters are searched by walking the graph,
    else 0 (an exact scan reads them all; a bounded count first: ~0.1 ms)."""
    if db.scalar(f"SELECT {FEW_WAITING}", _few_waiting()):
        return 0
    if _selective(db, "archive" if archived else "memories", tenant, namespace):
        return 0
    return waiting_count(db)


def graph_some(db: "Database", limit: int) -> int:
    """Put up to ``limit`` waiting vectors into the HNSW graph, inside the caller's write;
    rows another process is putting there meanwhile are skipped (``SKIP LOCKED``).
    Returns how many."""
    rows = db.all(
        "WITH batch AS (SELECT memory_id FROM embeddings WHERE waiting IS NOT NULL "
        "ORDER BY memory_id LIMIT ? FOR UPDATE SKIP LOCKED) "
        "UPDATE embeddings e SET vector = e.waiting, waiting = NULL FROM batch "
        "WHERE e.memory_id = batch.memory_id RETURNING e.memory_id",
        [limit],
    )
    return len(rows)


def drop(db: "Database", ids: Sequence[int]) -> None:
    for chunk in chunks(list(ids)):
        db.execute(f"DELETE FROM embeddings WHERE memory_id IN ({marks(chunk)})", chunk)


def mark_archived(db: "Database", ids: Sequence[int], archived: bool) -> None:
    """Nothing to do: active or archived is the table the memory is in."""


def forget_some(db: "Database", tenant: str | None, limit: int) -> int:
    ids = backlog.unmark_some(db, dialect, tenant, limit)
    drop(db, ids)
    return len(ids)


def knn(
    db: "Database",
    vector: bytes,
    k: int,
    model_id: str,
    tenant: str | None,
    namespace: str | None = None,
    archived: bool = False,
    oversample: int = 4,
) -> list[tuple[int, float]]:
    """Nearest memories as (id, cosine distance), best first. ``oversample`` is SQLite's
    (its binary index's candidates); HNSW's depth is ``hnsw.ef_search``."""
    pg = _pg(db)
    table = "archive" if archived else "memories"
    # the memory's filters (``m``), and their values
    kept: list[str] = []
    values: list[object] = []
    for column, value in (("tenant", tenant), ("namespace", namespace)):
        if value is not None:
            kept.append(f"m.{column} = ?")
            values.append(value)
    query = Vector(vector)
    if _selective(db, table, tenant, namespace):
        # exact: the distance of every memory the filters leave (a MATERIALIZED set
        # cannot be read through the HNSW index, so the planner cannot pick it). The
        # set holds distances, not vectors (10,000 vectors copied into it spilled 15 MB
        # to a temporary file), and the vectors are read by one index scan over the
        # chosen ids (a join probed the index once per memory: 40,000 buffers for a
        # namespace of 10,000 at 1M, against 2,500). 115 -> ~60 ms at load 6-9.
        chosen = " AND ".join(kept)  # never empty: a filter is what makes a set selective
        rows = db.all(
            "WITH chosen AS MATERIALIZED (SELECT e.memory_id, "
            "coalesce(e.vector, e.waiting) <=> ? AS distance "
            "FROM embeddings e WHERE e.model = ? AND e.memory_id = ANY(ARRAY("
            f"SELECT m.id FROM {table} m WHERE {chosen}))) "
            "SELECT memory_id, distance FROM chosen ORDER BY distance, memory_id LIMIT ?",
            [query, model_id, *values, k],
        )
    else:
        # the graph's nearest, and the nearest of the vectors waiting outside it: an
        # exact scan of those the filters leave, read through the partial index, each
        # memory looked up by id in a correlated subquery. As a join, the planner's
        # statistics decided: taken while 99,000 vectors waited, they made it hash the
        # namespace's 100,000 memories on every search once none waited (+30-40 ms at
        # 1M, until the next ANALYZE); a subquery is looked up per waiting vector only.
        _walk(pg, k)
        conditions = " AND ".join(["e.model = ?", *kept])
        member = " AND ".join(["m.id = e.memory_id", *kept])
        rows = db.all(
            "WITH near AS MATERIALIZED ("
            "SELECT e.memory_id, e.vector <=> ? AS distance "
            f"FROM embeddings e JOIN {table} m ON m.id = e.memory_id "
            f"WHERE {conditions} AND e.vector IS NOT NULL ORDER BY e.vector <=> ? LIMIT ?), "
            "waiting AS MATERIALIZED ("
            "SELECT e.memory_id, e.waiting <=> ? AS distance FROM embeddings e "
            f"WHERE e.waiting IS NOT NULL AND e.model = ? AND {FEW_WAITING} "
            f"AND (SELECT 1 FROM {table} m WHERE {member}) = 1 "
            "ORDER BY 2 LIMIT ?) "
            "SELECT memory_id, distance FROM near UNION ALL "
            "SELECT memory_id, distance FROM waiting ORDER BY distance, memory_id LIMIT ?",
            [query, model_id, *values, query, k, query, model_id, *_few_waiting(), *values, k, k],
        )
    return [(int(row[0]), float(row[1])) for row in rows]


# Filters found to leave more than exact_scan_rows memories, until when (monotonic
# seconds), by database: counting them again read 20,000 index entries per search (4-7
# ms at 1M when the tenant is all there is). A set this large that shrinks meanwhile
# is searched through the index (iterative scan) until the entry expires. The vectors'
# count (the planner's estimate) is kept as long, by database.
_LARGE_SETS: dict[tuple[str, str, str | None, str | None], float] = {}
_VECTORS: dict[str, tuple[float, float]] = {}
LARGE_SET_SECONDS = 60.0


def exact_scan_rows(vectors: float) -> int:
    """The most rows a filter may leave for an exact scan, in a table of ``vectors``:
    where scanning them costs what walking the graph for them would."""
    return max(EXACT_SCAN_ROWS, int(EXACT_SCAN_SCALE * math.sqrt(max(vectors, 0.0))))


def _vector_count(db: "Database") -> float:
    """``embeddings``' rows as the planner estimates them (``pg_class.reltuples``: -1
    before the first ``ANALYZE``), read once a minute."""
    key = str(db.location)
    until, count = _VECTORS.get(key, (0.0, 0.0))
    if until <= time.monotonic():
        found = db.scalar("SELECT reltuples FROM pg_class WHERE oid = to_regclass('embeddings')")
        count = float(found or 0.0)
        _VECTORS[key] = (time.monotonic() + LARGE_SET_SECONDS, count)
    return count


def _selective(db: "Database", table: str, tenant: str | None, namespace: str | None) -> bool:
    """Do the filters leave at most ``exact_scan_rows`` memories? (A bounded count: it
    reads at most that many index entries, ~1 ms per 10,000; a large set is remembered.)"""
    if tenant is None and namespace is None:
        return False
    key = (str(db.location), table, tenant, namespace)
    if _LARGE_SETS.get(key, 0.0) > time.monotonic():
        return False
    where, params = [], []
    for column, value in (("tenant", tenant), ("namespace", namespace)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    most = exact_scan_rows(_vector_count(db))
    found = db.scalar(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {' AND '.join(where)} LIMIT ?) s",
        [*params, most + 1],
    )
    if int(found) <= most:
        return True
    _LARGE_SETS[key] = time.monotonic() + LARGE_SET_SECONDS
    return False


def _walk(db: "PostgresDatabase", k: int) -> None:
    """``hnsw.ef_search`` of ``EF_SEARCH`` and at least ``k`` (one pass finds at most
    ef_search rows; the iterative scan goes on past them), at most pgvector's
    ``EF_SEARCH_MAX`` (a larger value is an error: ``--limit 1000`` failed), and
    ``hnsw.max_scan_tuples`` of ``scan_tuples(k)``; each set on the session only when it
    changes."""
    depth = min(max(EF_SEARCH, k), EF_SEARCH_MAX)
    if (db.ef_search or EF_SEARCH) != depth:
        db.execute(f"SET hnsw.ef_search = {int(depth)}")
        db.ef_search = depth
    tuples = scan_tuples(k)
    if (db.scan_tuples or SCAN_TUPLES) != tuples:
        db.execute(f"SET hnsw.max_scan_tuples = {int(tuples)}")
        db.scan_tuples = tuples


def scan_tuples(k: int) -> int:
    """How many tuples the iterative scan may visit for ``k`` neighbours."""
    return max(SCAN_TUPLES, SCAN_TUPLES_PER_K * k)


def load(db: "Database", ids: list[int]) -> dict[int, tuple[str, bytes]]:
    out: dict[int, tuple[str, bytes]] = {}
    for chunk in chunks(ids):
        for row in db.all(
            "SELECT memory_id, model, vector_send(coalesce(vector, waiting)) FROM embeddings "
            f"WHERE memory_id IN ({marks(chunk)})",
            chunk,
        ):
            out[int(row[0])] = (str(row[1]), vector_bytes(bytes(row[2])))
    return out
