"""The events table (docs/serve.md): lifecycle events with increasing ids, written by
``lifecycle/runs.py`` alone and read after an id by ``memctl events`` and the server's
event stream."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from memctl.store.backend import backend_of
from memctl.store.db import Database

_COLUMNS = "id, name, tenant, created_at, count, data"


@dataclass
class EventRow:
    id: int
    name: str
    tenant: str | None
    created_at: float
    count: int
    data: dict[str, Any]


def insert(
    db: Database, name: str, tenant: str | None, at: float, count: int, data: dict[str, Any]
) -> None:
    """One event (inside the caller's write transaction: it commits with the change)."""
    in_order = backend_of(db).dialect.EVENTS_IN_ORDER
    if in_order:
        db.execute(in_order)
    db.execute(
        "INSERT INTO events (name, tenant, created_at, count, data) VALUES (?, ?, ?, ?, ?)",
        (name, tenant, at, count, orjson.dumps(data).decode()),
    )


def _row(row: Any) -> EventRow:
    return EventRow(
        int(row["id"]),
        row["name"],
        row["tenant"],
        float(row["created_at"]),
        int(row["count"]),
        orjson.loads(row["data"]),
    )


def after(
    db: Database,
    since: int,
    tenant: str | None,
    limit: int,
    with_shared: bool = True,
) -> list[EventRow]:
    """Events with an id above ``since``, oldest first, at most ``limit``: of one tenant
    (and, ``with_shared``, the events that belong to no tenant), or every event when
    ``tenant`` is None."""
    if tenant is None:
        rows = db.all(
            f"SELECT {_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?", (since, limit)
        )
    elif with_shared:
        # two index ranges merged: (tenant, id) and (NULL, id)
        rows = db.all(
            f"SELECT {_COLUMNS} FROM events WHERE tenant = ? AND id > ? "
            f"UNION ALL SELECT {_COLUMNS} FROM events WHERE tenant IS NULL AND id > ? "
            "ORDER BY id LIMIT ?",
            (tenant, since, since, limit),
        )
    else:
        rows = db.all(
            f"SELECT {_COLUMNS} FROM events WHERE tenant = ? AND id > ? ORDER BY id LIMIT ?",
            (tenant, since, limit),
        )
    return [_row(row) for row in rows]


def last_id(db: Database) -> int:
    """The newest event's id (0 when there is none)."""
    return int(db.scalar("SELECT coalesce(max(id), 0) FROM events"))


def agent_count(db: Database, tenant: str, agent_id: str) -> int:
    """One agent's active memories (expired ones not yet moved out included)."""
    return int(
        db.scalar(
            "SELECT count(*) FROM memories WHERE tenant = ? AND agent_id = ?", (tenant, agent_id)
        )
    )


def trim(db: Database, before: float, limit: int) -> int:
    """Delete up to ``limit`` of the oldest events recorded before ``before``; how many
    went."""
    return int(
        db.execute(
            "DELETE FROM events WHERE id IN "
            "(SELECT id FROM events WHERE created_at < ? ORDER BY id LIMIT ?)",
            (before, limit),
        ).rowcount
    )


def count_before(db: Database, before: float) -> int:
    return int(db.scalar("SELECT count(*) FROM events WHERE created_at < ?", (before,)))


def tenants_of(db: Database, ids: Sequence[int]) -> list[tuple[int, str]]:
    """(id, tenant) of memories, active or archived (before a purge removes them)."""
    from memctl.store.batch import chunks, marks

    found: list[tuple[int, str]] = []
    for chunk in chunks(list(ids)):
        for table in ("memories", "archive"):
            rows = db.all(f"SELECT id, tenant FROM {table} WHERE id IN ({marks(chunk)})", chunk)
            found.extend((int(r[0]), str(r[1])) for r in rows)
    return found


def agents_over(db: Database, tenant: str | None, limit: int) -> list[tuple[str, str, int]]:
    """(tenant, agent, active memories) of each agent holding more than ``limit``."""
    scope, params = ("", [limit]) if tenant is None else ("AND tenant = ? ", [tenant, limit])
    rows = db.all(
        "SELECT tenant, agent_id, count(*) FROM memories WHERE agent_id IS NOT NULL "
        f"{scope}GROUP BY tenant, agent_id HAVING count(*) > ? ORDER BY tenant, agent_id",
        params,
    )
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
