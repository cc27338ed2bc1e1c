"""Connections: driver choice, sqlite-vec loading, pragmas, transactions, error mapping.

``Database`` is one connection to either engine; this module holds what both share
(explicit transactions, savepoints, the query helpers) and SQLite's connection.
``opening.open_database`` chooses the engine: a PostgreSQL URL opens
``postgres.connection.PostgresDatabase`` (its driver, psycopg, is imported only then:
~100 ms of start-up the SQLite hot paths never pay).

Queries here go through the DB-API driver directly, never SQLAlchemy: its ~180 ms import
would take most of the 250 ms whole-process budget of ``store`` and ``recall``
(docs/budgets.md). Migrations are frozen SQL too (``migrations/sqlite_steps.py``).
"""

import importlib.util
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from memctl import limits
from memctl.errors import StorageError
from memctl.paths import Location
from memctl.store import migrations
from memctl.store.columns import text_key

if TYPE_CHECKING:
    from memctl.store.backend import Backend

BUSY_TIMEOUT = limits.Range(0, 86_400_000, "0 to 86400000 ms (a day)", whole=True)


def busy_timeout_ms() -> int:
    """How long a connection waits for a lock: ``MEMCTL_BUSY_TIMEOUT_MS``, else 30 s."""
    return int(limits.env_number("MEMCTL_BUSY_TIMEOUT_MS", 30_000, BUSY_TIMEOUT))


Row = sqlite3.Row


def _driver() -> ModuleType:
    """The standard ``sqlite3`` if it can load extensions, else ``sqlean`` (CI's Python
    is built without ``enable_load_extension``)."""
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    import sqlean

    module: ModuleType = sqlean
    return module


DRIVER = _driver()


