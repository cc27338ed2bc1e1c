"""One daemon per database: an exclusive ``flock`` on ``<db>.daemon.lock``, holding
``PID ROLE``. The file is left in place on exit (removing lock files races with a
starting daemon).

A run that finds the lock held by a ``--once`` run waits for it (up to ``wait``
seconds): overlapping cron lines run one after the other instead of the second failing.
Held by a daemon that runs until stopped, it gives up at once: that daemon already runs
every job, and waiting would never end (docs/daemon.md).
"""

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from memctl.daemon.clocks import Clock, SystemClock
from memctl.errors import StorageError

DEFAULT_WAIT_S = 60.0  # how long a run waits for a --once run holding the lock
WAIT_STEP_S = 0.2


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".daemon.lock")


@dataclass(frozen=True)
class LockHolder:
    pid: str
    role: str  # "once" (a --once run: it ends soon) | "daemon" (runs until stopped)

    @property
    def described(self) -> str:
        if self.role == "once":
            return f"a memctl daemon --once run (pid {self.pid})"
        return f"a memctl daemon (pid {self.pid})"


class DaemonLock:
    """An exclusive ``flock`` on ``<db>.daemon.lock``; ``role`` is what this run is."""

    def __init__(self, db_path: Path, role: str = "daemon") -> None:
        self.path = lock_path(db_path)
        self.role = role
        self._fd: int | None = None

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
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        clock = clock or SystemClock()
        deadline: float | None = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = self.holder(fd)
            if holder.role != "once" or wait <= 0:
                os.close(fd)
                raise StorageError(
                    f"{holder.described} is already running for this database "
                    f"(lock {self.path}); not starting a second one"
                )
            if deadline is None:
                deadline = clock.now() + wait
                on_wait(holder)
            left = deadline - clock.now()
            if left <= 0:
                os.close(fd)
                raise StorageError(
                    f"{holder.described} still holds this database's lock ({self.path}) "
                    f"after {wait:g} s of waiting; giving up (see --wait)"
                )
            clock.sleep(min(WAIT_STEP_S, left), lambda: False)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {self.role}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "DaemonLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
