"""A logged lifecycle run: the one place where every lifecycle action is recorded.

Every action that changes memories (store's lazy expiry, delete, archive, restore,
cleanup, decay, prune, promote, compact, import, snapshot, the hooks' session-end
archive and the daemon's job runs) is written as::

    with logged_run(db, "archived", tenant=tenant, now=now) as run:
        ...                      # the work
        run.count = moved
        run.details = {...}

On a normal exit the run becomes one ``lifecycle_log`` row (its duration timed here).
On an error it becomes a row with outcome ``error`` (best effort, never masking the
original exception) and the exception propagates; bad input and a missing target
(``BadInput``, ``NotFound``) are not recorded, since they change nothing. A dry run records nothing
(``record=False``); ``run.skip()`` drops the row of a run that found nothing to do.

The row is written in its own short write transaction, or inside the caller's when the
run is nested in one (so it commits, or rolls back, with the work).
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from memctl.errors import BadInput, NotFound
from memctl.store import log
from memctl.store.db import Database


@dataclass
class Run:
    """One lifecycle action as it will be logged."""

    action: str  # expired, archived, restored, deleted, decayed, pruned, ...
    tenant: str | None  # None: every tenant
    started_at: float  # the memctl clock's time
    count: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    outcome: str = "ok"  # ok | error
    error: str | None = None
    skipped: bool = False
    clock_started: float = field(default_factory=time.perf_counter, repr=False)

    def elapsed_ms(self) -> float:
        """Milliseconds since the run started (for a report written inside the run)."""
        return (time.perf_counter() - self.clock_started) * 1000

    def fail(self, error: str) -> None:
        """Log this run as failed without raising (the daemon keeps going)."""
        self.outcome, self.error = "error", error

    def skip(self) -> None:
        """Nothing happened worth a log row."""
        self.skipped = True


@contextmanager
def logged_run(
    db: Database,
    action: str,
    *,
    tenant: str | None,
    now: float,
    details: dict[str, Any] | None = None,
    record: bool = True,
) -> Iterator[Run]:
    """Time the block and log it as one run of ``action`` (see the module docstring)."""
    run = Run(action, tenant, now, details=dict(details or {}))
    try:
        yield run
    except BaseException as exc:
        run.duration_ms = run.elapsed_ms()
        if record and isinstance(exc, Exception) and not isinstance(exc, BadInput | NotFound):
            run.fail(str(exc) or type(exc).__name__)
            with suppress(Exception):  # the log is best effort: keep the original error
                _write(db, run)
        raise
    run.duration_ms = run.elapsed_ms()
    if record and not run.skipped:
        _write(db, run)


def _write(db: Database, run: Run) -> None:
    with db.write():
        log.record(
            db,
            run.action,
            tenant=run.tenant,
            started_at=run.started_at,
            duration_ms=run.duration_ms,
            count=run.count,
            details=run.details,
            outcome=run.outcome,
            error=run.error,
        )


def record_error(
    db: Database,
    action: str,
    *,
    tenant: str | None,
    now: float,
    error: str,
    details: dict[str, Any],
) -> None:
    """Log a failure that happened outside any run (a hook that could not start), best
    effort: the database may be what failed."""
    run = Run(action, tenant, now, details=details)
    run.fail(error)
    with suppress(Exception):
        _write(db, run)


def count_occurrence(
    db: Database,
    action: str,
    *,
    tenant: str | None,
    now: float,
    window_s: float,
    details: dict[str, Any],
) -> None:
    """One more occurrence of a frequent event (e.g. a hook's keyword-only search),
    counted into its latest log row while that row is younger than ``window_s``."""
    with db.write():
        log.count_occurrence(db, action, tenant=tenant, now=now, window_s=window_s, details=details)


def recent(db: Database, limit: int = 20, action: str | None = None) -> list[dict[str, Any]]:
    """The newest log rows (of one action), newest first."""
    return log.recent(db, limit, action)
