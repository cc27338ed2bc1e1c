"""Schema migrations: numbered steps with an up and a down, frozen as what they did
(docs/migrations.md).

``runner`` walks a database from one version to another the same way on every engine;
``sqlite_steps`` holds SQLite's frozen steps, ``sqlite`` how SQLite keeps the version,
the lock and the snapshot; ``postgres_steps`` and ``postgres`` the same for PostgreSQL
(its versions are its own sequence). The functions here take an open database and pick
its backend: the one place that chooses. Every command opens the database through
``upgrade_on_open``: up to date, it reads the version once and imports nothing.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memctl.store.db import Database
    from memctl.store.migrations.runner import Backend, Outcome, Status

# len(sqlite_steps.STEPS), written out so that opening an up-to-date database does not import
# the steps (tests/store/test_migrations.py keeps the two equal).
LATEST = 5
# len(postgres_steps.STEPS), likewise (tests/store/test_postgres.py).
LATEST_POSTGRES = 6


def latest_for(db: "Database") -> int:
    """The newest schema version this memctl knows for ``db``'s engine."""
    return LATEST_POSTGRES if db.engine == "postgresql" else LATEST


def backend(db: "Database") -> "Backend":
    if db.engine == "postgresql":
        from memctl.store.migrations.postgres import PostgresBackend

        return PostgresBackend(db)
    from memctl.store.migrations.sqlite import SQLiteBackend

    return SQLiteBackend(db)


def status(db: "Database") -> "Status":
    """Current version, the versions this memctl knows, which are applied and when.
    Changes nothing; see also ``db.schema_status(path)``."""
    from memctl.store.migrations import runner

    return runner.status(backend(db))


def migrate(
    db: "Database",
    target: int,
    *,
    force: bool = False,
    dry_run: bool = False,
    direction: str | None = None,
) -> "Outcome":
    """``memctl migrate up/down``: see ``runner.run``."""
    from memctl.store.migrations import runner

    return runner.run(backend(db), target, force=force, dry_run=dry_run, direction=direction)


def upgrade_on_open(db: "Database", notify: Callable[[str], None] | None = None) -> None:
    """Apply pending steps as a command opens the database; ``notify`` gets one line
    when an existing database was upgraded (and where its snapshot is)."""
    if db.schema_version() == latest_for(db):
        return
    from memctl.store.migrations import runner

    runner.upgrade_on_open(backend(db), notify)
