"""SQL for ``stats`` and the daily analytics snapshots: set-based aggregates only
(GROUP BY over the tables, one pass each), never a row per memory into Python."""

from collections.abc import Sequence
from typing import Any

from memctl.clock import DAY
from memctl.store.db import Database
from memctl.store.log import KEYWORD_FALLBACK

# age buckets (upper bounds in days, exclusive); the last bucket is open-ended
AGE_LIMITS_DAYS = (1, 7, 30, 90)
_EXPIRED = "(expires_at IS NOT NULL AND expires_at <= :now)"
_ACTIVE = "(expires_at IS NULL OR expires_at > :now)"


def _tenant(tenant: str | None, params: dict[str, Any]) -> str:
    if tenant is None:
        return ""
    params["tenant"] = tenant
    return " AND tenant = :tenant"


# Whole-table aggregates read ``FROM <table> NOT INDEXED``: they visit most of a tenant's
# rows, and one sequential scan (~70 ms at 100k rows) beats walking the tenant index with
# a table lookup per row (~200-300 ms), which SQLite otherwise picks for ``tenant = ?``
# or a GROUP BY in index order.


def memory_groups(db: Database, now: float, tenant: str | None, model_id: str | None) -> list[Any]:
    """Per (namespace, agent_id, type) of the active table: total, expired-not-moved,
    stored and uncompressed bytes, compressed count, oldest expiry of the expired ones,
    and how many lack a vector of ``model_id`` (0 when embeddings are off)."""
    params: dict[str, Any] = {"now": now, "model": model_id}
    where = _tenant(tenant, params)
    return db.all(
        "SELECT namespace, agent_id, type, count(*) AS total, "
        f"sum({_EXPIRED}) AS expired, "
        "sum(length(value)) AS stored, sum(size) AS raw, sum(compressed) AS compressed, "
        f"min(CASE WHEN {_EXPIRED} THEN expires_at END) AS oldest_expiry, "
        "sum(CASE WHEN :model IS NULL THEN 0 "
        "ELSE embedding_model IS NULL OR embedding_model != :model END) AS unembedded "
        f"FROM memories NOT INDEXED WHERE 1{where} GROUP BY namespace, agent_id, type",
        params,
    )


def archive_groups(db: Database, tenant: str | None) -> list[Any]:
    """Per (namespace, agent_id, type) of the archive: count, bytes, compressed count."""
    params: dict[str, Any] = {}
    where = _tenant(tenant, params)
    return db.all(
        "SELECT namespace, agent_id, type, count(*) AS total, "
        "sum(length(value)) AS stored, sum(size) AS raw, sum(compressed) AS compressed "
        f"FROM archive NOT INDEXED WHERE 1{where} GROUP BY namespace, agent_id, type",
        params,
    )


def distributions(db: Database, now: float, tenant: str | None) -> list[Any]:
    """Active memories counted per (importance bucket 1..9, age bucket 0..4).

    Importance bucket ``b`` holds ``b <= importance < b + 1`` (bucket 9 includes 10);
    age buckets split at ``AGE_LIMITS_DAYS`` (a future creation time counts as new)."""
    params: dict[str, Any] = {"now": now}
    age_cases = " ".join(
        f"WHEN :now - created_at < {limit * DAY} THEN {index}"
        for index, limit in enumerate(AGE_LIMITS_DAYS)
    )
    where = _tenant(tenant, params)
    return db.all(
        "SELECT min(9, max(1, CAST(importance AS INTEGER))) AS importance_bucket, "
        f"CASE {age_cases} ELSE {len(AGE_LIMITS_DAYS)} END AS age_bucket, count(*) AS n "
        f"FROM memories NOT INDEXED WHERE {_ACTIVE}{where} GROUP BY 1, 2",
        params,
    )


def _job_key(alias: str = "") -> str:
    """The job a log row belongs to: its action, and for the daemon's own rows (action
    ``daemon``, the job in ``details.job``) ``daemon:<job>``."""
    p = f"{alias}." if alias else ""
    return (
        f"CASE WHEN {p}action = 'daemon' "
        f"THEN 'daemon:' || coalesce(json_extract({p}details, '$.job'), '?') "
        f"ELSE {p}action END"
    )


