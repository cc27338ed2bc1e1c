"""SQL for ``stats`` and the daily analytics snapshots: set-based aggregates only
(GROUP BY over the tables, one pass each), never a row per memory into Python."""

from collections.abc import Sequence
from typing import Any, NamedTuple

from memctl.clock import DAY
from memctl.store.backend import backend_of
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


# Whole-table aggregates read ``FROM <table> NOT INDEXED`` on SQLite (the dialect's
# ``NOT_INDEXED``): they visit most of a tenant's rows, and one sequential scan (~70 ms at
# 100k rows) beats walking the tenant index with a table lookup per row (~200-300 ms),
# which SQLite otherwise picks for ``tenant = ?`` or a GROUP BY in index order.
#
# Conditions are counted as ``sum(CASE WHEN ... THEN 1 ELSE 0 END)`` (``_count_if``):
# PostgreSQL does not add booleans.


def _count_if(condition: str) -> str:
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


class MemoryGroup(NamedTuple):
    """One (namespace, agent, type) group of the active table."""

    namespace: str
    agent_id: str | None
    type: str
    total: int
    expired: int | None  # expired but not yet moved out
    stored: int | None  # bytes as stored
    raw: int | None  # bytes of the serialized JSON
    compressed: int | None
    oldest_expiry: float | None  # of the expired ones
    unembedded: int | None  # without a vector of the current model


class ArchiveGroup(NamedTuple):
    """One (namespace, agent, type) group of the archive."""

    namespace: str
    agent_id: str | None
    type: str
    total: int
    stored: int | None
    raw: int | None
    compressed: int | None


class Distribution(NamedTuple):
    importance_bucket: int  # 1..9
    age_bucket: int  # index into AGE_LIMITS_DAYS, or its length
    n: int


class JobRow(NamedTuple):
    """The last log row of one job with its history of runs and failures."""

    job: str
    tenant: str | None
    started_at: float
    duration_ms: float
    last_count: int  # the last run's count
    outcome: str
    error: str | None
    runs: int
    failures: int | None
    last_ok_at: float | None
    failing_since_ok: int


def memory_groups(
    db: Database, now: float, tenant: str | None, model_id: str | None
) -> list[MemoryGroup]:
    """Per (namespace, agent_id, type) of the active table: total, expired-not-moved,
    stored and uncompressed bytes, compressed count, oldest expiry of the expired ones,
    and how many lack a vector of ``model_id`` (0 when embeddings are off)."""
    params: dict[str, Any] = {"now": now, "model": model_id}
    # CAST: PostgreSQL cannot tell the type of a parameter that is only tested for NULL
    unembedded = _count_if(
        "CAST(:model AS TEXT) IS NOT NULL "
        "AND (embedding_model IS NULL OR embedding_model != :model)"
    )
    sql = f"""
        SELECT namespace, agent_id, type,
               count(*) AS total,
               {_count_if(_EXPIRED)} AS expired,
               sum(length(value)) AS stored,
               sum(size) AS raw,
               sum(compressed) AS compressed,
               min(CASE WHEN {_EXPIRED} THEN expires_at END) AS oldest_expiry,
               {unembedded} AS unembedded
        FROM memories{backend_of(db).dialect.NOT_INDEXED}
        WHERE TRUE{_tenant(tenant, params)}
        GROUP BY namespace, agent_id, type
    """
    return [MemoryGroup._make(row) for row in db.all(sql, params)]


def archive_groups(db: Database, tenant: str | None) -> list[ArchiveGroup]:
    """Per (namespace, agent_id, type) of the archive: count, bytes, compressed count."""
    params: dict[str, Any] = {}
    sql = f"""
        SELECT namespace, agent_id, type,
               count(*) AS total,
               sum(length(value)) AS stored,
               sum(size) AS raw,
               sum(compressed) AS compressed
        FROM archive{backend_of(db).dialect.NOT_INDEXED}
        WHERE TRUE{_tenant(tenant, params)}
        GROUP BY namespace, agent_id, type
    """
    return [ArchiveGroup._make(row) for row in db.all(sql, params)]


