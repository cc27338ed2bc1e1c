"""SQLite's side of migrations: where it keeps the version, the lock and the snapshot
(``SQLiteBackend``), and ``schema_sql``, the canonical text of a database's schema. The
steps themselves are in ``sqlite_steps.py``.

``schema.sql`` is the schema of a freshly migrated database
(``python -m memctl.store.migrations``), kept equal to one by
tests/store/test_migrations.py.

Version: ``PRAGMA user_version`` (one header read on every open) plus one
``memctl_migrations`` row per applied step. Lock: the migration is one ``BEGIN
IMMEDIATE`` transaction; other processes wait for it (busy timeout) and then read the new
version. Snapshot: ``VACUUM INTO`` from a second connection while the migrating one holds
the write lock, so the copy is exactly the committed state the migration starts from.
"""

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from memctl.errors import StorageError
from memctl.store.copies import copy_into
from memctl.store.migrations.runner import Statement, Step
from memctl.store.migrations.sqlite_steps import LATEST, STEPS

if TYPE_CHECKING:
    from memctl.store.db import Database


class SQLiteBackend:
    """The runner's view of one SQLite database (see ``runner.Backend``)."""

    steps: Sequence[Step] = STEPS
    upgrades_on_open = True  # one file, one machine: upgrading memctl upgrades it
    backup_advice = "an in-memory database has no file to copy"

    def __init__(self, db: "Database") -> None:
        self.db = db
        self.location = str(db.path)

    @property
    def in_memory(self) -> bool:
        return self.location == ":memory:"

    def check(self) -> None:
        names = {row[0] for row in self.db.all("SELECT name FROM sqlite_master")}
        names = {name for name in names if not name.startswith("sqlite_")}
        if names and "memctl_migrations" not in names and self.version() == 0:
            raise StorageError(f"{self.location} is a SQLite database but not a memctl database")

    def version(self) -> int:
        return int(self.db.scalar("PRAGMA user_version"))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if not self.in_memory and self.version() == 0:
            # a new database: WAL lets readers work while one process writes (set
            # outside a transaction, once; it is stored in the file)
            self.db.execute("PRAGMA journal_mode = WAL")
        with self.db.write():
            yield

    def execute(self, statement: Statement) -> None:
        if isinstance(statement, str):
            self.db.execute(statement)
        else:
            statement(self.db)

    def count(self, sql: str) -> int:
        return int(self.db.scalar(sql))

    def applied(self) -> dict[int, float]:
        if not self.db.scalar(
            "SELECT count(*) FROM sqlite_master WHERE name = 'memctl_migrations'"
        ):
            return {}
        rows = self.db.all("SELECT id, applied_at FROM memctl_migrations")
        return {int(row[0]): float(row[1]) for row in rows}

    def record(self, step: Step, up: bool) -> None:
        if up:
            self.db.execute(
                "INSERT OR REPLACE INTO memctl_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, time.time()),
            )
        elif step.version > 1:  # step 1's down dropped the table itself
            self.db.execute("DELETE FROM memctl_migrations WHERE id = ?", (step.version,))
        self.db.execute(f"PRAGMA user_version = {step.version if up else step.version - 1}")

    def has_data(self) -> bool:
        """Any row in a plain table (virtual tables hold copies of the plain ones)."""
        for table in plain_tables(self.db):
            if table != "memctl_migrations" and self.db.scalar(
                f'SELECT EXISTS (SELECT 1 FROM "{table}")'
            ):
                return True
        return False

    def snapshot_name(self, version: int) -> str | None:
        if self.in_memory:
            return None
        path = Path(self.location)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = path.with_name(f"{path.name}.schema-{version}.{stamp}.bak")
        serial = 1
        while target.exists():
            serial += 1
            target = path.with_name(f"{path.name}.schema-{version}.{stamp}-{serial}.bak")
        return str(target)

    def snapshot(self, version: int) -> str | None:
        """``VACUUM INTO`` a temporary name (mode 0600), then rename into place."""
        name = self.snapshot_name(version)
        reader = self.db.sibling()  # VACUUM cannot run inside the migration's transaction
        if name is None or reader is None:
            return None
        target = Path(name)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StorageError(
                f"cannot write a snapshot next to {self.location} ({exc.strerror}): "
                "nothing was migrated"
            ) from None
        try:
            copy_into(reader, temp)
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return name

    def discard(self, snapshot: str) -> None:
        Path(snapshot).unlink(missing_ok=True)


