"""One daemon per database: an exclusive ``flock`` on ``<db>.daemon.lock`` (holding the
pid). The file is left in place on exit (removing lock files races with a starting
daemon)."""

import fcntl
import os
from pathlib import Path

from memctl.errors import StorageError


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".daemon.lock")


class DaemonLock:
    """An exclusive, non-blocking ``flock`` on ``<db>.daemon.lock``."""

    def __init__(self, db_path: Path) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StorageError(
                f"another memctl daemon (pid {holder}) is already running for this "
                f"database (lock {self.path}); not starting a second one"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
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
