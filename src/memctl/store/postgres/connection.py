"""A PostgreSQL connection: psycopg 3 over libpq, the same ``Database`` interface as SQLite.

- **URLs**: ``postgresql://USER@HOST:PORT/DBNAME?sslmode=...`` as libpq reads them, so
  the password comes from the URL, ``PGPASSWORD`` or ``~/.pgpass`` and every libpq
  parameter (``sslmode``, ``sslrootcert``, ``options``, ...) passes through. A password
  is never printed: messages name the masked URL (``paths.ServerUrl``) and any text the
  server or driver returns is scrubbed of it.
- **Session settings** go in the start-up packet (no extra round trip): ``lock_timeout``
  = the busy timeout SQLite waits for its lock (``MEMCTL_BUSY_TIMEOUT_MS``, 30 s), so a
  write blocked past it fails as "locked", exit 3; ``connect_timeout`` 10 s unless the
  URL or ``PGCONNECT_TIMEOUT`` says otherwise (libpq's default is to wait forever, and a
  hook must not hang on an unreachable hub); HNSW search settings (``postgres/vectors.py``).
  Settings in the URL's own ``options`` come after ours and win.
- **Transactions**: autocommit, explicit like SQLite's. ``write()`` is ``BEGIN`` (READ
  COMMITTED): unlike SQLite's ``BEGIN IMMEDIATE`` it does not exclude other writers,
  so the store locks what it reads before changing it (``dialect.FOR_UPDATE``; moves
  between tables are one ``DELETE ... RETURNING`` statement), inserts with ``ON
  CONFLICT`` and lets lifecycle batches skip rows another transaction holds
  (``dialect.SKIP_LOCKED``). ``read()`` is REPEATABLE READ: one snapshot, as SQLite's
  deferred transaction gives.
- **Parameters**: the store writes ``?`` and ``:name``; ``driver_sql`` rewrites them to
  psycopg's ``%s`` / ``%(name)s`` (quoted text, ``::`` casts and comments untouched).
- **Errors** map to ``StorageError`` (exit 3) with one line: cannot connect, locked,
  conflicting writers, missing pgvector, permissions, disk full.
"""

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.string import TextLoader

from memctl.errors import BadInput, StorageError
from memctl.paths import ServerUrl
from memctl.store import migrations
from memctl.store.db import Database, busy_timeout_ms, empty_stand_in
from memctl.store.postgres.backend import POSTGRES
from memctl.store.postgres.pgvector import missing_pgvector
from memctl.store.postgres.vector_type import Vector, vector_dumper
from memctl.store.postgres.vectors import SESSION_SETTINGS

CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "memctl"

# ------------------------------------------------------------------ parameters

_TOKENS = re.compile(
    r"""'(?:[^']|'')*'       # a string literal
      | "(?:[^"]|"")*"      # a quoted identifier
      | --[^\n]*            # a comment
      | ::                  # a cast, not a parameter
      | \?                  # a positional parameter
      | %                   # psycopg's escape character
      | (?<![\w:]):[A-Za-z_]\w*  # a named parameter
    """,
    re.VERBOSE,
)


def _rewrite(match: re.Match[str]) -> str:
    token = match.group(0)
    if token == "?":
        return "%s"
    if token == "%":
        return "%%"
    if token.startswith(":") and token != "::":
        return f"%({token[1:]})s"
    return token.replace("%", "%%")


@lru_cache(maxsize=2048)
def driver_sql(sql: str) -> str:
    """The store's SQL (``?`` / ``:name`` parameters) in psycopg's paramstyle."""
    return _TOKENS.sub(_rewrite, sql)


# ------------------------------------------------------------------ rows


class _NumberLoader(Loader):
    """``numeric`` (what ``sum`` of a BIGINT and ``avg`` give) as SQLite gives numbers: a
    whole number as ``int``, anything else as ``float``, never ``Decimal``."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return int(text) if text.lstrip("-").isdigit() else float(text)


class Row:
    """A result row read by position or by column name, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return tuple(self._values) == tuple(other._values)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __repr__(self) -> str:
        # by name; unnamed or repeated columns (SELECT 1, 2: "?column?" twice) by position
        if len(self._index) == len(self._values):
            return f"Row({ {name: self._values[i] for name, i in self._index.items()}!r})"
        return f"Row({tuple(self._values)!r})"


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


