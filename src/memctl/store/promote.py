"""SQL for promotion: which active memories meet the ``promotion:`` rules, and marking
the originals once their copy is in the knowledge namespace."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from memctl.clock import DAY
from memctl.store.backend import backend_of
from memctl.store.batch import chunks, marks
from memctl.store.db import Database


@dataclass(frozen=True)
class Rule:
    """The promotion thresholds, as the store needs them (``Policies.promotion``)."""

    min_importance: float
    min_access_count: int
    min_age_days: float
    types: tuple[str, ...]  # empty: any type
    target_namespace: str


def _where(rule: Rule, now: float, tenant: str | None) -> tuple[str, list[Any]]:
    target = rule.target_namespace + "/"
    clauses = [
        "promoted_at IS NULL",
        "(expires_at IS NULL OR expires_at > ?)",  # expired means invisible
        "importance >= ?",
        "access_count >= ?",
        "created_at <= ?",
        # never a memory that already lives under the target (its copies included);
        # substr, not GLOB/LIKE, so the target's characters are never a pattern
        "substr(namespace || '/' || key, 1, ?) != ?",
    ]
    params: list[Any] = [
        now,
        rule.min_importance,
        rule.min_access_count,
        now - rule.min_age_days * DAY,
        len(target),
        target,
    ]
    if rule.types:
        clauses.append(f"type IN ({','.join('?' * len(rule.types))})")
        params.extend(rule.types)
    if tenant is not None:
        clauses.append("tenant = ?")
        params.append(tenant)
    return " AND ".join(clauses), params


class Candidate(NamedTuple):
    """A memory that meets the promotion rules, as the report shows it."""

    id: int
    tenant: str
    namespace: str
    key: str
    type: str
    importance: float
    access_count: int
    created_at: float


_COLUMNS = ", ".join(Candidate._fields)


def candidates(db: Database, rule: Rule, now: float, tenant: str | None) -> list[Candidate]:
    """Every memory that meets the rules now, oldest id first (one set-based query; on
    SQLite a sequential scan, ``NOT INDEXED``, is faster than walking the tenant index)."""
    where, params = _where(rule, now, tenant)
    hint = backend_of(db).dialect.NOT_INDEXED
    sql = f"SELECT {_COLUMNS} FROM memories{hint} WHERE {where} ORDER BY id"
    return [Candidate._make(row) for row in db.all(sql, params)]


def still_eligible(
    db: Database, rule: Rule, now: float, tenant: str | None, ids: Sequence[int]
) -> list[int]:
    """The subset of ``ids`` that still meets the rules (re-checked inside the write
    transaction: another process may have changed or promoted them since; on PostgreSQL
    locked, skipping rows another transaction holds)."""
    out: list[int] = []
    skip = backend_of(db).dialect.SKIP_LOCKED
    for chunk in chunks(ids):
        where, params = _where(rule, now, tenant)
        rows = db.all(
            f"SELECT id FROM memories WHERE id IN ({marks(chunk)}) AND {where} ORDER BY id{skip}",
            [*chunk, *params],
        )
        out.extend(int(row[0]) for row in rows)
    return out


def mark_promoted(db: Database, ids: Sequence[int], now: float) -> int:
    """Set ``promoted_at`` on the originals (call inside a write transaction)."""
    marked = 0
    for chunk in chunks(ids):
        marked += db.execute(
            f"UPDATE memories SET promoted_at = ? WHERE id IN ({marks(chunk)})", [now, *chunk]
        ).rowcount
    return marked