def job_runs(db: Database, tenant: str | None) -> list[Any]:
    """The last lifecycle-log row of each job (``_job_key``) with its run and failure
    counts, the last success, and the failures since then. A tenant sees its own rows
    and the all-tenant (``tenant IS NULL``) runs. Keyword fallbacks are not jobs."""
    params: dict[str, Any] = {}
    scope = x_scope = ""
    if tenant is not None:
        params["tenant"] = tenant
        scope = " AND (tenant = :tenant OR tenant IS NULL)"
        x_scope = " AND (x.tenant = :tenant OR x.tenant IS NULL)"
    return db.all(
        "SELECT g.job, l.tenant, l.started_at, l.duration_ms, l.count, l.outcome, "
        "l.error, g.runs, g.failures, ok.started_at AS last_ok_at, "
        # a rowid range from the last success: short unless the job keeps failing
        "(SELECT count(*) FROM lifecycle_log x WHERE x.id > coalesce(g.last_ok_id, 0) "
        f"AND x.outcome != 'ok' AND {_job_key('x')} = g.job{x_scope}) "
        "AS failing_since_ok "
        f"FROM (SELECT {_job_key()} AS job, max(id) AS last_id, count(*) AS runs, "
        "sum(outcome != 'ok') AS failures, "
        "max(CASE WHEN outcome = 'ok' THEN id END) AS last_ok_id "
        f"FROM lifecycle_log WHERE action != '{KEYWORD_FALLBACK}'{scope} GROUP BY 1) g "
        "JOIN lifecycle_log l ON l.id = g.last_id "
        "LEFT JOIN lifecycle_log ok ON ok.id = g.last_ok_id "
        "ORDER BY g.job",
        params,
    )


def schema_version(db: Database) -> int:
    return int(db.scalar("PRAGMA user_version"))


# ---------------------------------------------------------------- daily snapshots

SNAPSHOT_COLUMNS = (
    "day",
    "tenant",
    "namespace",
    "agent_id",
    "counts_by_type",
    "total",
    "avg_importance",
    "accesses",
    "expirations",
    "archives",
    "bytes",
)


def snapshot_rows(db: Database, now: float, day_start: float, tenant: str | None) -> list[Any]:
    """Today's analytics per (tenant, namespace, agent): active memories by type, their
    average importance, how many were read today, stored bytes; and what went to the
    archive today (``expired`` vs any other reason)."""
    params: dict[str, Any] = {"now": now, "ds": day_start, "de": day_start + DAY}
    active_scope = _tenant(tenant, params)
    archive_scope = _tenant(tenant, params)
    return db.all(
        "SELECT tenant, namespace, agent, "
        "json_group_object(type, n) FILTER (WHERE type IS NOT NULL) AS counts_by_type, "
        "sum(n) AS total, coalesce(sum(importance) / nullif(sum(n), 0), 0) AS avg_importance, "
        "sum(accesses) AS accesses, sum(expirations) AS expirations, "
        "sum(archives) AS archives, sum(bytes) AS bytes "
        "FROM ("
        "  SELECT tenant, namespace, coalesce(agent_id, '') AS agent, type, count(*) AS n, "
        "  sum(importance) AS importance, "
        "  sum(accessed_at >= :ds AND accessed_at < :de) AS accesses, "
        "  0 AS expirations, 0 AS archives, sum(length(value)) AS bytes "
        f"  FROM memories NOT INDEXED WHERE {_ACTIVE}{active_scope} GROUP BY 1, 2, 3, 4 "
        "  UNION ALL "
        "  SELECT tenant, namespace, coalesce(agent_id, ''), NULL, 0, 0, 0, "
        "  sum(archive_reason = 'expired'), sum(archive_reason != 'expired'), 0 "
        f"  FROM archive WHERE archived_at >= :ds AND archived_at < :de{archive_scope} "
        "  GROUP BY 1, 2, 3"
        ") GROUP BY tenant, namespace, agent ORDER BY tenant, namespace, agent",
        params,
    )


def replace_snapshot(
    db: Database, day: str, tenant: str | None, rows: Sequence[Sequence[Any]]
) -> int:
    """Replace the day's rows of ``tenant`` (every tenant if None) with ``rows`` (tuples
    in ``SNAPSHOT_COLUMNS`` order). Call inside a write transaction."""
    if tenant is None:
        db.execute("DELETE FROM snapshots WHERE day = ?", (day,))
    else:
        db.execute("DELETE FROM snapshots WHERE day = ? AND tenant = ?", (day, tenant))
    names = ", ".join(SNAPSHOT_COLUMNS)
    marks = ", ".join("?" * len(SNAPSHOT_COLUMNS))
    db.executemany(f"INSERT INTO snapshots ({names}) VALUES ({marks})", [list(r) for r in rows])
    return len(rows)


def snapshots_between(db: Database, first_day: str, last_day: str, tenant: str | None) -> list[Any]:
    """Snapshot rows of the days ``first_day`` to ``last_day`` (YYYY-MM-DD, inclusive),
    newest day first."""
    sql = f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM snapshots WHERE day BETWEEN ? AND ?"
    params: list[Any] = [first_day, last_day]
    if tenant is not None:
        sql += " AND tenant = ?"
        params.append(tenant)
    sql += " ORDER BY day DESC, tenant, namespace, agent_id"
    return db.all(sql, params)


def latest_snapshot_day(db: Database, tenant: str | None) -> str | None:
    if tenant is None:
        value = db.scalar("SELECT max(day) FROM snapshots")
    else:
        value = db.scalar("SELECT max(day) FROM snapshots WHERE tenant = ?", (tenant,))
    return None if value is None else str(value)
