"""The migration runner, the same for every storage engine.

It walks a database from its schema version to a target, one numbered ``Step`` at a
time, inside ONE transaction that also holds the migration lock, so a migration runs
once however many processes open the database at the same moment, and a killed run
leaves the old version. Before a step that rewrites tables holding data it writes a
snapshot; a down step that would lose rows is refused unless forced. Everything that
depends on the engine (where the version lives, the lock, the snapshot, the SQL of each
step) comes from a ``Backend`` (``sqlite.py``, ``sqlite_steps.py``; docs/migrations.md).
"""

import os
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from memctl.errors import BadInput, StorageError

# Tests pause a migrating process at a named point to kill it there (or let it go on by
# writing a line to its stdin): tests/store/test_migrate_processes.py. Points: "open"
# (the version was read, the lock not yet taken), "locked", "snapshot", "up-N"/"down-N"
# (before that step), "commit" (every step done, not yet committed), "committed".
PAUSE_ENV = "MEMCTL_TEST_MIGRATE_PAUSE"


# A statement of a step: SQL, or (rarely) a function of the engine's connection for
# what SQL cannot do fast enough; it must be as frozen as the SQL around it.
Statement = str | Callable[[Any], None]


@dataclass(frozen=True)
class Step:
    """One migration. Landed steps are frozen: never edit one, add the next.

    ``up`` and ``down`` are statements run in order. ``rewrites`` marks a direction
    that changes existing tables (moves or drops data): a snapshot is written before it
    when the database holds any rows. ``down_drops`` names what the down step cannot
    carry back, each with the SQL that counts it (run just before the down step).
    """

    version: int
    name: str
    description: str
    up: tuple[Statement, ...]
    down_description: str
    down: tuple[Statement, ...]
    rewrites: bool = False
    down_rewrites: bool = False
    down_drops: tuple[tuple[str, str], ...] = ()


class Backend(Protocol):
    """What the runner needs from a storage engine (SQLite today, PostgreSQL next)."""

    steps: Sequence[Step]
    location: str  # the database, as messages name it
    upgrades_on_open: bool  # pending steps run when any command opens a database with data
    backup_advice: str  # what to do when ``snapshot`` cannot make one

    def check(self) -> None:
        """Refuse a database that is not memctl's."""

    def version(self) -> int: ...

    def transaction(self) -> AbstractContextManager[Any]:
        """One write transaction holding the migration lock; rolled back on error."""
        ...

    def execute(self, statement: Statement) -> None: ...

    def count(self, sql: str) -> int: ...

    def applied(self) -> dict[int, float]:
        """When each applied step ran (version -> epoch seconds), where recorded."""
        ...

    def record(self, step: Step, up: bool) -> None:
        """Note that ``step`` ran up (or down) and set the version accordingly."""

    def has_data(self) -> bool: ...

    def snapshot(self, version: int) -> str | None:
        """A consistent copy of the committed database; None if this engine cannot."""
        ...

    def snapshot_name(self, version: int) -> str | None:
        """Where ``snapshot`` would write now (for a dry run)."""
        ...

    def discard(self, snapshot: str) -> None: ...


@dataclass
class StepStatus:
    version: int
    name: str
    description: str
    applied: bool
    applied_at: float | None


@dataclass
class Status:
    location: str
    current: int
    latest: int
    steps: list[StepStatus]

    @property
    def pending(self) -> list[int]:
        return [s.version for s in self.steps if s.version > self.current]

    @property
    def newer(self) -> bool:
        return self.current > self.latest

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.location,
            "current": self.current,
            "latest": self.latest,
            "newer": self.newer,
            "pending": self.pending,
            "migrations": [
                {
                    "version": s.version,
                    "name": s.name,
                    "description": s.description,
                    "applied": s.applied,
                    "applied_at": s.applied_at,
                }
                for s in self.steps
            ],
        }


@dataclass
class PlannedStep:
    step: Step
    up: bool
    drops: list[tuple[str, int]] = field(default_factory=list)  # counted just before it ran

    @property
    def description(self) -> str:
        return self.step.description if self.up else self.step.down_description

    @property
    def rewrites(self) -> bool:
        return self.step.rewrites if self.up else self.step.down_rewrites

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.step.version,
            "name": self.step.name,
            "direction": "up" if self.up else "down",
            "description": self.description,
            "rewrites": self.rewrites,
            "drops": {what: count for what, count in self.drops},
        }


@dataclass
class Outcome:
    location: str
    start: int
    target: int
    steps: list[PlannedStep]
    dry_run: bool = False
    snapshot: str | None = None  # written (or, in a dry run, would be written) here
    snapshot_needed: bool = False  # a step rewrites tables that hold data
    applied: bool = False

    @property
    def drops(self) -> list[tuple[str, int]]:
        return [drop for planned in self.steps for drop in planned.drops]

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.location,
            "from": self.start,
            "to": self.target,
            "dry_run": self.dry_run,
            "applied": self.applied,
            "snapshot": self.snapshot,
            "snapshot_needed": self.snapshot_needed,
            "steps": [planned.to_dict() for planned in self.steps],
        }


class _Rollback(Exception):
    """Leave the transaction without committing (dry run, refused down step)."""


def latest(backend: Backend) -> int:
    return len(backend.steps)


def newer_error(location: str, current: int, known: int) -> StorageError:
    return StorageError(
        f"database {location} has schema version {current}, newer than this memctl knows "
        f"({known}): upgrade memctl, or run `memctl migrate down --to {known}` with the "
        "memctl that upgraded it"
    )


