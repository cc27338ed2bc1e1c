"""The lifecycle log: one row per lifecycle action with counts, duration and outcome."""

from typing import Any

import orjson

from memctl.store.db import Database

# Hook calls that searched by keyword only because the embedding model was not usable
# (search.health). Not a job: stats lists these apart from the lifecycle runs.
KEYWORD_FALLBACK = "keyword-fallback"


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


def count_occurrence(
    db: Database,
    action: str,
    *,
    tenant: str | None,
    now: float,
    window_s: float,
    details: dict[str, Any],
) -> None:
    """One more occurrence of ``action``: counted into its latest row (same tenant) when
    that row started less than ``window_s`` ago, else a new row with count 1, so an
    event on every hook call adds a row per window, not per call. ``details`` replaces
    the row's details (the latest occurrence's). Call inside a write transaction."""
    row = db.one(
        "SELECT id FROM lifecycle_log WHERE action = ? AND tenant IS NOT DISTINCT FROM ? "
        "AND started_at > ? "
        "ORDER BY started_at DESC LIMIT 1",
        (action, tenant, now - window_s),
    )
    if row is None:
        record(db, action, tenant=tenant, started_at=now, duration_ms=0.0, count=1, details=details)
        return
    db.execute(
        "UPDATE lifecycle_log SET count = count + 1, details = ? WHERE id = ?",
        (orjson.dumps(details).decode(), row["id"]),
    )


def occurrences(
    db: Database, action: str, tenant: str | None, since: float
) -> tuple[int, dict[str, Any] | None]:
    """How many occurrences of ``action`` were counted in rows started at or after
    ``since`` (``tenant`` None: every tenant), and the latest row's details."""
    scope, params = (
        ("", [action, since]) if tenant is None else (" AND tenant = ?", [action, since, tenant])
    )
    where = f"action = ? AND started_at >= ?{scope}"
    total = db.scalar(f"SELECT coalesce(sum(count), 0) FROM lifecycle_log WHERE {where}", params)
    latest = db.one(
        f"SELECT details FROM lifecycle_log WHERE {where} "
        "ORDER BY started_at DESC, id DESC LIMIT 1",
        params,
    )
    return int(total), None if latest is None else orjson.loads(latest["details"])
