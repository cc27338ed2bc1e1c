"""The daemon as cron and systemd run it: real processes, the lock, signals mid-job."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from memctl.clock import parse_time
from memctl.daemon.jobs import JOBS
from memctl.daemon.lock import DaemonLock
from memctl.lifecycle.policies import PACKAGED_POLICIES
from memctl.store import log, open_database
from tests.conftest import SRC, run

sys.path.insert(0, str(SRC.parent / "scripts"))
import benchlib

NOW = "2026-03-01T12:00:00Z"


@pytest.fixture(autouse=True)
def keyword_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(PACKAGED_POLICIES.read_text().replace("all-MiniLM-L6-v2", "none"))
    monkeypatch.setenv("MEMCTL_POLICIES", str(path))
    monkeypatch.setenv("MEMCTL_NOW", NOW)


def fill_expired(db_path: Path, count: int) -> None:
    """``count`` memories in lazy/scheduled namespaces, all expired an hour ago."""
    now = parse_time(NOW)
    benchlib.populate(
        db_path,
        count,
        now=now,
        namespaces=("coordination", "session", "swarm/shared"),
        expires_at=now - 3600,
    )


def popen(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "memctl", *args],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def consistency(db_path: Path) -> dict[str, int]:
    """Counts that must agree after any interruption (no vec0 needed to read them)."""
    conn = sqlite3.connect(db_path)
    try:
        active = conn.execute("SELECT count(*) FROM memories").fetchone()[0]
        archived = conn.execute("SELECT count(*) FROM archive").fetchone()[0]
        both = conn.execute(
            "SELECT count(*) FROM memories m JOIN archive a ON a.id = m.id"
        ).fetchone()[0]
        fts = conn.execute("SELECT count(*) FROM memories_fts").fetchone()[0]
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    assert check == "ok"
    return {"active": active, "archived": archived, "both": both, "fts": fts}


def test_once_runs_every_job_and_logs_it(db_path: Path) -> None:
    fill_expired(db_path, 300)
    done = run("daemon", "--once", "--json")
    assert done.returncode == 0, done.stderr
    result = orjson.loads(done.stdout)
    assert [r["job"] for r in result["runs"]] == list(JOBS)
    assert all(r["outcome"] == "ok" for r in result["runs"]), done.stdout
    assert result["runs"][0]["count"] == 300  # cleanup moved every expired memory
    lines = done.stderr.strip().splitlines()
    assert [line.split()[2] for line in lines] == list(JOBS)
    assert consistency(db_path) == {"active": 0, "archived": 300, "both": 0, "fts": 300}
    db = open_database(db_path, create=False)
    logged = log.recent(db, limit=50, action="daemon")
    db.close()
    assert sorted(row["details"]["job"] for row in logged) == sorted(JOBS)
    assert all(row["details"]["trigger"] == "once" for row in logged)
    quiet = run("daemon", "--once", "-q")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")


def test_a_second_daemon_exits_3_with_a_clear_message(db_path: Path) -> None:
    run("store", "k/v", "1")
    with DaemonLock(db_path):
        second = run("daemon", "--once")
    assert second.returncode == 3
    assert "another memctl daemon" in second.stderr
    assert f"pid {os.getpid()}" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert run("daemon", "--once").returncode == 0  # the lock is free again


def test_sigterm_mid_job_finishes_it_and_leaves_a_consistent_db(db_path: Path) -> None:
    total = 40_000
    fill_expired(db_path, total)
    proc = popen("daemon", "--once")
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if conn.execute("SELECT count(*) FROM archive").fetchone()[0]:
                break  # cleanup has committed its first batch: it is mid-job
            time.sleep(0.01)
    finally:
        conn.close()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "SIGTERM received; finishing cleanup, then stopping" in err
    assert "memctl daemon: cleanup ok: 40000" in err
    assert "decay" not in err  # nothing after the current job
    assert consistency(db_path) == {"active": 0, "archived": total, "both": 0, "fts": total}


def test_sigterm_stops_a_waiting_daemon(db_path: Path) -> None:
    assert run("store", "a/b", "1").returncode == 0
    proc = popen("daemon", "--interval-hours", "1")
    assert proc.stderr is not None
    started = proc.stderr.readline()
    assert "memctl daemon: started" in started
    assert "every 1 hours" in started
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "SIGINT received" in err
    assert time.monotonic() - began < 5
