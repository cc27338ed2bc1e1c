"""Lifecycle events (docs/serve.md): what happened to memories, kept in the database
with increasing ids so that ``memctl events`` and the server's event stream read the
same history, whether or not a server was running when it happened.

Every change a lifecycle action makes is one event in the same write transaction as
the change (it commits, or rolls back, with it): ``memory:stored`` per store;
per batch of a bulk job ``memory:expired``, ``:archived``, ``:restored``, ``:decayed``,
``:pruned``, ``:promoted``, ``:imported`` and ``:deleted`` (a hard delete), each with
the batch's count and ids, one event per tenant (a per-row event would be a flood: a
100k cleanup is ~40 events). Alerts are events too: ``alert:job-failing`` when a daemon
job has failed ``JOB_FAILURES`` times in a row, and ``alert:growth`` when an agent's
active memories pass ``alerts.max_memories_per_agent`` (policies.yaml). ``prune``
deletes events older than ``alerts.events_retention_days``.

Writes go through this module only (``lifecycle/runs.py`` and the jobs call it); the
store's ``events`` module holds the SQL.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
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
# ids an event lists one by one; beyond, as [first, last] runs (an import's new ids and a
# decay batch's are mostly consecutive: 100k ids would be ~700 kB listed, a few runs)
IDS_LISTED = 1000
TRIM_BATCH = 5000  # events deleted per write transaction (short, so writers get in)


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


def id_ranges(ids: Sequence[int]) -> list[list[int]]:
    """Sorted ids as inclusive ``[first, last]`` runs."""
    runs: list[list[int]] = []
    for memory_id in sorted(ids):
        if runs and memory_id == runs[-1][1] + 1:
            runs[-1][1] = memory_id
        else:
            runs.append([memory_id, memory_id])
    return runs


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
    """Record one event inside the caller's write transaction. Up to ``IDS_LISTED`` ids
    go as ``ids``; more (an import, a decay batch) as ``id_ranges``."""
    data: dict[str, Any] = {}
    if len(ids) > IDS_LISTED:
        data["id_ranges"] = id_ranges(ids)
    elif ids:
        data["ids"] = sorted(ids)
    data.update(details)
    sql.insert(db, name, tenant, now, count, data)


def emit_owned(
    db: Database, name: str, now: float, owned: Mapping[str, Sequence[int]], **details: Any
) -> None:
    """One event per tenant of ids already grouped by tenant (empty groups: none)."""
    for owner, ids in sorted(owned.items()):
        if ids:
            emit(db, name, owner, now, count=len(ids), ids=ids, **details)


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
    emit_owned(db, name, now, groups, **details)


def job_failing(
    db: Database, job: str, tenant: str | None, now: float, failures: int, error: str | None
) -> bool:
    """``alert:job-failing`` once per streak: when a job's failures in a row reach
    ``JOB_FAILURES`` (in its own write, after the failed run was logged). Whether it was
    recorded."""
    if failures != JOB_FAILURES:
        return False
    with db.write():
        emit(db, JOB_FAILING, tenant, now, job=job, failures=failures, error=error)
    return True


# alert:growth fires when an agent's active memories go from at most the limit to above
# it: a store that creates a memory checks its agent's count (one indexed count, ~0.3 ms
# at 10k); the bulk additions (import, restore) compare the agents over the limit before
# and after, inside their write. Falling back under the limit and passing it again
# alerts again; staying above it does not.


def growth_on_store(
    db: Database, now: float, tenant: str, agent_id: str | None, limit: int
) -> None:
    """After a store created a memory of ``agent_id`` (inside its write)."""
    if agent_id is None:
        return
    count = sql.agent_count(db, tenant, agent_id)
    if count == limit + 1:
        emit(db, GROWTH, tenant, now, count=count, agent_id=agent_id, limit=limit)


def agents_over(db: Database, tenant: str | None, limit: int) -> dict[tuple[str, str], int]:
    """(tenant, agent) -> active memories, of each agent above ``limit``."""
    return {(owner, agent): n for owner, agent, n in sql.agents_over(db, tenant, limit)}


def growth_since(
    db: Database,
    now: float,
    tenant: str | None,
    limit: int,
    before: Mapping[tuple[str, str], int],
) -> list[dict[str, Any]]:
    """``alert:growth`` for each agent above ``limit`` now and not in ``before`` (what
    ``agents_over`` said before a bulk addition, in the same write); the alerts."""
    alerted = []
    for (owner, agent), count in sorted(agents_over(db, tenant, limit).items()):
        if (owner, agent) not in before:
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
    """Delete events older than ``retention_days``, ``TRIM_BATCH`` per write transaction
    (prune's last step: every tenant's events, whatever tenant prune runs for, since
    events of no tenant age too); how many went (or, with ``dry_run``, would go)."""
    before = now - retention_days * DAY
    if dry_run:
        with db.read():
            return sql.count_before(db, before)
    trimmed = 0
    while True:
        with db.write():
            gone = sql.trim(db, before, TRIM_BATCH)
        trimmed += gone
        if gone < TRIM_BATCH:
            return trimmed


def names_text(names: Iterable[str] = NAMES) -> str:
    return ", ".join(names)
