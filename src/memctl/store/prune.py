"""SQL for prune: archived memories past their retention, and active memories that the
``max_age_days`` / ``min_reward`` / ``max_entries`` rules would archive."""

from collections.abc import Sequence
from typing import Any

from memctl.clock import DAY
from memctl.store.backend import backend_of
from memctl.store.batch import marks
from memctl.store.db import Database
from memctl.store.rules import rule_case, tenant_clause


def old_archive_rows(
    db: Database, tenant: str | None, cutoff: float, patterns: Sequence[str | None]
) -> list[tuple[int, str, int, float, float]]:
    """(id, namespace, rule, archived_at, importance) of archived memories archived
    before ``cutoff`` (the loosest retention of any rule); rules decide the rest."""
    params: dict[str, Any] = {"cutoff": cutoff}
    dialect = backend_of(db).dialect
    case, case_params = rule_case(patterns, dialect)
    params.update(case_params)
    sql = f"""
        SELECT id, namespace, {case} AS rule, archived_at, importance
        FROM archive
        WHERE {tenant_clause(tenant, params, dialect)} AND archived_at < :cutoff
        ORDER BY id
    """
    return [
        (int(r[0]), str(r[1]), int(r[2]), float(r[3]), float(r[4])) for r in db.all(sql, params)
    ]


def still_purgeable(db: Database, ids: Sequence[int], cutoff: float, keep: float) -> list[int]:
    """The subset of ``ids`` still archived before ``cutoff`` and below ``keep`` (on
    PostgreSQL locked, skipping rows another transaction holds)."""
    if not ids:
        return []
    rows = db.all(
        f"""
        SELECT id FROM archive
        WHERE id IN ({marks(ids)}) AND archived_at < ? AND importance < ?
        ORDER BY id{backend_of(db).dialect.SKIP_LOCKED}
        """,
        [*ids, cutoff, keep],
    )
    return [int(r[0]) for r in rows]


def active_prune_rows(
    db: Database,
    tenant: str | None,
    now: float,
    patterns: Sequence[str | None],
    max_age: dict[int, float],
    min_reward: dict[int, float],
    max_entries: dict[int, int],
) -> list[tuple[int, str, str]]:
    """(id, namespace, why) of active memories the prune rules would archive.

    ``max_age`` / ``min_reward`` / ``max_entries`` map a rule index to its limit.
    max_entries counts per (tenant, namespace, rule); the lowest importance goes first,
    then the longest idle, then the oldest id. Expired memories are left to cleanup.
    """
    params: dict[str, Any] = {"now": now}
    dialect = backend_of(db).dialect
    case, case_params = rule_case(patterns, dialect)
    params.update(case_params)
    live = f"{tenant_clause(tenant, params, dialect)} AND (expires_at IS NULL OR expires_at > :now)"
    out: dict[int, tuple[int, str, str]] = {}

    def limit_of(limits: dict[int, float] | dict[int, int], name: str) -> str:
        """The rule's limit as a CASE over the ``rule`` column (bound parameters)."""
        whens = []
        for index, value in limits.items():
            params[f"{name}{index}"] = value
            whens.append(f"WHEN {int(index)} THEN :{name}{index}")
        return f"(CASE rule {' '.join(whens)} END)"

    def rules_in(limits: dict[int, float] | dict[int, int]) -> str:
        return ",".join(str(int(index)) for index in limits)

    if max_age:
        sql = f"""
            SELECT id, namespace
            FROM (
                SELECT id, namespace, created_at, {case} AS rule
                FROM memories
                WHERE {live}
            ) ruled
            WHERE rule IN ({rules_in(max_age)})
              AND created_at < :now - {limit_of(max_age, "age")} * {DAY}
        """
        for r in db.all(sql, params):
            out.setdefault(int(r[0]), (int(r[0]), str(r[1]), "max_age_days"))
    if min_reward:
        sql = f"""
            SELECT id, namespace
            FROM (
                SELECT id, namespace, reward, {case} AS rule
                FROM memories
                WHERE {live} AND reward IS NOT NULL
            ) ruled
            WHERE rule IN ({rules_in(min_reward)})
              AND reward < {limit_of(min_reward, "reward")}
        """
        for r in db.all(sql, params):
            out.setdefault(int(r[0]), (int(r[0]), str(r[1]), "min_reward"))
    if max_entries:
        sql = f"""
            SELECT id, namespace
            FROM (
                SELECT id, namespace, rule,
                       row_number() OVER (
                           PARTITION BY tenant, namespace, rule
                           ORDER BY importance DESC,
                                    coalesce(accessed_at, created_at) DESC,
                                    id DESC
                       ) AS rn
                FROM (
                    SELECT id, tenant, namespace, importance, accessed_at, created_at,
                           {case} AS rule
                    FROM memories
                    WHERE {live}
                ) ruled
                WHERE rule IN ({rules_in(max_entries)})
            ) ranked
            WHERE rn > {limit_of(max_entries, "entries")}
        """
        for r in db.all(sql, params):
            out.setdefault(int(r[0]), (int(r[0]), str(r[1]), "max_entries"))
    return sorted(out.values())
