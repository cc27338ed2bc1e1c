"""SIGKILL during cleanup, prune and compact: nothing lost, duplicated or out of index.

A database of 12,000 memories (with vectors) is built once with ``scripts/benchlib``;
each case copies it, starts a real ``memctl`` process, kills it with SIGKILL at a
chosen point (after N rows moved, or after a delay) and checks the invariants:
active + archived (+ purged, for prune) == original, no id in both tables, one vector
per memory that has one (with the right ``archived`` flag), one keyword row per memory.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lifecycle_support import DAY, T0, add_vectors, invariants, open_db

from memctl.paths import Location, ServerUrl
from memctl.store import open_database
from memctl.store.db import Database

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import benchlib  # noqa: E402

COUNT = 12_000
NAMESPACES = ("coordination", "session", "learning", "errors")


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kill") / "base.db"
    benchlib.populate(path, COUNT, now=T0, namespaces=NAMESPACES, expires_at=T0 - 60)
    db = open_db(path)
    add_vectors(db)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def copy_db(base: Path, target: Path) -> Path:
    shutil.copy(base, target)
    return target


def start(db: Location, now: float, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "MEMCTL_DB": db.url if isinstance(db, ServerUrl) else str(db),
        "MEMCTL_NOW": str(now),
        "MEMCTL_LIFECYCLE_BATCH": "500",  # many commits, so each kill point lands mid-run
    }
    return subprocess.Popen(
        [sys.executable, "-m", "memctl", *args, "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_when(proc: subprocess.Popen[bytes], ready, timeout: float = 60) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()`` is true; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.kill()
    raise AssertionError("the process neither finished nor reached the kill point")


def count(db: Database, table: str) -> int:
    return int(db.scalar(f"SELECT count(*) FROM {table}"))


def after_delay(seconds: float):
    started = time.monotonic()
    return lambda: time.monotonic() - started >= seconds


@pytest.mark.parametrize("point", ["delay:0.4", "rows:1", "rows:2000", "rows:8000"])
def test_kill_cleanup(base_db: Path, tmp_path: Path, point: str) -> None:
    path = copy_db(base_db, tmp_path / "m.db")
    _kill_cleanup_and_rerun(open_db(path), path, point)


def _kill_cleanup_and_rerun(
    watcher: Database, path: Location, point: str, total: int = COUNT
) -> None:
    kind, value = point.split(":")
    proc = start(path, T0, "cleanup")
    if kind == "delay":
        ready = after_delay(float(value))
    else:
        ready = lambda: count(watcher, "archive") >= int(value)  # noqa: E731
    killed = kill_when(proc, ready)
    counts = invariants(watcher)
    assert counts["active"] + counts["archived"] == total
    assert counts["vectors"] == total
    if kind == "rows":
        assert killed and 0 < counts["archived"] < total
    # a rerun finishes the job from where the killed one stopped
    rerun = start(path, T0, "cleanup")
    assert rerun.wait(120) == 0
    assert invariants(watcher) == {"active": 0, "archived": total, "vectors": total}


PG_COUNT = 4_000  # 8 batches of 500: a kill after 1,500 moved lands mid-run


@pytest.mark.postgres
def test_kill_cleanup_on_postgresql(pg_database: ServerUrl) -> None:
    """Each batch is a transaction the server rolls back when its client dies: killed
    mid-run (the SQLite cases above cover the edges), nothing is lost or half-moved."""
    db = open_database(pg_database, create=False)
    try:
        # cleanup never touches vectors on PostgreSQL (docs/storage.md); without the HNSW
        # index the vectors go in at once instead of a graph insert each
        db.execute("DROP INDEX ix_embeddings_hnsw")
    finally:
        db.close()
    benchlib.populate(pg_database.url, PG_COUNT, now=T0, namespaces=NAMESPACES, expires_at=T0 - 60)
    watcher = open_database(pg_database, create=False)
    try:
        add_vectors(watcher)
        _kill_cleanup_and_rerun(watcher, pg_database, "rows:1500", PG_COUNT)
    finally:
        watcher.close()


@pytest.fixture(scope="module")
def archived_db(base_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = copy_db(base_db, tmp_path_factory.mktemp("kill-prune") / "archived.db")
    assert start(path, T0, "cleanup").wait(120) == 0
    return path


@pytest.mark.parametrize("point", ["delay:0.4", "rows:1", "rows:5000"])
def test_kill_prune(archived_db: Path, tmp_path: Path, point: str) -> None:
    path = copy_db(archived_db, tmp_path / "m.db")
    watcher = open_db(path)
    important = int(watcher.scalar("SELECT count(*) FROM archive WHERE importance >= 8"))
    ids_before = {r[0] for r in watcher.all("SELECT id FROM archive")}
    kind, value = point.split(":")
    proc = start(path, T0 + 200 * DAY, "prune")
    if kind == "delay":
        ready = after_delay(float(value))
    else:
        ready = lambda: COUNT - count(watcher, "archive") >= int(value)  # noqa: E731
    killed = kill_when(proc, ready)
    counts = invariants(watcher)
    ids_after = {r[0] for r in watcher.all("SELECT id FROM archive")}
    assert ids_after <= ids_before and counts["active"] == 0
    purged = ids_before - ids_after
    if purged:  # only unimportant archives were purged
        marks = ",".join("?" * len(ids_after))
        kept_important = watcher.scalar(
            f"SELECT count(*) FROM archive WHERE importance >= 8 AND id IN ({marks})",
            list(ids_after),
        )
        assert kept_important == important
    if kind == "rows":
        assert killed and important < counts["archived"] < COUNT
    assert start(path, T0 + 200 * DAY, "prune").wait(120) == 0
    assert invariants(watcher)["archived"] == important


@pytest.fixture(scope="module")
def fragmented_db(base_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from memctl.store import moves

    path = copy_db(base_db, tmp_path_factory.mktemp("kill-compact") / "fragmented.db")
    db = open_db(path)
    ids = [r[0] for r in db.all("SELECT id FROM memories ORDER BY id")]
    with db.write():
        moves.purge(db, [i for n, i in enumerate(ids) if n % 4])
    db.close()
    return path


@pytest.mark.parametrize("delay", [0.3, 0.6, 1.0, 1.6])
def test_kill_compact(fragmented_db: Path, tmp_path: Path, delay: float) -> None:
    path = copy_db(fragmented_db, tmp_path / "m.db")
    watcher = open_db(path)
    before = invariants(watcher)
    proc = start(path, T0, "compact")
    kill_when(proc, after_delay(delay))
    watcher.close()
    watcher = open_db(path)
    assert invariants(watcher) == before
    assert start(path, T0, "compact").wait(120) == 0
    assert invariants(watcher) == before