def status(backend: Backend) -> Status:
    """Where the database stands; never changes it (a newer schema is reported, not
    refused, so that ``memctl migrate status`` can say what happened)."""
    backend.check()
    current = backend.version()
    applied = backend.applied()
    steps = [
        StepStatus(s.version, s.name, s.description, s.version <= current, applied.get(s.version))
        for s in backend.steps
    ]
    return Status(backend.location, current, latest(backend), steps)


def _plan(backend: Backend, current: int, target: int) -> list[PlannedStep]:
    if target >= current:
        return [PlannedStep(s, True) for s in backend.steps[current:target]]
    return [PlannedStep(s, False) for s in reversed(backend.steps[target:current])]


def run(
    backend: Backend,
    target: int,
    *,
    force: bool = False,
    dry_run: bool = False,
    direction: str | None = None,
) -> Outcome:
    """Migrate to ``target``, up or down, in one transaction that holds the lock.

    The version is read under the lock, so a process that waited for another one's
    migration finds nothing left to do. A dry run executes the steps (counting what the
    down steps would drop) and rolls back. A down step that would drop rows raises
    ``BadInput`` unless ``force``: nothing changes and no snapshot is left behind.
    ``direction`` ("up" or "down") refuses a walk the other way, checked under the lock.
    """
    backend.check()
    if not 0 <= target <= latest(backend):
        raise BadInput(f"no schema version {target}: this memctl knows 0 to {latest(backend)}")
    outcome = Outcome(backend.location, 0, target, [], dry_run=dry_run)
    try:
        with backend.transaction():
            _pause("locked")
            current = backend.version()
            if current > latest(backend):
                raise newer_error(backend.location, current, latest(backend))
            outcome.start = current
            if direction == "up" and target < current:
                raise BadInput(
                    f"the database is at schema {current}, above {target}: "
                    f"use `memctl migrate down --to {target}`"
                )
            if direction == "down" and target > current:
                raise BadInput(
                    f"the database is at schema {current}, below {target}: "
                    f"use `memctl migrate up --to {target}`"
                )
            outcome.steps = _plan(backend, current, target)
            if not outcome.steps:
                return outcome
            _apply(backend, outcome, force)
            if dry_run:
                raise _Rollback
            _pause("commit")
    except _Rollback:
        return outcome
    outcome.applied = True
    _pause("committed")
    return outcome


def _apply(backend: Backend, outcome: Outcome, force: bool) -> None:
    """Snapshot if needed, then every step; the caller commits or rolls back."""
    if any(planned.rewrites for planned in outcome.steps) and backend.has_data():
        outcome.snapshot_needed = True
        if outcome.dry_run:
            outcome.snapshot = backend.snapshot_name(outcome.start)
        else:
            outcome.snapshot = backend.snapshot(outcome.start)
            if outcome.snapshot is None and not force:
                raise BadInput(
                    f"cannot snapshot {backend.location} before migrating it: "
                    f"{backend.backup_advice}, then rerun with --force"
                )
            _pause("snapshot")
    try:
        for planned in outcome.steps:
            step = planned.step
            _pause(f"{'up' if planned.up else 'down'}-{step.version}")
            if not planned.up:
                counted = ((what, backend.count(sql)) for what, sql in step.down_drops)
                planned.drops = [(what, count) for what, count in counted if count]
            for statement in step.up if planned.up else step.down:
                backend.execute(statement)
            backend.record(step, planned.up)
        if outcome.drops and not force and not outcome.dry_run:
            raise BadInput(
                f"migrating down to schema {outcome.target} would drop {drop_summary(outcome)}; "
                "rerun with --force to drop them (a snapshot is written first)"
            )
    except BaseException:
        if outcome.snapshot is not None and not outcome.dry_run:
            backend.discard(outcome.snapshot)
            outcome.snapshot = None
        raise


def drop_summary(outcome: Outcome) -> str:
    return ", ".join(f"{what}: {count}" for what, count in outcome.drops)


def upgrade_on_open(backend: Backend, notify: Callable[[str], None] | None = None) -> None:
    """Bring a database up to date as a command opens it (a user who upgrades memctl
    needs no extra step). The up-to-date case costs one version read.

    Backends with ``upgrades_on_open`` False (a shared PostgreSQL hub) only set up an
    empty database this way; one with data waits for ``memctl migrate up``.
    """
    current = backend.version()
    known = latest(backend)
    if current == known:
        return
    backend.check()
    if current > known:
        raise newer_error(backend.location, current, known)
    if not backend.upgrades_on_open and current > 0 and backend.has_data():
        raise StorageError(
            f"database {backend.location} has schema version {current}, this memctl needs "
            f"{known}: run `memctl migrate up` (`memctl migrate status` lists the steps)"
        )
    _pause("open")
    outcome = run(backend, known)
    if outcome.applied and outcome.start > 0 and notify is not None:
        snapshot = f"; snapshot of schema {outcome.start}: {outcome.snapshot}"
        notify(
            f"memctl: upgraded the database schema from {outcome.start} to {known}"
            f"{snapshot if outcome.snapshot else ''} (`memctl migrate status`)"
        )


def _pause(point: str) -> None:
    if os.environ.get(PAUSE_ENV) == point:
        sys.stderr.write(f"memctl: paused at {point}\n")
        sys.stderr.flush()
        sys.stdin.readline()