# ------------------------------------------------------------------ errors


def _scrub(text: str, url: ServerUrl) -> str:
    for secret in url.secrets:
        text = text.replace(secret, "***")
    return text.replace(url.url, url.masked)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].removeprefix("FATAL:").strip()


def storage_error(exc: BaseException, url: ServerUrl) -> StorageError:
    """One line for a failed statement; never the password."""
    line = _scrub(_first_line(exc), url)
    where = url.masked
    if isinstance(exc, pg_errors.LockNotAvailable):
        return StorageError(f"database {where} is locked (waited {busy_timeout_ms() / 1000:g} s)")
    if isinstance(exc, pg_errors.QueryCanceled):
        return StorageError(f"database {where}: the statement timed out: {line}")
    if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
        return StorageError(
            f"database {where}: a concurrent write conflicted with this one; nothing was "
            "changed, run it again"
        )
    if isinstance(exc, pg_errors.UniqueViolation):
        return StorageError(
            f"database {where}: another process wrote the same memory at the same time "
            f"({line}); nothing was changed, run it again"
        )
    if isinstance(exc, pg_errors.DiskFull | pg_errors.OutOfMemory):
        return StorageError(f"database {where}: the server is out of space: {line}")
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        return StorageError(f"database {where}: permission denied: {line}")
    if isinstance(exc, pg_errors.UndefinedFile | pg_errors.FeatureNotSupported) and (
        "vector" in line
    ):
        return missing_pgvector(url, line)
    if isinstance(exc, psycopg.OperationalError):
        return StorageError(f"database {where}: {line}")
    return StorageError(f"database {where}: {line}")


# ------------------------------------------------------------------ the connection


class PostgresDatabase(Database):
    """One psycopg connection in autocommit mode (see the module docstring)."""

    engine = "postgresql"
    backend = POSTGRES
    BEGIN_WRITE = "BEGIN"
    BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ"

    def __init__(self, conn: Any, url: ServerUrl) -> None:
        super().__init__(conn, url)
        self.url = url
        self._vector_oid: int | None = None
        self.ef_search = 0  # hnsw.ef_search set on this session (0: the start-up value)
        self.scan_tuples = 0  # hnsw.max_scan_tuples likewise

    def _rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def _run(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        try:
            if params:
                return self.conn.execute(driver_sql(sql), params)
            return self.conn.execute(sql)
        except psycopg.Error as exc:
            raise storage_error(exc, self.url) from exc

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        return self._run(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]] | Iterator[Any]) -> Any:
        try:
            cursor = self.conn.cursor()
            cursor.executemany(driver_sql(sql), rows)
            return cursor
        except psycopg.Error as exc:
            raise storage_error(exc, self.url) from exc

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """``COPY`` in text format: a stream, no statement per row (``executemany`` of
        100k memories took ~8 s of an import at 1M)."""
        self.copy_in(table, columns, rows)

    def copy_in(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        types: Sequence[int] = (),
    ) -> None:
        """``COPY table (columns) FROM STDIN``: text format, or binary when the column
        type oids are given (``types``). Inside the caller's transaction: a row the
        server rejects fails the whole ``COPY``, and the write rolls back."""
        binary = " (FORMAT BINARY)" if types else ""
        try:
            with (
                self.conn.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN{binary}") as copy,
            ):
                if types:
                    copy.set_types(list(types))
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            raise storage_error(exc, self.url) from exc

    def has_table(self, name: str) -> bool:
        """Whether this schema has table ``name``, as of now. Read from ``pg_class`` with
        the statement's snapshot, not with ``to_regclass``: that takes no lock, so it can
        answer from this session's stale catalog cache (a process that waited for
        another's migration saw "no table" and ran it again: DuplicateTable)."""
        return bool(
            self.scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relname = ? "
                "AND relnamespace = current_schema()::regnamespace AND relkind = 'r')",
                (name,),
            )
        )

    def schema_version(self) -> int:
        """``max(id)`` of ``memctl_migrations``; 0 before the first migration."""
        if self.in_transaction:
            if not self.has_table("memctl_migrations"):
                return 0
            return int(self.scalar("SELECT coalesce(max(id), 0) FROM memctl_migrations"))
        try:
            value = self.conn.execute("SELECT coalesce(max(id), 0) FROM memctl_migrations")
        except pg_errors.UndefinedTable:
            return 0
        except psycopg.Error as exc:
            raise storage_error(exc, self.url) from exc
        return int(value.fetchone()[0])

    @property
    def vector_oid(self) -> int:
        """pgvector's type oid in this database, registered for ``Vector`` parameters."""
        if self._vector_oid is None:
            oid = self.scalar("SELECT to_regtype('vector')::oid")
            if not oid:
                raise missing_pgvector(self.url)
            self.conn.adapters.register_dumper(Vector, vector_dumper(int(oid)))
            self._vector_oid = int(oid)
        return self._vector_oid

    def describe(self) -> dict[str, Any]:
        row = self.one(
            "SELECT current_database(), current_schema(), current_setting('server_version'), "
            "(SELECT extversion FROM pg_extension WHERE extname = 'vector'), "
            "(SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            " WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace "
            " AND c.relname IN ('memories', 'archive', 'embeddings', 'memory_text', "
            " 'lifecycle_log', 'snapshots', 'memctl_migrations'))"
        )
        return {
            "engine": "postgresql",
            "path": self.url.masked,
            "exists": True,
            "database": row[0],
            "schema": row[1],
            "server_version": row[2],
            "pgvector_version": row[3],
            "size_bytes": int(row[4]),
            "wal_bytes": 0,
            "schema_version": self.schema_version(),
        }

    def sibling(self) -> "Database | None":
        if self._sibling is None:
            self._sibling = connect_postgres(self.url)
        return self._sibling

    def alive(self) -> bool:
        return not self.conn.closed and not self.conn.broken


