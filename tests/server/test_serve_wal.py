"""A served SQLite database's WAL stays bounded under steady readers (server/wal.py): the
server truncates it once it passes MEMCTL_SERVE_WAL_MB."""

import os
import threading
import time
from pathlib import Path

import httpx

from memctl.store import open_database
from tests.server.serve_support import keyword_policies, make_token, rows, server_env, start


def test_the_server_truncates_its_wal_under_steady_readers(tmp_path: Path) -> None:
    db = tmp_path / "memctl.db"
    open_database(db, create=True).close()
    token = make_token(db, "acme")
    server = start(db, keyword_policies(tmp_path), {"MEMCTL_SERVE_WAL_MB": "1"})
    wal = Path(f"{db}-wal")
    stop = threading.Event()
    reads: list[int] = []

    def reader() -> None:  # what kept SQLite's own checkpoints from restarting the log
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as c:
            while not stop.is_set():
                reads.append(c.get("/api/memories", params={"limit": 50}).status_code)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    try:
        for thread in readers:
            thread.start()
        client = server.client(token)
        for n in range(4):  # 600 kB of hex each (stored compressed: ~300 kB of WAL and more)
            big = os.urandom(300_000).hex()
            answer = client.post("/api/memories", json={"path": f"notes/big-{n}", "value": big})
            assert answer.status_code == 201, answer.text
        # the server checks every second; without it the log never shrinks while the
        # server holds its connections open (it only restarts from its beginning)
        deadline = time.monotonic() + 30
        while wal.stat().st_size > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert wal.stat().st_size == 0
    finally:
        stop.set()
        for thread in readers:
            thread.join(60)
        code, err = server.stop()
    assert code == 0, err
    assert reads and set(reads) == {200}
    assert rows(db, "SELECT count(*) FROM memories WHERE key LIKE 'big-%'") == [(4,)]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]


def test_a_bad_wal_limit_is_refused_before_listening(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "memctl.db"
    open_database(db, create=True).close()
    env = server_env(db, keyword_policies(tmp_path), {"MEMCTL_SERVE_WAL_MB": "lots"})
    done = subprocess.run(
        [sys.executable, "-m", "memctl", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "MEMCTL_SERVE_WAL_MB" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not Path(f"{db}.sock").exists()