def distributions(db: Database, now: float, tenant: str | None) -> list[Distribution]:
    """Active memories counted per (importance bucket 1..9, age bucket 0..4).

    Importance bucket ``b`` holds ``b <= importance < b + 1`` (bucket 9 includes 10);
    age buckets split at ``AGE_LIMITS_DAYS`` (a future creation time counts as new)."""
    params: dict[str, Any] = {"now": now}
    age_cases = "\n".join(
        f"                WHEN :now - created_at < {limit * DAY} THEN {index}"
        for index, limit in enumerate(AGE_LIMITS_DAYS)
    )
    d = backend_of(db).dialect
    sql = f"""
        SELECT {d.least("9", d.greatest("1", d.to_int("importance")))} AS importance_bucket,
               CASE
{age_cases}
                ELSE {len(AGE_LIMITS_DAYS)}
               END AS age_bucket,
               count(*) AS n
        FROM memories{d.NOT_INDEXED}
        WHERE {_ACTIVE}{_tenant(tenant, params)}
        GROUP BY 1, 2
    """
    return [Distribution._make(row) for row in db.all(sql, params)]


def _job_key(db: Database, alias: str = "") -> str:
    """The job a log row belongs to: its action, and for the daemon's own rows (action
    ``daemon``, the job in ``details.job``) ``daemon:<job>``."""
    p = f"{alias}." if alias else ""
    job = backend_of(db).dialect.json_text(f"{p}details", "job")
    return (
        f"CASE WHEN {p}action = 'daemon' THEN 'daemon:' || coalesce({job}, '?') ELSE {p}action END"
    )


def job_runs(db: Database, tenant: str | None) -> list[JobRow]:
    """The last lifecycle-log row of each job (``_job_key``) with its run and failure
    counts, the last success, and the failures since then. A tenant sees its own rows
    and the all-tenant (``tenant IS NULL``) runs. Keyword fallbacks are not jobs."""
    params: dict[str, Any] = {}
    scope = x_scope = ""
    if tenant is not None:
        params["tenant"] = tenant
        scope = " AND (tenant = :tenant OR tenant IS NULL)"
        x_scope = " AND (x.tenant = :tenant OR x.tenant IS NULL)"
    # failing_since_ok counts over a rowid range from the last success: short unless
    # the job keeps failing
    sql = f"""
        SELECT g.job, l.tenant, l.started_at, l.duration_ms, l.count, l.outcome, l.error,
               g.runs, g.failures,
               ok.started_at AS last_ok_at,
               (SELECT count(*) FROM lifecycle_log x
                WHERE x.id > coalesce(g.last_ok_id, 0)
                  AND x.outcome != 'ok'
                  AND {_job_key(db, "x")} = g.job{x_scope}) AS failing_since_ok
        FROM (
            SELECT {_job_key(db)} AS job,
                   max(id) AS last_id,
                   count(*) AS runs,
                   {_count_if("outcome != 'ok'")} AS failures,
                   max(CASE WHEN outcome = 'ok' THEN id END) AS last_ok_id
            FROM lifecycle_log
            WHERE action != '{KEYWORD_FALLBACK}'{scope}
            GROUP BY 1
        ) g
        JOIN lifecycle_log l ON l.id = g.last_id
        LEFT JOIN lifecycle_log ok ON ok.id = g.last_ok_id
        ORDER BY g.job
    """
    return [JobRow._make(row) for row in db.all(sql, params)]


def schema_version(db: Database) -> int:
    return db.schema_version()


# ---------------------------------------------------------------- daily snapshots


class SnapshotGroup(NamedTuple):
    """Today's figures of one (tenant, namespace, agent), before they become a row."""

    tenant: str
    namespace: str
    agent: str  # '' = no agent
    counts_by_type: str | None  # JSON {type: count}
    total: int | None
    avg_importance: float | None
    accesses: int | None
    expirations: int | None
    archives: int | None
    bytes: int | None


class SnapshotStored(NamedTuple):
    """One row of the ``snapshots`` table."""

    day: str
    tenant: str
    namespace: str
    agent_id: str
    counts_by_type: str  # JSON {type: count}
    total: int
    avg_importance: float
    accesses: int
    expirations: int
    archives: int
    bytes: int


