"""The lifecycle log: one row per lifecycle action with counts, duration and outcome."""

from typing import Any

import orjson

from memctl.store.db import Database


def record(
    db: Database,
    action: str,
    *,
    tenant: str | None,
    started_at: float,
    duration_ms: float,
    count: int,
    details: dict[str, Any] | None = None,
    outcome: str = "ok",
    error: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO lifecycle_log "
        "(tenant, action, started_at, duration_ms, count, outcome, details, error) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            tenant,
            action,
            started_at,
            round(duration_ms, 3),
            count,
            outcome,
            orjson.dumps(details or {}).decode(),
            error,
        ),
    )


def recent(db: Database, limit: int = 20, action: str | None = None) -> list[dict[str, Any]]:
    sql = (
        "SELECT id, tenant, action, started_at, duration_ms, count, outcome, details, error "
        "FROM lifecycle_log"
    )
    params: list[Any] = []
    if action:
        sql += " WHERE action = ?"
        params.append(action)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    rows = db.all(sql, params)
    return [{**dict(row), "details": orjson.loads(row["details"])} for row in rows]