def plain_tables(db: "Database") -> list[str]:
    """Tables that are neither virtual, nor a virtual table's shadow, nor SQLite's own."""
    rows = db.all("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    virtual = [row[0] for row in rows if str(row[1]).upper().startswith("CREATE VIRTUAL")]
    return sorted(
        name
        for name, sql in ((row[0], str(row[1])) for row in rows)
        if not name.startswith("sqlite_")
        and not sql.upper().startswith("CREATE VIRTUAL")
        and not any(name.startswith(f"{v}_") for v in virtual)
    )


# ------------------------------------------------------------------ schema.sql


def schema_sql(db: "Database") -> str:
    """The schema of ``db`` as schema.sql holds it: every table, virtual table and
    index in a canonical layout (one column per line, names sorted), without SQLite's
    own tables and the shadow tables of vec0 and FTS5. Two databases with the same
    schema give the same text however their DDL was spaced."""
    rows = db.all(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY tbl_name, type DESC, name"
    )
    virtual = [row[1] for row in rows if str(row[3]).upper().startswith("CREATE VIRTUAL")]
    parts = []
    for _, _, table, sql in rows:
        if any(table.startswith(f"{v}_") for v in virtual):
            continue  # vec0 / FTS5 internals: they follow the extension's version
        parts.append(_layout(str(sql)) + ";")
    version = int(db.scalar("PRAGMA user_version"))
    header = [
        f"-- memctl's SQLite schema at version {version}"
        + (f" ({STEPS[version - 1].name})." if 0 < version <= LATEST else "."),
        "-- Generated from a freshly migrated database: never edit by hand; change the",
        "-- schema with a new migration (docs/migrations.md), then regenerate:",
        "--   python -m memctl.store.migrations > src/memctl/store/schema.sql",
        "-- Left out: SQLite's own tables and the shadow tables of vec0 and FTS5.",
    ]
    return (
        "\n".join(header) + "\n\n" + "\n\n".join(parts) + f"\n\nPRAGMA user_version = {version};\n"
    )


def _tokens(sql: str) -> list[str]:
    """Words, quoted names and strings, and the punctuation ( ) , = as tokens."""
    tokens: list[str] = []
    i = 0
    while i < len(sql):
        char = sql[i]
        if char.isspace():
            i += 1
        elif char in "'\"":
            end = i + 1
            while end < len(sql):
                if sql[end] == char:
                    if end + 1 < len(sql) and sql[end + 1] == char:
                        end += 2  # a doubled quote inside the string
                        continue
                    break
                end += 1
            tokens.append(sql[i : end + 1])
            i = end + 1
        elif char in "(),=":
            tokens.append(char)
            i += 1
        else:
            end = i
            while end < len(sql) and not sql[end].isspace() and sql[end] not in "'\"(),=":
                end += 1
            tokens.append(sql[i:end])
            i = end
    return tokens


def _join(tokens: list[str]) -> str:
    text = ""
    for token in tokens:
        if not text or token in (")", ",", "=") or text.endswith(("(", "=")):
            text += token
        else:
            text += " " + token
    return text


def _layout(sql: str) -> str:
    """A CREATE TABLE with one column (or constraint) per line; anything else on one."""
    tokens = _tokens(sql)
    if not (len(tokens) > 2 and tokens[0].upper() == "CREATE" and "(" in tokens):
        return _join(tokens)
    if tokens[1].upper() != "TABLE" and tokens[1:3] != ["VIRTUAL", "TABLE"]:
        return _join(tokens)
    start = tokens.index("(")
    depth, end = 0, len(tokens)
    items: list[list[str]] = []
    current: list[str] = []
    for index in range(start + 1, len(tokens)):
        token = tokens[index]
        if token == "(":
            depth += 1
        elif token == ")":
            if depth == 0:
                end = index
                break
            depth -= 1
        if token == "," and depth == 0:
            items.append(current)
            current = []
        else:
            current.append(token)
    items.append(current)
    head, tail = _join(tokens[:start]), _join(tokens[end + 1 :])
    body = ",\n".join("    " + _join(item) for item in items)
    return f"{head} (\n{body}\n){' ' + tail if tail else ''}"
