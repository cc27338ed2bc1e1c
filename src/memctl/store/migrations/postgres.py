"""PostgreSQL's side of migrations (``PostgresBackend``); the steps are in
``postgres_steps.py``.

Version: ``max(id)`` of ``memctl_migrations`` (there is no ``user_version``). Lock: the
walk is one transaction that first takes a transaction-level advisory lock
(``pg_advisory_xact_lock``), so processes on any number of machines queue on it and the
ones that waited find the version already moved; PostgreSQL's DDL is transactional, so
a killed walk leaves the old version. Snapshot: none, the server's files are not
memctl's to copy; a rewriting step on a database with rows is refused unless
``--force``, after the user has made a ``pg_dump``. Upgrades on open: only an empty
database is set up by whichever command comes first; one with data waits for
``memctl migrate up`` (a hub is shared: the first machine to upgrade memctl must not
change the schema under every other one).
"""

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from memctl.errors import StorageError
from memctl.store.migrations.postgres_steps import STEPS
from memctl.store.migrations.runner import Statement, Step
from memctl.store.postgres.upkeep import TABLES

if TYPE_CHECKING:
    from memctl.store.db import Database

# pg_advisory_xact_lock(MIGRATION_LOCK, hashtext(current_schema())): the two-int form,
# so that stores in different schemas of one database migrate independently.
MIGRATION_LOCK = 0x6D656D63  # "memc"


class PostgresBackend:
    """The runner's view of one PostgreSQL database (see ``runner.Backend``)."""

    steps: Sequence[Step] = STEPS
    upgrades_on_open = False

    def __init__(self, db: "Database") -> None:
        self.db = db
        self.location = str(db.location)
        self.backup_advice = (
            "PostgreSQL databases are backed up with its own tools; back this one up "
            f"first (`pg_dump -Fc -f memctl-before.dump {self._dbname()}`)"
        )

    def _dbname(self) -> str:
        return str(self.db.scalar("SELECT current_database()"))

    def check(self) -> None:
        """A schema that has a ``memories`` table memctl did not make is refused; other
        tables (another application's) are none of memctl's business."""
        if self._exists("memories") and not self._exists("memctl_migrations"):
            raise StorageError(
                f"{self.location} has a table named memories that memctl did not create; "
                "give memctl a database of its own"
            )

    def version(self) -> int:
        return self.db.schema_version()

    def _exists(self, table: str) -> bool:
        return self.db.has_table(table)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.db.write():
            self.db.execute(
                "SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", (MIGRATION_LOCK,)
            )
            yield

    def execute(self, statement: Statement) -> None:
        if isinstance(statement, str):
            self.db.execute(statement)
        else:
            statement(self.db)

    def count(self, sql: str) -> int:
        return int(self.db.scalar(sql))

    def applied(self) -> dict[int, float]:
        if not self._exists("memctl_migrations"):
            return {}
        rows = self.db.all("SELECT id, applied_at FROM memctl_migrations")
        return {int(row[0]): float(row[1]) for row in rows}

    def record(self, step: Step, up: bool) -> None:
        if up:
            self.db.execute(
                "INSERT INTO memctl_migrations (id, name, applied_at) VALUES (?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
                "applied_at = excluded.applied_at",
                (step.version, step.name, time.time()),
            )
        elif step.version > 1:  # step 1's down dropped the table itself
            self.db.execute("DELETE FROM memctl_migrations WHERE id = ?", (step.version,))

    def has_data(self) -> bool:
        for table in TABLES:
            if not self._exists(table):
                continue
            if self.db.scalar(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                return True
        return False

    def snapshot_name(self, version: int) -> str | None:
        return None

    def snapshot(self, version: int) -> str | None:
        return None

    def discard(self, snapshot: str) -> None:
        """Nothing to remove: no snapshot is ever written."""
