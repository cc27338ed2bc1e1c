"""kill -9 in the middle of an import's write transaction leaves the database as before."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from memctl.paths import Location
from memctl.store import open_database
from memctl.store.db import DRIVER
from tests.conftest import SRC, cli
from tests.transfer.transfer_testkit import T0, fingerprint, ok, store

COUNT = 8_000  # enough batches to be killed mid-write (30,000 took 15-23 s loaded)


def _big_export(path: Path) -> None:
    header = {"format": "memctl-export", "version": 1, "counts": {"total": COUNT}}
    with path.open("wb") as out:
        out.write(orjson.dumps(header) + b"\n")
        for n in range(COUNT):
            record = {
                "namespace": f"bulk/{n % 7}",
                "key": f"item-{n}",
                "value": {"n": n, "note": f"memory number {n} " * 12},
                "tags": ["bulk"],
                "updated_at": T0 - n,
            }
            out.write(orjson.dumps(record) + b"\n")


def _writer_active(db_path: Path) -> bool:
    """True while another connection holds the write lock (BEGIN IMMEDIATE cannot start)."""
    conn = DRIVER.connect(str(db_path), isolation_level=None, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except DRIVER.OperationalError:
        return True
    finally:
        conn.close()


_seen_writing: dict[str, float] = {}
WRITING_S = 0.3  # how long the import has held its write before the kill: several batches


def _written_several_batches(db_path: Location) -> bool:
    """The import has been inside its write transaction for ``WRITING_S``. SQLite: it
    holds the write lock (its WAL is no sign: the import's 16 MB page cache keeps the
    pages until commit, so a WAL over 1 MB could mean the commit itself, and the kill
    came too late now and then). PostgreSQL: its server process has a transaction id."""
    if isinstance(db_path, Path):
        writing = _writer_active(db_path)
    else:
        db = open_database(db_path, create=False)
        try:
            writing = bool(
                db.scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND backend_xid IS NOT NULL AND pid != pg_backend_pid()"
                )
            )
        finally:
            db.close()
    if not writing:
        return False
    first = _seen_writing.setdefault(str(db_path), time.monotonic())
    return time.monotonic() - first > WRITING_S


@pytest.mark.usefixtures("backend")
def test_sigkill_during_import_changes_nothing(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    store("notes/existing", "keep me")
    ok(cli("delete", "notes/existing"))
    store("-n", "bulk/0", "-k", "item-0", "--value", "already here")
    before = fingerprint(db_path)
    source = tmp_path / "big.jsonl"
    _big_export(source)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "memctl", "import", str(source), "--on-conflict", "overwrite"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    killed_mid_write = False
    while proc.poll() is None and time.monotonic() < deadline:
        # wait until the import is inside its write and has written several batches
        if _written_several_batches(db_path):
            proc.send_signal(signal.SIGKILL)
            killed_mid_write = True
            break
        time.sleep(0.01)
    proc.wait(timeout=30)
    assert killed_mid_write and proc.returncode == -signal.SIGKILL, proc.stderr
    assert fingerprint(db_path) == before  # not one imported row, not one index row

    # the database is healthy: the same import then runs to the end
    result = ok(cli("import", str(source), "--on-conflict", "overwrite", "--json"))
    report = orjson.loads(result.stdout)
    assert (report["created"], report["overwritten"]) == (COUNT - 1, 1)