def vec_extension_path() -> str:
    """Path of the sqlite-vec loadable library, found without importing ``sqlite_vec``
    (its import pulls in numpy, ~110 ms)."""
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise StorageError("the sqlite-vec package is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / "vec0")


DISK_FULL_BYTES = 1 << 20


def free_bytes(path: Path) -> int | None:
    """Bytes free to this user on the file system holding ``path`` (None if unknown)."""
    folder = path if path.is_dir() else path.parent
    try:
        info = os.statvfs(folder)
    except OSError:
        return None
    return info.f_bavail * info.f_frsize


def _storage_error(exc: Exception, path: Path) -> StorageError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StorageError(f"database {path} is locked (waited {busy_timeout_ms() / 1000:g} s)")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StorageError(f"database {path} is corrupt or not a SQLite file")
    if "disk is full" in text or "full" in text:
        return StorageError(f"database {path}: disk full")
    if "disk I/O error" in text:
        # On a completely full disk SQLite cannot even create the -wal/-shm files and
        # says "disk I/O error" (reproduced on a full tmpfs); the free space tells them
        # apart from a failing disk.
        free = free_bytes(path)
        if free is not None and free < DISK_FULL_BYTES:
            return StorageError(f"database {path}: disk full ({free // 1024} KiB free)")
    if "readonly" in text or "unable to open" in text:
        return StorageError(f"database {path} cannot be opened for writing: {text}")
    return StorageError(f"database {path}: {text}")


class Database:
    """One connection in autocommit mode; transactions are explicit.

    SQLite: ``write()`` is ``BEGIN IMMEDIATE`` (the concurrency recipe: a deferred
    transaction that reads before it writes fails under contention), so a write
    transaction is the only writer. ``read()`` is a deferred transaction giving one
    consistent snapshot. (PostgreSQL's are in ``postgres/connection.py``.)
    """

    engine = "sqlite"  # which engine's migrations and SQL (``backend.backend_of``)
    backend: "Backend | None" = None  # the engine's modules; None: SQLite's
    BEGIN_WRITE = "BEGIN IMMEDIATE"
    BEGIN_READ = "BEGIN"

    def __init__(self, conn: Any, location: Location) -> None:
        self.conn = conn
        self.location = location
        # an in-memory stand-in for a database that does not exist yet (reads see an
        # empty store and change nothing): ``open_database(..., create=False)``
        self.stand_in = False
        self._depth = 0
        self._sibling: Database | None = None

    @property
    def path(self) -> Path:
        """The SQLite file (SQLite-only code: migrations, snapshots)."""
        assert isinstance(self.location, Path), "a PostgreSQL database has no file"
        return self.location

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextmanager
    def write(self) -> Iterator["Database"]:
        """A short write transaction; nested calls join the outer one."""
        with self._transaction(self.BEGIN_WRITE):
            yield self

    @contextmanager
    def read(self) -> Iterator["Database"]:
        """A read snapshot; nested calls join the outer transaction."""
        with self._transaction(self.BEGIN_READ):
            yield self

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._run(begin)
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            with suppress(Exception):
                self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self._run("COMMIT")

    @contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[None]:
        """A savepoint: vec0 has no statement rollback, so each vec0 write gets one (and
        on PostgreSQL an error inside one leaves the rest of the transaction usable)."""
        self._run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._run(f"ROLLBACK TO {name}")
            self._run(f"RELEASE {name}")
            raise
        self._run(f"RELEASE {name}")

    def _run(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        try:
            return self.conn.execute(sql, params)
        except DRIVER.IntegrityError:
            raise
        except DRIVER.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """Run one statement and return the cursor."""
        return self._run(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]] | Iterator[Any]) -> Any:
        try:
            return self.conn.executemany(sql, rows)
        except DRIVER.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert many full rows into ``table`` (a bulk write: import). SQLite:
        ``executemany``; PostgreSQL streams them with ``COPY``."""
        marks = ", ".join("?" * len(columns))
        self.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def alive(self) -> bool:
        """Whether the connection still works (a server's can drop; a file's cannot)."""
        return True

    def has_table(self, name: str) -> bool:
        row = self.one(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        return bool(row[0])

    def schema_version(self) -> int:
        """The schema version, read cheaply (every command opens with this)."""
        return int(self.scalar("PRAGMA user_version"))

    def describe(self) -> dict[str, Any]:
        """What ``stats`` and ``doctor`` say about the database itself: where, how big."""
        path = self.path
        exists = path.is_file()
        wal = Path(f"{path}-wal")
        return {
            "engine": "sqlite",
            "path": str(path),
            "exists": exists,
            "size_bytes": path.stat().st_size if exists else 0,
            "wal_bytes": wal.stat().st_size if exists and wal.is_file() else 0,
            "schema_version": self.schema_version(),
        }

    def all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        return list(self._run(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self._run(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = self._run(sql, params).fetchone()
        return None if row is None else row[0]

    def sibling(self) -> "Database | None":
        """A second connection to the same file for work on a helper thread (kept open
        with this one; used by one thread at a time), or None for an in-memory database."""
        if str(self.path) == ":memory:":
            return None
        if self._sibling is None:
            self._sibling = connect(self.path, same_thread=False)
        return self._sibling

    def close(self) -> None:
        if self._sibling is not None:
            self._sibling.close()
            self._sibling = None
        self.conn.close()


def _create_private_file(path: Path) -> None:
    """Create the database file (and its folder) readable by the owner only; a
    ``.memctl/`` folder gets its ``.gitignore`` so the database is never committed."""
    from memctl.paths import DB_DIR, write_gitignore

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.parent.name == DB_DIR:
        write_gitignore(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)


def connect(path: Path, same_thread: bool = True) -> Database:
    """Open a connection with sqlite-vec loaded and the per-connection pragmas set."""
    timeout_ms = busy_timeout_ms()
    try:
        conn = DRIVER.connect(
            str(path),
            isolation_level=None,
            timeout=timeout_ms / 1000,
            check_same_thread=same_thread,
        )
        conn.row_factory = DRIVER.Row
        conn.enable_load_extension(True)
        conn.load_extension(vec_extension_path())
        conn.enable_load_extension(False)
        conn.create_function("memctl_key", 1, text_key, deterministic=True)
        conn.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except DRIVER.Error as exc:
        raise _storage_error(exc, path) from exc
    return Database(conn, path)


def open_sqlite(
    path: Path,
    *,
    create: bool,
    migrate: bool = True,
    notify: Callable[[str], None] | None = None,
) -> Database:
    """``open_database`` for a SQLite file (``opening.py`` chooses the engine).

    With ``create=False`` a missing file is not created: the caller gets an empty
    in-memory stand-in instead, so read-only commands on a fresh project change nothing.
    """
    if not path.exists():
        if not create:
            return empty_stand_in(migrate)
        _create_private_file(path)
        new = True
    elif path.is_dir():
        raise StorageError(f"database {path} is a directory")
    else:
        new = False
    db = connect(path)
    if new:  # before the first table, so compaction frees pages in short steps
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # (store/compact.vacuum)
    try:
        if migrate:
            migrations.upgrade_on_open(db, notify)
    except BaseException:
        db.close()
        raise
    return db


def empty_stand_in(migrate: bool = True) -> Database:
    """An empty in-memory database standing in for one that does not exist yet."""
    db = connect(Path(":memory:"))
    if migrate:
        migrations.upgrade_on_open(db)
    db.stand_in = True
    return db
