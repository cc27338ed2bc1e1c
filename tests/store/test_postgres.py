"""PostgreSQL as the store: URLs and secrets, set-up and migrations, pgvector, errors,
locks and filtered KNN (docs/storage.md). What both engines share is tested by the
suites that take the ``backend`` fixture."""

import os
import random
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memctl.errors import BadInput, StorageError
from memctl.lifecycle import graph
from memctl.lifecycle.globs import glob_match
from memctl.paths import ServerUrl, mask_url, parse_location, resolve_project
from memctl.store import migrations, moves, open_database
from memctl.store.backend import backend_of
from memctl.store.filters import Filters
from memctl.store.migrations import postgres_steps
from memctl.store.migrations.runner import Step
from memctl.store.opening import schema_status
from memctl.store.postgres import dialect as pg_dialect
from memctl.store.postgres import upkeep as pg_upkeep
from memctl.store.postgres import vectors as pg_vectors
from memctl.store.postgres.connection import PostgresDatabase, driver_sql
from tests.conftest import SRC, cli, python, run
from tests.pg_server import with_database, with_user

pytestmark = pytest.mark.postgres


def ok(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


# ------------------------------------------------------------------ URLs, no server


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql://alice:s3cret@db.example:5432/mem",
            "postgresql://alice:***@db.example:5432/mem",
        ),
        ("postgres://alice@db/mem?sslmode=require", "postgres://alice@db/mem?sslmode=require"),
        (
            "postgresql:///mem?host=/run/pg&password=s3cret",
            "postgresql:///mem?host=/run/pg&password=***",
        ),
        ("postgresql://postgres:@/mem?host=/tmp/x", "postgresql://postgres:@/mem?host=/tmp/x"),
    ],
)
def test_a_url_never_shows_its_password(url: str, masked: str) -> None:
    location = parse_location(url)
    assert isinstance(location, ServerUrl)
    assert str(location) == masked == mask_url(url)
    assert "s3cret" not in repr(location) and "s3cret" not in f"{location}"
    assert location.url == url  # what the driver connects with


def test_the_url_comes_from_db_memctl_db_or_config_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://memctl@hub.internal/memories"
    (tmp_path / ".memctl").mkdir()
    monkeypatch.delenv("MEMCTL_DB")
    assert resolve_project(url, tmp_path).db == ServerUrl(url)
    monkeypatch.setenv("MEMCTL_DB", url)
    assert resolve_project(None, tmp_path).db == ServerUrl(url)
    monkeypatch.delenv("MEMCTL_DB")
    (tmp_path / ".memctl" / "config.yaml").write_text(f"db: {url}\n")
    project = resolve_project(None, tmp_path)
    assert project.db == ServerUrl(url) and project.root == tmp_path.resolve()


