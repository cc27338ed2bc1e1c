"""Schema migrations: numbered steps with an up and a down, frozen as what they did
(docs/migrations.md).

``runner`` walks a database from one version to another the same way on every engine;
``sqlite`` holds SQLite's frozen steps and how SQLite keeps the version, the lock and the
snapshot. The functions here take an open database and pick its backend: the one place
that knows which engine a database is.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING

from memctl.store.migrations import runner
from memctl.store.migrations.runner import Backend, Outcome, Status, drop_summary
from memctl.store.migrations.sqlite import LATEST, SQLiteBackend

if TYPE_CHECKING:
    from memctl.store.db import Database

__all__ = ["LATEST", "Outcome", "Status", "drop_summary", "migrate", "status", "upgrade_on_open"]


def backend(db: "Database") -> Backend:
    return SQLiteBackend(db)


def status(db: "Database") -> Status:
    """Current version, the versions this memctl knows, which are applied and when
    (``memctl migrate status``; ``doctor`` can show it). Changes nothing."""
    return runner.status(backend(db))


def migrate(
    db: "Database",
    target: int,
    *,
    force: bool = False,
    dry_run: bool = False,
    direction: str | None = None,
) -> Outcome:
    """``memctl migrate up/down``: see ``runner.run``."""
    return runner.run(backend(db), target, force=force, dry_run=dry_run, direction=direction)


def upgrade_on_open(db: "Database", notify: Callable[[str], None] | None = None) -> None:
    """Apply pending steps as a command opens the database; ``notify`` gets one line
    when an existing database was upgraded (and where its snapshot is)."""
    runner.upgrade_on_open(backend(db), notify)
