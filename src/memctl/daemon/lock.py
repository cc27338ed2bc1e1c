"""One daemon per database.

SQLite: an exclusive ``flock`` on ``<db>.daemon.lock``, holding ``PID ROLE``. The file is
left in place on exit (removing lock files races with a starting daemon).

PostgreSQL: a session-level advisory lock held by the daemon's own connection, no lock
file (the daemons of a shared hub run on different machines); released when that
connection closes, however the process ends. The holder's pid, role and host are in its
session's ``application_name``, where a second run reads them.

A run that finds the lock held by a ``--once`` run waits for it (up to ``wait``
seconds): overlapping cron lines run one after the other instead of the second failing.
Held by a daemon that runs until stopped, it gives up at once: that daemon already runs
every job, and waiting would never end (docs/daemon.md).
"""

import fcntl
import os
import socket
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from memctl.daemon.clocks import Clock, SystemClock
from memctl.errors import StorageError
from memctl.paths import Location
from memctl.store.db import Database

DEFAULT_WAIT_S = 60.0  # how long a run waits for a --once run holding the lock
WAIT_STEP_S = 0.2


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".daemon.lock")


@dataclass(frozen=True)
class LockHolder:
    pid: str
    role: str  # "once" (a --once run: it ends soon) | "daemon" (runs until stopped)
    host: str | None = None  # PostgreSQL: the holder may be on another machine

    @property
    def described(self) -> str:
        where = f"pid {self.pid}" + (f" on {self.host}" if self.host else "")
        if self.role == "once":
            return f"a memctl daemon --once run ({where})"
        return f"a memctl daemon ({where})"


class DaemonLock:
    """The lock on ``location``; ``role`` is what this run is. ``db`` (PostgreSQL) is the
    connection whose session holds the advisory lock: the daemon's own."""

    def __init__(self, location: Location, role: str = "daemon", db: Database | None = None):
        self.location = location
        self.role = role
        self.db = db
        self.path = lock_path(location) if isinstance(location, Path) else None
        self._fd: int | None = None
        self._held = False

    @staticmethod
    def holder(fd: int) -> LockHolder:
        pid, _, role = os.pread(fd, 64, 0).decode(errors="replace").strip().partition(" ")
        return LockHolder(pid or "?", "once" if role == "once" else "daemon")

    def acquire(
        self,
        wait: float = 0.0,
        clock: Clock | None = None,
        on_wait: Callable[[LockHolder], None] = lambda holder: None,
    ) -> None:
        """Take the lock; wait up to ``wait`` seconds (on ``clock``) while a ``--once``
        run holds it, telling ``on_wait`` once. StorageError (exit 3) otherwise."""
        clock = clock or SystemClock()
        where = f"lock {self.path}" if self.path else f"advisory lock on {self.location}"
        deadline: float | None = None
        while True:
            holder = self._try()
            if holder is None:
                return
            if holder.role != "once" or wait <= 0:
                self._give_up()
                raise StorageError(
                    f"{holder.described} is already running for this database "
                    f"({where}); not starting a second one"
                )
            if deadline is None:
                deadline = clock.now() + wait
                on_wait(holder)
            left = deadline - clock.now()
            if left <= 0:
                self._give_up()
                raise StorageError(
                    f"{holder.described} still holds this database's lock ({where}) "
                    f"after {wait:g} s of waiting; giving up (see --wait)"
                )
            clock.sleep(min(WAIT_STEP_S, left), lambda: False)

    def _try(self) -> LockHolder | None:
        """Take the lock now, or say who holds it."""
        if self.path is None:
            return self._try_advisory()
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.holder(self._fd)
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()} {self.role}\n".encode(), 0)
        self._held = True
        return None

    def _try_advisory(self) -> LockHolder | None:
        from memctl.store.postgres.upkeep import try_daemon_lock

        assert self.db is not None, "the advisory lock lives on the daemon's connection"
        me = f"memctl {self.role} {os.getpid()} {_host()}"
        taken_by = try_daemon_lock(self.db, me)
        if taken_by is None:
            self._held = True
            return None
        _, role, pid, host = [*taken_by.split(" ", 3), "?", "?", "?"][:4]
        return LockHolder(pid, "once" if role == "once" else "daemon", host)

    def _give_up(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def release(self) -> None:
        if self._held and self.db is not None and self.path is None:
            from memctl.store.postgres.upkeep import release_daemon_lock

            with suppress(StorageError):  # a lost connection took the lock with it
                release_daemon_lock(self.db)
        self._held = False
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "DaemonLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _host() -> str:
    try:
        return socket.gethostname() or "?"
    except OSError:
        return "?"
