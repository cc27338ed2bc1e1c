"""The daemon as cron and systemd run it: real processes, the lock, signals mid-job."""

import os
import signal
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
from memctl.store.db import connect
from tests.conftest import SRC, cli, run
from tests.lifecycle.lifecycle_support import invariants

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
    """Counts that must agree after any interruption, with every invariant of
    ``lifecycle_support.invariants`` (read through memctl's own driver: a second SQLite
    library in this process would share the file's POSIX locks)."""
    db = connect(db_path)
    try:
        counts = invariants(db)
        both = db.scalar("SELECT count(*) FROM memories m JOIN archive a ON a.id = m.id")
        fts = db.scalar("SELECT count(*) FROM memories_fts")
        check = db.scalar("PRAGMA integrity_check")
    finally:
        db.close()
    assert check == "ok"
    return {"active": counts["active"], "archived": counts["archived"], "both": both, "fts": fts}


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
    assert "a memctl daemon (pid" in second.stderr and "is already running" in second.stderr
    assert f"pid {os.getpid()}" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert run("daemon", "--once").returncode == 0  # the lock is free again


def test_an_overlapping_once_run_waits_for_the_first(db_path: Path) -> None:
    """Two cron lines that overlap: the second waits for the first's lock, then runs."""
    assert run("store", "k/v", "1").returncode == 0
    first = DaemonLock(db_path, role="once")
    first.acquire()
    try:
        second = popen("daemon", "--once", "--job", "cleanup", "--wait", "60")
        assert second.stderr is not None
        line = second.stderr.readline()  # blocks until it is waiting: no sleep here
        assert line == (
            f"memctl daemon: a memctl daemon --once run (pid {os.getpid()}) holds this "
            "database's lock; waiting up to 60 s for it to finish\n"
        )
        assert second.poll() is None
    finally:
        first.release()
    _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert "memctl daemon: cleanup ok" in err


def test_sigterm_mid_job_finishes_it_and_leaves_a_consistent_db(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command as cron runs it (in-process, its real signal handlers), with SIGTERM
    sent to this process between cleanup's first and second batch: deterministic,
    where a signal timed from outside needed 40,000 rows to land mid-job (59 s loaded).
    test_sigterm_stops_a_waiting_daemon checks the same handlers in a real process."""
    from memctl.lifecycle import batching

    total = 600
    fill_expired(db_path, total)
    monkeypatch.setenv("MEMCTL_LIFECYCLE_BATCH", "100")  # six batches
    after = batching.Batcher._after
    sent = []

    def signal_after_first_batch(self: batching.Batcher, *args: float) -> None:
        if not sent:
            sent.append(len(self.sizes))
            os.kill(os.getpid(), signal.SIGTERM)
        after(self, *args)

    monkeypatch.setattr(batching.Batcher, "_after", signal_after_first_batch)
    previous = signal.getsignal(signal.SIGTERM)
    done = cli("daemon", "--once", "--json")
    assert signal.getsignal(signal.SIGTERM) is previous  # handlers restored
    assert done.exit_code == 0, done.stderr
    assert sent == [0]
    assert "SIGTERM received; finishing cleanup, then stopping" in done.stderr
    result = orjson.loads(done.stdout)
    assert result["stopped_by_signal"] is True
    assert [(r["job"], r["count"]) for r in result["runs"]] == [("cleanup", total)]
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
