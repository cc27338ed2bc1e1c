"""Lifecycle events (docs/serve.md): what happened to memories, kept in the database
with increasing ids so that ``memctl events`` and the server's event stream read the
same history, whether or not a server was running when it happened.

Every change a lifecycle action makes is one event in the same write transaction as
the change (it commits, or rolls back, with it): ``memory:stored`` per store;
per batch of a bulk job ``memory:expired``, ``:archived``, ``:restored``, ``:decayed``,
``:pruned``, ``:promoted``, ``:imported`` and ``:deleted`` (a hard delete), each with
the batch's count and ids, one event per tenant. Alerts are events too:
``alert:job-failing`` when a daemon job has failed ``JOB_FAILURES`` times in a row, and
``alert:growth`` when an agent's active memories pass ``alerts.max_memories_per_agent``.

Writes go through this module only (``lifecycle/runs.py`` and the jobs call it); the
store's ``events`` module holds the SQL.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from memctl.clock import DAY, iso
from memctl.store import events as sql
from memctl.store.db import Database

STORED = "memory:stored"
EXPIRED = "memory:expired"
ARCHIVED = "memory:archived"
RESTORED = "memory:restored"
DECAYED = "memory:decayed"
PRUNED = "memory:pruned"
PROMOTED = "memory:promoted"
IMPORTED = "memory:imported"
DELETED = "memory:deleted"
JOB_FAILING = "alert:job-failing"
GROWTH = "alert:growth"
NAMES = (
    STORED,
    EXPIRED,
    ARCHIVED,
    RESTORED,
    DECAYED,
    PRUNED,
    PROMOTED,
    IMPORTED,
    DELETED,
    JOB_FAILING,
    GROWTH,
)
JOB_FAILURES = 3  # a daemon job failing this many times in a row raises alert:job-failing
PAGE = 500  # events read per query


@dataclass
class Event:
    """One event as ``memctl events --json`` prints it and the stream sends it."""

    id: int
    name: str
    tenant: str | None
    at: float
    count: int
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.name,
            "tenant": self.tenant,
            "time": iso(self.at),
            "count": self.count,
            **self.data,
        }


def emit(
    db: Database,
    name: str,
    tenant: str | None,
    now: float,
    *,
    count: int = 0,
    ids: Sequence[int] = (),
    **details: Any,
) -> None:
    """Record one event inside the caller's write transaction."""
    data: dict[str, Any] = {}
    if ids:
        data["ids"] = list(ids)
    data.update(details)
    sql.insert(db, name, tenant, now, count, data)


def emit_batch(
    db: Database,
    name: str,
    tenant: str | None,
    now: float,
    ids: Sequence[int],
    **details: Any,
) -> None:
    """One event per tenant for a batch of memories a job changed (inside the batch's
    write, before rows it purges are gone). ``tenant`` None: the job ran over every
    tenant, so the ids are grouped by their tenant first (one indexed lookup)."""
    if not ids:
        return
    groups: dict[str, list[int]]
    if tenant is not None:
        groups = {tenant: list(ids)}
    else:
        groups = defaultdict(list)
        for memory_id, owner in sql.tenants_of(db, ids):
            groups[owner].append(memory_id)
    for owner, owned in sorted(groups.items()):
        emit(db, name, owner, now, count=len(owned), ids=sorted(owned), **details)


def job_failing(
    db: Database, job: str, tenant: str | None, now: float, failures: int, error: str | None
) -> None:
    """``alert:job-failing`` once per streak: when a job's failures in a row reach
    ``JOB_FAILURES`` (inside the write that logs the failed run)."""
    if failures == JOB_FAILURES:
        emit(db, JOB_FAILING, tenant, now, job=job, failures=failures, error=error)


def check_growth(db: Database, now: float, tenant: str | None, limit: int) -> list[dict[str, Any]]:
    """``alert:growth`` for each agent whose active memories passed ``limit``, once
    while its alert is kept (events are trimmed by prune); the agents alerted now."""
    alerted = []
    with db.write():
        for owner, agent, count in sql.agents_over(db, tenant, limit):
            if sql.agent_alerted(db, GROWTH, owner, agent):
                continue
            emit(db, GROWTH, owner, now, count=count, agent_id=agent, limit=limit)
            alerted.append({"tenant": owner, "agent_id": agent, "count": count})
    return alerted


def read(db: Database, since: int, tenant: str | None, limit: int = PAGE) -> list[Event]:
    """Events after id ``since``, oldest first: a tenant's and those of no tenant, or
    (``tenant`` None) every event."""
    rows = sql.after(db, since, tenant, limit)
    return [Event(r.id, r.name, r.tenant, r.created_at, r.count, r.data) for r in rows]


def last_id(db: Database) -> int:
    return sql.last_id(db)


def trim(db: Database, now: float, retention_days: float, dry_run: bool = False) -> int:
    """Delete events older than ``retention_days`` (inside the caller's write); how many
    went (or, with ``dry_run``, would go)."""
    before = now - retention_days * DAY
    return sql.count_before(db, before) if dry_run else sql.trim(db, before)


def names_text(names: Iterable[str] = NAMES) -> str:
    return ", ".join(names)