SNAPSHOT_COLUMNS = SnapshotStored._fields


def snapshot_rows(
    db: Database, now: float, day_start: float, tenant: str | None
) -> list[SnapshotGroup]:
    """Today's analytics per (tenant, namespace, agent): active memories by type, their
    average importance, how many were read today, stored bytes; and what went to the
    archive today (``expired`` vs any other reason)."""
    params: dict[str, Any] = {"now": now, "ds": day_start, "de": day_start + DAY}
    active_scope = _tenant(tenant, params)
    archive_scope = _tenant(tenant, params)
    d = backend_of(db).dialect
    sql = f"""
        SELECT tenant, namespace, agent,
               {d.group_object("type", "n")} FILTER (WHERE type IS NOT NULL)
                   AS counts_by_type,
               sum(n) AS total,
               coalesce(sum(importance) / nullif(sum(n), 0), 0) AS avg_importance,
               sum(accesses) AS accesses,
               sum(expirations) AS expirations,
               sum(archives) AS archives,
               sum(bytes) AS bytes
        FROM (
            SELECT tenant, namespace, coalesce(agent_id, '') AS agent, type,
                   count(*) AS n,
                   sum(importance) AS importance,
                   {_count_if("accessed_at >= :ds AND accessed_at < :de")} AS accesses,
                   0 AS expirations,
                   0 AS archives,
                   sum(length(value)) AS bytes
            FROM memories{d.NOT_INDEXED}
            WHERE {_ACTIVE}{active_scope}
            GROUP BY 1, 2, 3, 4
            UNION ALL
            SELECT tenant, namespace, coalesce(agent_id, ''), NULL, 0, 0, 0,
                   {_count_if("archive_reason = 'expired'")},
                   {_count_if("archive_reason != 'expired'")},
                   0
            FROM archive
            WHERE archived_at >= :ds AND archived_at < :de{archive_scope}
            GROUP BY 1, 2, 3
        ) parts
        GROUP BY tenant, namespace, agent
        ORDER BY tenant, namespace, agent
    """
    return [SnapshotGroup._make(row) for row in db.all(sql, params)]


def replace_snapshot(
    db: Database, day: str, tenant: str | None, rows: Sequence[Sequence[Any]]
) -> int:
    """Replace the day's rows of ``tenant`` (every tenant if None) with ``rows`` (tuples
    in ``SNAPSHOT_COLUMNS`` order). Call inside a write transaction. Two machines taking
    the same day's snapshot at once (PostgreSQL) both succeed: the later one's rows win
    (``ON CONFLICT``)."""
    if tenant is None:
        db.execute("DELETE FROM snapshots WHERE day = ?", (day,))
    else:
        db.execute("DELETE FROM snapshots WHERE day = ? AND tenant = ?", (day, tenant))
    names = ", ".join(SNAPSHOT_COLUMNS)
    marks = ", ".join("?" * len(SNAPSHOT_COLUMNS))
    key = ("day", "tenant", "namespace", "agent_id")
    updates = ", ".join(f"{c} = excluded.{c}" for c in SNAPSHOT_COLUMNS if c not in key)
    db.executemany(
        f"INSERT INTO snapshots ({names}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}",
        [list(r) for r in rows],
    )
    return len(rows)


def snapshots_between(
    db: Database, first_day: str, last_day: str, tenant: str | None
) -> list[SnapshotStored]:
    """Snapshot rows of the days ``first_day`` to ``last_day`` (YYYY-MM-DD, inclusive),
    newest day first."""
    sql = f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM snapshots WHERE day BETWEEN ? AND ?"
    params: list[Any] = [first_day, last_day]
    if tenant is not None:
        sql += " AND tenant = ?"
        params.append(tenant)
    sql += " ORDER BY day DESC, tenant, namespace, agent_id"
    return [SnapshotStored._make(row) for row in db.all(sql, params)]


def latest_snapshot_day(db: Database, tenant: str | None) -> str | None:
    if tenant is None:
        value = db.scalar("SELECT max(day) FROM snapshots")
    else:
        value = db.scalar("SELECT max(day) FROM snapshots WHERE tenant = ?", (tenant,))
    return None if value is None else str(value)