def _params(url: ServerUrl) -> dict[str, Any]:
    """libpq parameters: the URL's, plus memctl's defaults where it sets none."""
    try:
        params: dict[str, Any] = conninfo_to_dict(url.url)
    except psycopg.ProgrammingError as exc:
        raise BadInput(f"bad database URL {url.masked}: {_scrub(_first_line(exc), url)}") from None
    if "connect_timeout" not in params and not os.environ.get("PGCONNECT_TIMEOUT"):
        params["connect_timeout"] = CONNECT_TIMEOUT_S
    params.setdefault("application_name", APPLICATION_NAME)
    ours = f"-c lock_timeout={busy_timeout_ms()} " + " ".join(
        f"-c {name}={value}" for name, value in SESSION_SETTINGS
    )
    params["options"] = f"{ours} {params['options']}" if params.get("options") else ours
    return params


def connect_postgres(url: ServerUrl) -> PostgresDatabase:
    """A connection (autocommit, rows by name) or ``StorageError`` naming the masked URL."""
    try:
        conn = psycopg.connect(autocommit=True, row_factory=_row_factory, **_params(url))
    except psycopg.OperationalError as exc:
        raise StorageError(
            f"cannot connect to {url.masked}: {_scrub(_first_line(exc), url)}"
        ) from None
    conn.adapters.register_loader("numeric", _NumberLoader)
    # JSON results stay JSON text, as SQLite returns them (``dialect.group_object``)
    conn.adapters.register_loader("json", TextLoader)
    conn.adapters.register_loader("jsonb", TextLoader)
    return PostgresDatabase(conn, url)


def open_postgres(
    url: ServerUrl,
    *,
    create: bool,
    migrate: bool,
    notify: Callable[[str], None] | None,
) -> Database:
    """``open_database`` for a PostgreSQL URL. A database without memctl's tables is set
    up on first use by a command that writes (``create``); with ``create=False`` the
    caller gets an empty in-memory stand-in (reads change nothing). A database with data
    at an older schema is upgraded only by ``memctl migrate up`` (``migrations``)."""
    db = connect_postgres(url)
    try:
        if migrate:
            if not create and db.schema_version() == 0:
                db.close()
                return empty_stand_in()
            migrations.upgrade_on_open(db, notify)
    except BaseException:
        db.close()
        raise
    return db
