"""The lifecycle log: one row per lifecycle action with counts, duration and outcome."""

from contextlib import suppress
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


def record_failure(
    db: Database,
    action: str,
    *,
    tenant: str | None,
    started_at: float,
    duration_ms: float,
    error: BaseException,
) -> None:
    """Best effort: a failed run shows in the log (and so in ``stats``) as an error. Never
    raises: the caller is already handling the original failure."""
    with suppress(Exception), db.write():
        record(
            db,
            action,
            tenant=tenant,
            started_at=started_at,
            duration_ms=duration_ms,
            count=0,
            outcome="error",
            error=str(error) or type(error).__name__,
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