def test_init_records_a_hub_url_but_never_a_password(
    pg_database: ServerUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    (project / ".git").mkdir(parents=True)
    monkeypatch.chdir(project)
    monkeypatch.delenv("MEMCTL_DB")
    parts = urlsplit(pg_database.url)
    user, _, host = parts.netloc.rpartition("@")
    secret = parts._replace(netloc=f"{user.split(':')[0]}:TopSecret42@{host}").geturl()
    refused = cli("init", "--db", secret)
    assert refused.exit_code == 2 and "PGPASSWORD" in refused.stderr
    assert "TopSecret42" not in refused.stderr and not (project / ".memctl").exists()
    ok(cli("init", "--db", pg_database.url))
    config = (project / ".memctl" / "config.yaml").read_text()
    assert f"db: {pg_database.url}\n" in config  # as given: the project then finds the hub
    ok(cli("store", "a/b", "1"))
    monkeypatch.setenv("MEMCTL_DB", pg_database.url)
    assert cli("recall", "a/b").stdout == "1\n"  # the store went to the hub


def test_psycopg_is_imported_without_importlib_metadata() -> None:
    """postgres/driver.preload_versions: the driver's version modules come from the
    .dist-info names (~25 ms of a hub's store), and say what importlib.metadata says."""
    code = (
        "import sys\n"
        "from memctl.store.opening import postgres_connection\n"
        "postgres_connection()\n"
        "import psycopg, psycopg_binary\n"
        "print('importlib.metadata' in sys.modules)\n"
        "from importlib.metadata import version\n"
        "print(psycopg.__version__ == version('psycopg') != '0.0.0.0')\n"
        "print(psycopg_binary.__version__ == version('psycopg-binary'))\n"
    )
    done = python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True"]


def test_parameters_are_rewritten_outside_quotes_and_casts() -> None:
    sql = "SELECT '?', ':x', a::text, ? , :name, 'it''s %', x LIKE '%' -- ? :c"
    assert driver_sql(sql) == (
        "SELECT '?', ':x', a::text, %s , %(name)s, 'it''s %%', x LIKE '%%' -- ? :c"
    )


def test_a_refused_connection_exits_3_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://alice:TopSecret42@127.0.0.1:1/memories"
    result = run("store", "a/b", "1", "--db", url)
    assert result.returncode == 3, result.stderr
    assert "TopSecret42" not in result.stderr + result.stdout
    assert "cannot connect to postgresql://alice:***@127.0.0.1:1/memories" in result.stderr
    assert result.stderr.count("\n") == 1


def test_no_command_prints_the_password_of_a_url(
    pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test server trusts local users, so a password in the URL is carried to the
    server and every report, error and JSON document, yet must appear in none."""
    parts = urlsplit(pg_database.url)
    user, _, host = parts.netloc.rpartition("@")
    url = parts._replace(netloc=f"{user.split(':')[0]}:TopSecret42@{host}").geturl()
    monkeypatch.setenv("MEMCTL_DB", url)
    missing = parts._replace(netloc=f"{user.split(':')[0]}:TopSecret42@{host}", path="/nope")
    seen = [
        cli("store", "a/b", "1", "--json"),
        cli("recall", "a/b", "--full", "--json"),
        cli("recall", "a/none"),
        cli("list", "--json"),
        cli("stats"),
        cli("stats", "--json"),
        cli("doctor", "--json", "--runs", "0"),
        cli("migrate", "status", "--json"),
        cli("daemon", "--once", "--json"),
        cli("export", "--include-archived"),
        cli("store", "a/b", "2", "--db", missing.geturl()),
        cli("store", "a/b", "2", "--db", missing.geturl(), "--json"),
    ]
    assert [r.exit_code for r in seen[:3]] == [0, 0, 1] and seen[-1].exit_code == 3
    assert "postgresql://postgres:***@" in seen[-2].stderr
    for result in seen:
        assert "TopSecret42" not in result.stdout + result.stderr, result.stdout + result.stderr


# ------------------------------------------------------------------ set-up, migrations


@pytest.fixture
def empty_database(pg_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database without memctl's tables (MEMCTL_DB points at it)."""
    name, url = pg_server.new_database(migrated=False)
    monkeypatch.setenv("MEMCTL_DB", url)
    yield url
    pg_server.drop(name)


def test_a_new_database_is_set_up_by_the_first_write_not_by_a_read(empty_database: str) -> None:
    result = cli("list")
    assert result.exit_code == 1 and "no memctl database at" in result.stderr
    assert schema_status(ServerUrl(empty_database)).current == 0  # nothing was created
    ok(cli("store", "a/b", "1"))
    status = schema_status(ServerUrl(empty_database))
    latest = postgres_steps.LATEST
    assert (status.current, status.latest, status.pending) == (latest, latest, [])
    db = open_database(empty_database, create=False)
    try:
        assert db.scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert db.scalar("SELECT count(*) FROM memctl_migrations") == postgres_steps.LATEST
    finally:
        db.close()


def test_processes_setting_up_one_database_at_once_migrate_it_once(empty_database: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "memctl", "store", f"n/k{i}", str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    db = open_database(empty_database, create=False)
    try:
        # every step once, not once per process
        assert db.scalar("SELECT count(*) FROM memctl_migrations") == postgres_steps.LATEST
        assert db.scalar("SELECT count(*) FROM memories") == 4
    finally:
        db.close()


def test_a_missing_pgvector_is_named_in_one_line_with_exit_3(
    pg_server: Any, empty_database: str
) -> None:
    """pgvector is not a trusted extension: a user who may not create it gets told."""
    name = urlsplit(empty_database).path.lstrip("/")
    pg_server.execute("DROP ROLE IF EXISTS memctl_plain")
    pg_server.execute("CREATE ROLE memctl_plain LOGIN")
    pg_server.execute(f"ALTER DATABASE {name} OWNER TO memctl_plain")
    plain = with_user(empty_database, "memctl_plain")
    result = run("store", "a/b", "1", "--db", plain)
    assert result.returncode == 3
    assert "lacks the pgvector extension (>= 0.8)" in result.stderr
    assert "CREATE EXTENSION vector" in result.stderr
    assert result.stderr.count("\n") == 1


EXTRA = postgres_steps.LATEST + 1
P_EXTRA = Step(
    version=EXTRA,
    name=f"p{EXTRA:03d}_test_table",
    description="a table for the test",
    up=("CREATE TABLE test_extra (id BIGINT PRIMARY KEY)",),
    down_description="drops it",
    down=("DROP TABLE test_extra",),
    down_rewrites=True,
    down_drops=(("extra rows", "SELECT count(*) FROM test_extra"),),
)


def test_a_hub_with_data_is_upgraded_only_by_migrate_up(
    pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another machine's memctl must not change a shared schema under everyone else."""
    ok(cli("store", "a/b", "1"))
    monkeypatch.setattr(postgres_steps, "STEPS", (*postgres_steps.STEPS, P_EXTRA))
    monkeypatch.setattr(migrations, "LATEST_POSTGRES", EXTRA)
    from memctl.store.migrations import postgres

    monkeypatch.setattr(postgres.PostgresBackend, "steps", (*postgres_steps.STEPS, P_EXTRA))
    with pytest.raises(StorageError, match="run `memctl migrate up`"):
        open_database(pg_database, create=True)
    db = open_database(pg_database, create=True, migrate=False)
    try:
        outcome = migrations.migrate(db, EXTRA)
        assert outcome.applied and outcome.snapshot is None
        db.execute("INSERT INTO test_extra VALUES (1)")
        with pytest.raises(BadInput, match="pg_dump"):  # no snapshot: back it up yourself
            migrations.migrate(db, EXTRA - 1)
        outcome = migrations.migrate(db, EXTRA - 1, force=True)
        assert outcome.drops == [("extra rows", 1)]
        assert db.scalar("SELECT to_regclass('test_extra')") is None
    finally:
        db.close()


def test_migrate_up_splits_the_keywords_of_a_hub_with_data(pg_database: ServerUrl) -> None:
    """p003 recomputes every memory's keywords (active, archived, compressed) as a store
    makes them now; its down step puts back what p001/p002 made, where an identifier's
    parts find nothing. Neither needs --force: only the derived index changes."""
    ok(cli("store", "infra/hosts", '"primary db.r6g.xlarge replica redis-cluster/node_3"'))
    ok(cli("store", "infra/old_hosts", '"retired db.m5.large"'))
    ok(cli("delete", "infra/old_hosts"))
    ok(cli("store", "notes/big", '{"log": "' + "kafka-broker/partition_7 lag " * 100 + '"}'))
    db = open_database(pg_database, create=False, migrate=False)
    try:
        assert db.scalar("SELECT count(*) FROM memories WHERE compressed = 1") == 1
        now = db.all("SELECT memory_id, terms::text FROM keywords ORDER BY memory_id")
        assert len(now) == 3
        migrations.migrate(db, 2)
        old = db.all("SELECT memory_id, terms::text FROM keywords ORDER BY memory_id")
        assert "'db.r6g.xlarge'" in old[0][1] and old != now
        # at p002 the parts miss (commands refuse this schema: ask the index itself)
        index = backend_of(db).keywords
        assert index.keyword_search(db, '"r6g"', Filters("default", now=time.time()), 5) == []
    finally:
        db.close()
    refused = cli("search", "r6g", "--mode", "keyword")
    assert refused.exit_code == 3 and "memctl migrate up" in refused.stderr
    ok(cli("migrate", "up"))
    db = open_database(pg_database, create=False)
    try:
        assert db.all("SELECT memory_id, terms::text FROM keywords ORDER BY memory_id") == now
        index = backend_of(db).keywords
        found_now = index.keyword_search(db, '"r6g"', Filters("default", now=time.time()), 5)
        assert [memory_id for memory_id, _ in found_now] == [now[0][0]]
    finally:
        db.close()
    for query, path in [("r6g", "infra/hosts"), ("partition_7", "notes/big")]:
        found = orjson.loads(ok(cli("search", query, "--mode", "keyword", "--json")).stdout)
        assert [hit["path"] for hit in found["hits"]] == [path]
    found = orjson.loads(
        ok(cli("search", "m5", "--mode", "keyword", "--archived", "--json")).stdout
    )
    assert [hit["path"] for hit in found["hits"]] == ["infra/old_hosts"]


def test_the_vector_graph_is_built_with_ef_construction_400(pg_database: ServerUrl) -> None:
    """p004 and p006: every vector inserted (and a rebuild) uses ef_construction 200, then
    400; their down steps give the index 200 and pgvector's default back. None touches a
    row."""
    ok(cli("store", "a/b", "1"))

    def options(db: PostgresDatabase) -> Any:
        return db.scalar("SELECT reloptions FROM pg_class WHERE relname = 'ix_embeddings_hnsw'")

    db = open_database(pg_database, create=False)
    assert isinstance(db, PostgresDatabase)
    try:
        assert options(db) == ["ef_construction=400"]
        migrations.migrate(db, 5)
        assert options(db) == ["ef_construction=200"]
        migrations.migrate(db, 3)
        assert options(db) is None
        migrations.migrate(db, 6)
        assert options(db) == ["ef_construction=400"]
        assert db.scalar("SELECT count(*) FROM memories") == 1
    finally:
        db.close()


def test_waiting_vectors_step_down_puts_them_into_the_graph(pg_database: ServerUrl) -> None:
    """p005: vectors written in bulk wait outside the graph (``vector`` NULL); its down
    step puts them in before ``vector`` is NOT NULL again, and up again keeps them there.
    A row never holds both or neither."""
    rng = random.Random(17)
    db = open_database(pg_database, create=True)
    try:
        _thirty_vectors(db, rng)  # in the graph
        with db.write():
            ids = [_memory_row(db, "bulk", f"b{i}") for i in range(5)]
            vectors = {i: _unit(rng) for i in ids}
            backend_of(db).vectors.insert_many(
                db, [(i, v, "default", "bulk", "m", 0) for i, v in vectors.items()]
            )
        assert backend_of(db).vectors.waiting_count(db) == 5
        assert db.scalar("SELECT count(*) FROM embeddings WHERE vector IS NULL") == 5
        with pytest.raises(StorageError), db.write():
            db.execute("UPDATE embeddings SET waiting = vector WHERE vector IS NOT NULL")
        migrations.migrate(db, 4)
        assert db.scalar("SELECT count(*) FROM embeddings WHERE vector IS NULL") == 0
        assert "waiting" not in [
            r[0]
            for r in db.all(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'embeddings'"
            )
        ]
        migrations.migrate(db, 5)
        assert backend_of(db).vectors.waiting_count(db) == 0
        assert {i: v for i, (_, v) in backend_of(db).vectors.load(db, ids).items()} == vectors
    finally:
        db.close()


def test_a_walk_scans_the_waiting_vectors_beside_the_graph_while_few_wait(
    pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vector waiting outside the graph is found by a walk while at most
    WAITING_SCANNED wait (an exact scan beside it); with more, only once it is in the
    graph, though an exact scan of a small filter finds it either way."""
    rng = random.Random(19)
    db = open_database(pg_database, create=True)
    try:
        _thirty_vectors(db, rng)
        with db.write():
            memory_id = _memory_row(db, "ns", "late")
            query = _unit(rng)
            backend_of(db).vectors.insert_many(db, [(memory_id, query, "default", "ns", "m", 0)])
        knn = backend_of(db).vectors.knn

        def first(walk: bool) -> tuple[int, float]:
            scale = 0 if walk else 45
            monkeypatch.setattr(pg_vectors, "EXACT_SCAN_ROWS", 0 if walk else 20_000)
            monkeypatch.setattr(pg_vectors, "EXACT_SCAN_SCALE", scale)
            monkeypatch.setattr(pg_vectors, "_LARGE_SETS", {})
            return knn(db, query, 10, "m", "default", "ns")[0]

        assert first(walk=True)[0] == memory_id and first(walk=True)[1] < 1e-6
        assert first(walk=False)[0] == memory_id
        monkeypatch.setattr(pg_vectors, "WAITING_SCANNED", 0)  # "too many wait"
        assert first(walk=True)[0] != memory_id
        assert first(walk=False)[0] == memory_id
        with db.write():
            assert backend_of(db).vectors.graph_some(db, 10) == 1
        assert first(walk=True)[0] == memory_id
    finally:
        db.close()


def test_waiting_vectors_go_into_the_graph_on_two_connections_each_once(
    pg_database: ServerUrl,
) -> None:
    """lifecycle.graph puts waiting vectors into the graph on this connection and its
    sibling at once (SKIP LOCKED splits the rows): every one exactly once, a limit
    shared between the two."""
    rng = random.Random(23)
    db = open_database(pg_database, create=True)
    try:
        with db.write():
            ids = [_memory_row(db, "bulk", f"b{i}") for i in range(900)]
            backend_of(db).vectors.insert_many(
                db, [(i, _unit(rng), "default", "bulk", "m", 0) for i in ids]
            )
        heard: list[int] = []

        class Heard:
            def start(self, total: int, what: str) -> None:
                pass

            def advance(self, count: int) -> None:
                heard.append(count)

        assert graph.graph_waiting(db, 500, Heard()) == 500
        assert graph.waiting(db) == 400 and sum(heard) == 500
        assert graph.graph_waiting(db) == 400
        assert graph.waiting(db) == 0 and graph.graph_waiting(db) == 0
        assert db.scalar("SELECT count(*) FROM embeddings WHERE vector IS NOT NULL") == 900
    finally:
        db.close()


def test_migrate_status_and_down_on_a_server(pg_database: ServerUrl) -> None:
    ok(cli("store", "a/b", "1"))
    status = orjson.loads(ok(cli("migrate", "status", "--json")).stdout)
    latest = postgres_steps.LATEST
    assert (status["current"], status["latest"]) == (latest, latest)
    assert [m["name"] for m in status["migrations"]][:6] == [
        "p001_initial",
        "p002_events_and_tokens",
        "p003_keywords_split",
        "p004_hnsw_ef_construction",
        "p005_waiting_vectors",
        "p006_hnsw_ef_construction_400",
    ]
    refused = cli("migrate", "down", "--to", "0")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert cli("recall", "a/b").stdout.strip() == "1"


# ------------------------------------------------------------------ errors, locks


def test_a_write_blocked_past_the_busy_timeout_is_locked_exit_3(
    pg_database: ServerUrl,
) -> None:
    ok(cli("store", "a/b", "1"))
    holder = open_database(pg_database, create=False)
    try:
        with holder.write():
            holder.execute("SELECT id FROM memories FOR UPDATE")
            result = run("store", "a/b", "2", env={"MEMCTL_BUSY_TIMEOUT_MS": "300"})
        assert result.returncode == 3
        assert "is locked (waited 0.3 s)" in result.stderr
    finally:
        holder.close()
    assert cli("recall", "a/b").stdout.strip() == "1"


def test_archiving_keeps_a_write_committed_while_it_waited(
    pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archive's one statement (postgres/upkeep.archive_rows) waits for a writer
    holding a row and moves the version that writer committed, not the one before."""
    monkeypatch.setattr(pg_upkeep, "MOVE_IDS", 1)  # two rows: two statements
    ok(cli("store", "a/b", "1"))
    ok(cli("store", "a/c", "1"))
    writer = open_database(pg_database, create=False)
    mover = open_database(pg_database, create=False)
    moved: list[int] = []

    def archive() -> None:
        ids = [int(r[0]) for r in mover.all("SELECT id FROM memories ORDER BY id")]
        with mover.write():
            moved.append(moves.archive(mover, ids, "test", 1.0))

    try:
        with writer.write():
            writer.execute("UPDATE memories SET importance = 9 WHERE key = 'b'")
            thread = threading.Thread(target=archive)
            thread.start()
            for _ in range(2000):  # until the mover waits for the writer's row lock
                if writer.scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                ):
                    break
                time.sleep(0.005)
            else:
                raise AssertionError("the archive never waited for the writer's row lock")
        thread.join(timeout=30)
        assert moved == [2]
        rows = writer.all("SELECT key, importance, archive_reason FROM archive ORDER BY key")
        assert [tuple(r) for r in rows] == [("b", 9.0, "test"), ("c", 5.0, "test")]
        assert writer.scalar("SELECT count(*) FROM memories") == 0
    finally:
        writer.close()
        mover.close()


def test_export_as_sqlite_is_refused_with_what_to_do(
    pg_database: ServerUrl, tmp_path: Path
) -> None:
    result = cli("export", "--format", "sqlite", "-o", str(tmp_path / "copy.db"))
    assert result.exit_code == 2
    assert "PostgreSQL server" in result.stderr and "memctl import" in result.stderr
    assert not (tmp_path / "copy.db").exists()


def test_one_daemon_per_database_through_an_advisory_lock(
    pg_database: ServerUrl, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    first = subprocess.Popen(
        [sys.executable, "-m", "memctl", "daemon", "--interval-hours", "24"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stderr is not None
        line = first.stderr.readline()  # "started for ..." once the lock is held
        assert "started for" in line, line
        second = run("daemon", "--once", env={"HOME": "/tmp"})  # another "machine"
        assert second.returncode == 3
        assert f"a memctl daemon (pid {first.pid} on " in second.stderr
        assert not list(tmp_path.rglob("*.daemon.lock"))  # no lock file: a server lock
    finally:
        first.terminate()
        first.communicate(timeout=60)
    assert run("daemon", "--once", "--job", "cleanup").returncode == 0  # released


# ------------------------------------------------------------------ globs


@settings(max_examples=60, deadline=None, database=None)
@given(
    pattern=st.text(alphabet="ab%_\\*[?", min_size=1, max_size=5),
    text=st.text(alphabet="ab%_\\[?/", max_size=6),
)
def test_like_globs_match_what_memctl_globs_match(pg_admin: Any, pattern: str, text: str) -> None:
    """Only ``*`` is special: ``%``, ``_``, ``\\``, ``[`` and ``?`` are literal."""
    sql = pg_dialect.glob('%s::text COLLATE "C"', "%s")
    row = pg_admin.execute(f"SELECT {sql}", (text, pg_dialect.glob_param(pattern))).fetchone()
    assert row[0] == glob_match(pattern, text)


@pytest.fixture(scope="module")
def pg_admin(pg_server: Any) -> Any:
    import psycopg

    with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
        yield conn


# ------------------------------------------------------------------ filtered KNN


def _unit(rng: random.Random) -> bytes:
    values = np.array([rng.gauss(0, 1) for _ in range(384)], dtype="<f4")
    return (values / np.linalg.norm(values)).astype("<f4").tobytes()


def test_filtered_knn_is_exact_on_a_small_namespace_and_good_elsewhere(
    pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HNSW filters after the scan: a namespace of 1 % found almost nothing. The exact
    scan (selective filters) finds the true neighbours; iterative scans keep the rest."""
    rng = random.Random(7)
    db = open_database(pg_database, create=True)
    try:
        rows = [("small" if i % 100 == 0 else "big", f"k{i}", _unit(rng)) for i in range(2000)]
        with db.write():
            db.execute("DROP INDEX ix_embeddings_hnsw")  # built after the rows: seconds, not 15
            ids = [_memory_row(db, namespace, key) for namespace, key, _ in rows]
            backend_of(db).vectors.insert_many(
                db, [(i, v, "default", ns, "m", 0) for i, (ns, _, v) in zip(ids, rows, strict=True)]
            )
            assert backend_of(db).vectors.graph_some(db, 2000) == 2000  # out of waiting
            db.execute("SET LOCAL maintenance_work_mem = '64MB'")
            db.execute(
                "CREATE INDEX ix_embeddings_hnsw ON embeddings "
                "USING hnsw (vector vector_cosine_ops)"
            )
        matrix = np.frombuffer(b"".join(v for _, _, v in rows), dtype="<f4").reshape(2000, 384)
        query = _unit(rng)
        q = np.frombuffer(query, dtype="<f4")

        def exact(namespace: str | None) -> list[int]:
            order = np.argsort(1 - matrix @ q)
            return [ids[i] for i in order if namespace is None or rows[i][0] == namespace][:10]

        small = backend_of(db).vectors.knn(db, query, 10, "m", "default", "small")
        assert [i for i, _ in small] == exact("small")  # all 20 rows scanned: exact
        monkeypatch.setattr(pg_vectors, "EXACT_SCAN_ROWS", 5)  # force the index path
        monkeypatch.setattr(pg_vectors, "EXACT_SCAN_SCALE", 0)
        forced = [i for i, _ in backend_of(db).vectors.knn(db, query, 10, "m", "default", "small")]
        assert len(set(forced) & set(exact("small"))) >= 8  # iterative scan: not 0.04
        everyone = [i for i, _ in backend_of(db).vectors.knn(db, query, 10, "m", "default", None)]
        assert len(set(everyone) & set(exact(None))) >= 9
    finally:
        db.close()


def _memory_row(db: Any, namespace: str, key: str) -> int:
    """A bare memory of tenant "default" embedded with model "m" (inside a write)."""
    return int(
        db.scalar(
            "INSERT INTO memories (tenant, namespace, key, value, size, created_at, "
            "updated_at, content_hash, embedding_model) "
            "VALUES ('default', ?, ?, '\\x31', 1, 1, 1, 'h', 'm') RETURNING id",
            (namespace, key),
        )
    )


def _thirty_vectors(db: Any, rng: random.Random) -> None:
    with db.write():
        for i in range(30):
            memory_id = _memory_row(db, "ns", f"k{i}")
            backend_of(db).vectors.insert_many(
                db, [(memory_id, _unit(rng), "default", "ns", "m", 0)]
            )
        assert backend_of(db).vectors.graph_some(db, 100) == 30  # into the graph


def test_the_hnsw_walk_is_as_deep_as_k_asks_up_to_pgvectors_most(
    pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every walk of the graph starts with ef_search 800, with or without a namespace;
    k above it wins, up to pgvector's 1000 (a larger setting is an error). The iterative
    scan visits at most 2,000 tuples for search's 110 neighbours, 16 a neighbour beyond."""
    rng = random.Random(5)
    db = open_database(pg_database, create=True)
    try:
        _thirty_vectors(db, rng)
        monkeypatch.setattr(pg_vectors, "EXACT_SCAN_ROWS", 5)  # the index path
        monkeypatch.setattr(pg_vectors, "EXACT_SCAN_SCALE", 0)
        vectors = backend_of(db).vectors
        query = _unit(rng)

        def depth() -> int:
            return int(db.scalar("SHOW hnsw.ef_search"))

        def visits() -> int:
            return int(db.scalar("SHOW hnsw.max_scan_tuples"))

        assert depth() == pg_vectors.EF_SEARCH == 800  # the session's start-up settings
        assert visits() == 2000
        assert len(vectors.knn(db, query, 10, "m", "default", None)) == 10
        assert len(vectors.knn(db, query, 110, "m", "default", "ns")) == 30
        assert (depth(), visits()) == (800, 2000)
        vectors.knn(db, query, 900, "m", "default", "ns")
        assert (depth(), visits()) == (900, 14_400)
        assert len(vectors.knn(db, query, 25, "m", "default", None)) == 25
        assert (depth(), visits()) == (800, 2000)
        # search --limit 1000 asks for 1,010 neighbours: all 30 come back
        assert len(vectors.knn(db, query, 1010, "m", "default", None)) == 30
        assert depth() == pg_vectors.EF_SEARCH_MAX == 1000
        assert visits() == 16_160
    finally:
        db.close()


def test_the_exact_scan_line_grows_as_the_square_root_of_the_vectors(
    pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exact scan costs ~1 µs a row and the iterative scan ~n x k candidates for a
    filter keeping 1/n of the vectors: at 1M they cross near 45,000 rows, at 100k below
    the 20,000 that are cheap either way. The table's size is the planner's estimate."""
    assert pg_vectors.exact_scan_rows(-1) == pg_vectors.exact_scan_rows(0) == 20_000
    assert pg_vectors.exact_scan_rows(100_000) == 20_000
    assert pg_vectors.exact_scan_rows(1_000_000) == 45_000
    assert pg_vectors.exact_scan_rows(4_000_000) == 90_000
    db = open_database(pg_database, create=True)
    try:
        _thirty_vectors(db, random.Random(3))
        db.execute("ANALYZE embeddings")  # reltuples 30
        monkeypatch.setattr(pg_vectors, "EXACT_SCAN_ROWS", 5)
        monkeypatch.setattr(pg_vectors, "_LARGE_SETS", {})
        monkeypatch.setattr(pg_vectors, "_VECTORS", {})
        query = _unit(random.Random(4))

        def walked(scale: float) -> bool:
            """Whether a search of the 30 rows of "ns" walked the graph (the walk sets
            its depth; the exact scan leaves the session's setting alone)."""
            db.execute("SET hnsw.ef_search = 40")
            assert isinstance(db, PostgresDatabase)
            db.ef_search = 40
            monkeypatch.setattr(pg_vectors, "EXACT_SCAN_SCALE", scale)
            pg_vectors._LARGE_SETS.clear()
            assert len(backend_of(db).vectors.knn(db, query, 10, "m", "default", "ns")) == 10
            return int(db.scalar("SHOW hnsw.ef_search")) == pg_vectors.EF_SEARCH

        assert not walked(6)  # 6 x sqrt(30) = 32 rows: the 30 are scanned exactly
        assert walked(5)  # 27 rows: the graph
    finally:
        db.close()


def test_compact_force_rebuilds_the_graph_concurrently_with_its_options(
    pg_database: ServerUrl,
) -> None:
    """`memctl compact --force` is how a hub's graph made before p006 gets
    ef_construction 400: REINDEX CONCURRENTLY keeps the index's options, a copy left
    invalid by a rebuild cut off earlier is dropped first, and the neighbours stay."""
    rng = random.Random(11)
    db = open_database(pg_database, create=True)
    assert isinstance(db, PostgresDatabase)
    try:
        _thirty_vectors(db, rng)
        query = _unit(rng)
        before = backend_of(db).vectors.knn(db, query, 10, "m", "default", None)
        # what a REINDEX CONCURRENTLY killed half-way leaves behind
        db.execute(
            "CREATE INDEX ix_embeddings_hnsw_ccnew ON embeddings "
            "USING hnsw (vector vector_cosine_ops)"
        )
        db.execute(
            "UPDATE pg_index SET indisvalid = false "
            "WHERE indexrelid = 'ix_embeddings_hnsw_ccnew'::regclass"
        )
    finally:
        db.close()
    report = orjson.loads(ok(cli("compact", "--force", "--json")).stdout)
    assert report["rebuilt"] and report["count"] == 30
    db = open_database(pg_database, create=False)
    assert isinstance(db, PostgresDatabase)
    try:
        indexes = db.all(
            "SELECT c.relname, i.indisvalid, c.reloptions FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'embeddings'::regclass ORDER BY 1"
        )
        assert [tuple(row) for row in indexes] == [
            ("embeddings_pkey", True, None),
            ("ix_embeddings_hnsw", True, ["ef_construction=400"]),
            ("ix_embeddings_waiting", True, None),
        ]
        assert backend_of(db).vectors.knn(db, query, 10, "m", "default", None) == before
    finally:
        db.close()


def _vector_bytes(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


def test_vectors_round_trip_bit_for_bit(pg_database: ServerUrl) -> None:
    rng = random.Random(3)
    vector = _vector_bytes([rng.uniform(-1, 1) for _ in range(384)])
    ok(cli("store", "a/b", "1"))
    db = open_database(pg_database, create=False)
    try:
        row = db.one("SELECT id, tenant, namespace, content_hash FROM memories")
        with db.write():
            assert (
                backend_of(db).vectors.put(db, [(row[0], row[1], row[2], row[3], vector)], "m") == 1
            )
        assert backend_of(db).vectors.load(db, [row[0]]) == {row[0]: ("m", vector)}
    finally:
        db.close()


def test_url_helper_keeps_host_and_options() -> None:
    url = "postgresql://u@/postgres?host=/tmp/s&sslmode=disable"
    assert with_database(url, "x") == "postgresql://u@/x?host=/tmp/s&sslmode=disable"


def test_doctor_checks_a_hub_and_does_not_time_hooks_on_it(pg_database: ServerUrl) -> None:
    ok(cli("store", "knowledge/auth/jwt", "tokens rotate on use"))
    done = cli("doctor", "--json", "--runs", "0")
    found = {check["name"]: check for check in orjson.loads(done.stdout)["checks"]}
    database = found["database"]
    assert database["status"] == "ok" and database["memories"] == 1, database
    assert str(pg_database) in database["detail"]
    assert "keyword and vector indexes agree" in database["detail"]
    assert "search graph" not in found
    db = open_database(pg_database, create=False)
    try:
        with db.write():
            memory_id = int(db.scalar("SELECT id FROM memories"))
            backend_of(db).vectors.drop(db, [memory_id])
            backend_of(db).vectors.insert_many(
                db, [(memory_id, _unit(random.Random(2)), "default", "knowledge", "m", 0)]
            )
    finally:
        db.close()
    found = {
        check["name"]: check
        for check in orjson.loads(cli("doctor", "--json", "--runs", "0").stdout)["checks"]
    }
    assert found["database"]["status"] == "ok" and found["database"]["graph_waiting"] == 1
    assert found["search graph"]["status"] == "warn"
    assert "memctl reindex" in found["search graph"]["hint"]


def test_doctor_says_an_empty_hub_needs_setting_up(empty_database: str) -> None:
    found = {
        check["name"]: check
        for check in orjson.loads(cli("doctor", "--json", "--runs", "0").stdout)["checks"]
    }
    assert found["database"]["status"] == "fail"
    assert "memctl init" in found["database"]["hint"]


def test_a_postgresql_connection_carries_its_engine(pg_database: ServerUrl) -> None:
    from memctl.store.backend import sqlite
    from memctl.store.postgres.backend import POSTGRES

    db = open_database(pg_database, create=False)
    try:
        assert backend_of(db) is POSTGRES and POSTGRES is not sqlite()
        assert db.engine == POSTGRES.name == POSTGRES.dialect.NAME == "postgresql"
        assert repr(db.one("SELECT 1 AS a, 2 AS b")) == "Row({'a': 1, 'b': 2})"
        assert repr(db.one("SELECT 1, 2")) == "Row((1, 2))"  # two columns named ?column?
    finally:
        db.close()
