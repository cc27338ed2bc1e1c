"""SQL for expiry: which active memories have expired (cleanup reads them with their
policy rule, then re-checks each batch inside its write) and the hooks' cheap check."""

from collections.abc import Sequence
from typing import Any

from memctl.store.backend import backend_of
from memctl.store.db import Database
from memctl.store.rules import namespace_clause, rule_case, tenant_clause


def expired_rows(
    db: Database,
    tenant: str | None,
    now: float,
    namespace: str | None,
    patterns: Sequence[str | None],
) -> list[tuple[int, str, int]]:
    """(id, namespace, rule index) of every expired active memory, in id order (neighbouring
    ids share vec0 chunks, which keeps the index updates of one batch local)."""
    params: dict[str, Any] = {"now": now}
    dialect = backend_of(db).dialect
    case, case_params = rule_case(patterns, dialect)
    params.update(case_params)
    sql = f"""
        SELECT id, namespace, {case} AS rule
        FROM memories
        WHERE {tenant_clause(tenant, params, dialect)}
          AND {namespace_clause(namespace, params, dialect)}
          AND expires_at IS NOT NULL AND expires_at <= :now
        ORDER BY id
    """
    return [(int(r[0]), str(r[1]), int(r[2])) for r in db.all(sql, params)]


def still_expired(db: Database, ids: Sequence[int], now: float) -> list[int]:
    """The subset of ``ids`` still active and expired (a store may have refreshed some
    since they were read); call inside the write transaction that moves them. On
    PostgreSQL the rows are locked, and rows another transaction holds are skipped (a
    store refreshing one wins; a second cleanup on another machine takes the others)."""
    if not ids:
        return []
    dialect = backend_of(db).dialect
    among, params = dialect.in_ids("id", ids)
    rows = db.all(
        f"""
        SELECT id FROM memories
        WHERE {among} AND expires_at IS NOT NULL AND expires_at <= ?
        ORDER BY id{dialect.SKIP_LOCKED}
        """,
        [*params, now],
    )
    return [int(r[0]) for r in rows]


def count_expired(db: Database, tenant: str | None, namespace_glob: str, now: float) -> int:
    """How many active memories in namespaces matching ``namespace_glob`` are expired.

    ``dialect.plain`` (SQLite's unary ``+``) keeps SQLite on the expiry index: a GLOB
    range on the path index would visit every memory of the namespace (27 ms at 100k
    against well under 1 ms).
    """
    dialect = backend_of(db).dialect
    sql = f"""
        SELECT count(*) FROM memories
        WHERE expires_at IS NOT NULL AND expires_at <= ?
          AND {dialect.glob(dialect.plain("namespace"))}
    """
    params: list[Any] = [now, dialect.glob_param(namespace_glob)]
    if tenant is not None:
        sql += " AND tenant = ?"
        params.append(tenant)
    return int(db.scalar(sql, params))
