"""The served SQLite database's write-ahead log, kept from growing without bound.

SQLite checkpoints the WAL by itself every 1,000 pages, but it can only start the log
over when no reader is still using it, and it never makes the file smaller. Under a
server's steady readers that moment never comes: with 32 clients (70 % searches) at
100k memories the WAL grew to 700 MB during a 32 x 500 load run (docs/serve.md,
"Measured"). So while it runs, the server looks at the log's size every ``CHECK_S``
and, past ``wal_limit_bytes`` (``MEMCTL_SERVE_WAL_MB``, default 64), runs
``wal_checkpoint(TRUNCATE)`` on a connection of its own: it takes the write lock, copies
the log into the database, waits for the readers still on the log (readers that start
meanwhile read the database file) and cuts the log to zero. Writers wait for it at most
``WAIT_MS`` (a store waits up to its busy timeout, 30 s, so none fails); when readers
outlast that, it gives up and tries again on the next look.
"""

import sys
import threading
from pathlib import Path

from memctl import limits
from memctl.store.db import Database, connect
from memctl.store.upkeep import truncate_wal

CHECK_S = 1.0
WAIT_MS = 250
WAL_MB = limits.Range(1, 1_000_000, "1 to 1000000 (MB)", whole=True)


def wal_limit_bytes() -> int:
    """The WAL size past which the server truncates it: ``MEMCTL_SERVE_WAL_MB`` (64)."""
    return int(limits.env_number("MEMCTL_SERVE_WAL_MB", 64, WAL_MB)) * 1024 * 1024


class WalKeeper:
    """A thread that truncates ``db_path``'s WAL when it is past ``limit`` bytes."""

    def __init__(self, db_path: Path, limit: int) -> None:
        self.wal = Path(f"{db_path}-wal")
        self.db_path = db_path
        self.limit = limit
        self._db: Database | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memctl-wal", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self._db is not None:
            self._db.close()

    def _run(self) -> None:
        while not self._stop.wait(CHECK_S):
            try:
                self.check()
            except Exception as exc:  # a locked or vanished file: say so, look again later
                print(f"memctl serve: WAL checkpoint: {exc}", file=sys.stderr, flush=True)
                if self._db is not None:
                    self._db.close()
                    self._db = None

    def check(self) -> None:
        """Truncate the log if it is past the limit (when readers outlast the wait, the
        next look tries again)."""
        try:
            size = self.wal.stat().st_size
        except FileNotFoundError:
            return
        if size <= self.limit:
            return
        if self._db is None:
            self._db = connect(self.db_path, same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {WAIT_MS}")
        truncate_wal(self._db)
