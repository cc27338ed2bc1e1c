"""Migrations across real processes: a kill -9 at any point leaves the old or the new
version, never one between; many processes opening an old database at once migrate it
once. Processes pause at named points (``runner.PAUSE_ENV``) so the test kills or
releases them there: no sleeping, no timing."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memctl.store.db import connect
from memctl.store.migrations import LATEST, migrate
from memctl.store.migrations.runner import PAUSE_ENV
from tests.conftest import SRC
from tests.store import migration_data as data


def spawn(db: Path, *args: str, pause: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "MEMCTL_DB": str(db)}
    if pause is not None:
        env[PAUSE_ENV] = pause
    return subprocess.Popen(
        [sys.executable, "-m", "memctl", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_paused(proc: subprocess.Popen[str], point: str) -> None:
    assert proc.stderr is not None
    line = proc.stderr.readline()  # blocks until the process reaches the point (or dies)
    if line != f"memctl: paused at {point}\n":
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"expected a pause at {point}, got {line!r}{err!r}{out!r}")


def release(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def check_intact(db_path: Path) -> dict[str, Any]:
    db = connect(db_path)
    try:
        assert db.scalar("PRAGMA integrity_check") == "ok"
        return data.dump(db)
    finally:
        db.close()


# Killed before each step of 1 -> latest and of latest -> 1, and around the commit.
UP_POINTS = [
    "locked",
    "snapshot",
    *(f"up-{v}" for v in range(2, LATEST + 1)),
    "commit",
    "committed",
]
DOWN_POINTS = ["snapshot", *(f"down-{v}" for v in range(LATEST, 1, -1)), "commit", "committed"]


@pytest.mark.parametrize(
    ("start", "target", "point"),
    [(1, LATEST, p) for p in UP_POINTS] + [(LATEST, 1, p) for p in DOWN_POINTS],
)
def test_kill_9_leaves_the_old_or_the_new_version(
    start: int, target: int, point: str, tmp_path: Path
) -> None:
    path = tmp_path / "memctl.db"
    data.create(path, start).close()
    before = check_intact(path)
    after = data.migrated_up(data.dump(data.create(tmp_path / "reference.db", target)), start)

    # down from the latest drops its events and tokens: --force
    args = ["up"] if target > start else ["down", "--to", str(target), "--force"]
    proc = spawn(path, "migrate", *args, pause=point)
    wait_paused(proc, point)
    proc.kill()
    proc.wait()

    state = check_intact(path)
    assert state == (after if point == "committed" else before)
    for snapshot in tmp_path.glob("memctl.db.*.bak"):  # complete copies, or none at all
        assert check_intact(snapshot) == before
    db = connect(path)
    migrate(db, target, force=True)  # the next run finishes the job as if nothing happened
    assert data.dump(db) == after


def test_many_processes_migrate_once_and_all_see_the_new_version(tmp_path: Path) -> None:
    path = tmp_path / "memctl.db"
    data.create(path, 1).close()
    # The migrator holds the lock; four commands have read the old version before it
    # commits (paused at "open"), so each must wait for the lock and re-read.
    migrator = spawn(path, "migrate", "up", pause="locked")
    wait_paused(migrator, "locked")
    stores = [spawn(path, "store", f"team/k{i}", f"v{i}", pause="open") for i in range(4)]
    for proc in stores:
        wait_paused(proc, "open")
    for proc in stores:
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
    code, out, err = release(migrator)
    assert code == 0, err
    assert f"schema 1 -> {LATEST}" in out
    results = []
    for proc in stores:
        _, err = proc.communicate(timeout=120)
        results.append((proc.returncode, err))
    assert all(code == 0 for code, _ in results), results
    assert not any("upgraded" in err for _, err in results)  # only the migrator migrated

    db = connect(path)
    assert db.scalar("PRAGMA user_version") == LATEST
    applied = [r[0] for r in db.all("SELECT id FROM memctl_migrations ORDER BY id")]
    assert applied == list(range(1, LATEST + 1))
    assert len(list(tmp_path.glob("memctl.db.*.bak"))) == 1
    stored = {r[0] for r in db.all("SELECT key FROM memories WHERE namespace = 'team'")}
    assert stored == {f"k{i}" for i in range(4)}


def test_a_hook_upgrades_an_old_database_and_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / "memctl.db"
    data.create(path, 2).close()
    env = {**os.environ, "PYTHONPATH": str(SRC), "MEMCTL_DB": str(path)}
    args = [sys.executable, "-m", "memctl", "hook", "post-task", "--no-stdin", "--task-id", "t"]
    first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0
    (line,) = [x for x in first.stderr.splitlines() if "upgraded" in x]
    assert line.startswith(f"memctl: upgraded the database schema from 2 to {LATEST}; snapshot")
    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "upgraded" not in second.stderr
    assert connect(path).scalar("PRAGMA user_version") == LATEST
