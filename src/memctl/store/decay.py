"""SQL for importance decay: the exact integral of the idle-time rate (docs/policies.md),
applied over id ranges, to one memory before an access, or summarised for a dry run.

Idle time starts at ``t0 = coalesce(accessed_at, created_at)``; the rate is 0 for the
first 7 idle days, ``idle_7d_per_day`` until day 30, then ``idle_30d_per_day``.
Integrating exactly over [``coalesce(last_decay_at, t0)``, now] makes any run
frequency give the same result. A memory's ``metadata.decay`` may override the rates
and the floor (numbers only).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from memctl.clock import DAY
from memctl.store.backend import Dialect, backend_of
from memctl.store.db import Database
from memctl.store.rules import rule_case, tenant_clause

DECAY_BUCKETS = ((0.1, "<0.1"), (0.5, "0.1-0.5"), (1.0, "0.5-1"), (2.0, "1-2"), (5.0, "2-5"))


@dataclass(frozen=True)
class DecayRates:
    idle_7d_per_day: float
    idle_30d_per_day: float
    floor: float


def _override(dialect: Dialect, name: str, default: str) -> str:
    """A per-memory number from ``metadata.decay.<name>`` if it is one, else the default;
    kept to 0-10 like the policy fields (metadata is free-form: a floor of 1e308 would
    otherwise raise importance to 1e308). ``instr`` keeps the JSON functions off the
    common case (no override)."""
    return dialect.json_number("metadata", ("decay", name), default, 0.0, 10.0)


def _exprs(d: Dialect) -> tuple[str, str]:
    """(loss, floor): the SQL of the importance lost over [last decay, :now] and of the
    floor, with the rates bound as ``:r7``, ``:r30`` and ``:floor``."""
    t0 = "coalesce(accessed_at, created_at)"
    start = f"coalesce(last_decay_at, {t0})"
    window = f"{d.least(':now', f'{t0} + 30 * {DAY}')} - {d.greatest(start, f'{t0} + 7 * {DAY}')}"
    idle_7_to_30 = d.greatest("0.0", window)
    idle_past_30 = d.greatest("0.0", f":now - {d.greatest(start, f'{t0} + 30 * {DAY}')}")
    rate_7 = _override(d, "idle_7d_per_day", ":r7")
    rate_30 = _override(d, "idle_30d_per_day", ":r30")
    loss = f"(({rate_7}) * {idle_7_to_30} + ({rate_30}) * {idle_past_30}) / {DAY}"
    return loss, _override(d, "floor", ":floor")


def _params(now: float, rates: DecayRates) -> dict[str, Any]:
    return {
        "now": now,
        "r7": rates.idle_7d_per_day,
        "r30": rates.idle_30d_per_day,
        "floor": rates.floor,
    }


def _due(
    d: Dialect,
    tenant: str | None,
    rules: Sequence[int] | None,
    case: str,
    params: dict[str, Any],
    by_id: bool = False,
) -> str:
    """Rows idle for more than 7 days, not yet decayed up to now, under ``rules``."""
    clauses = [
        tenant_clause(tenant, params, d, by_id),
        f"coalesce(accessed_at, created_at) < :now - 7 * {DAY}",
        "(last_decay_at IS NULL OR last_decay_at < :now)",
    ]
    if rules is not None:
        clauses.append(f"{case} IN ({','.join(str(int(r)) for r in rules)})")
    return "\n          AND ".join(clauses)


def decay_range(
    db: Database,
    lo: int,
    hi: int,
    now: float,
    tenant: str | None,
    rates: DecayRates,
    patterns: Sequence[str | None],
    rules: Sequence[int] | None,
) -> list[tuple[int, str]]:
    """Apply decay to memories with ids in [lo, hi] whose rule is in ``rules`` (None:
    every row); returns the (id, tenant) of those that changed. Call inside a write
    transaction."""
    d = backend_of(db).dialect
    loss, floor = _exprs(d)
    case, params = rule_case(patterns, d)
    params.update(_params(now, rates), lo=lo, hi=hi)
    sql = f"""
        UPDATE memories
        SET importance = {d.greatest(floor, f"importance - {loss}")},
            last_decay_at = :now
        WHERE id BETWEEN :lo AND :hi
          AND {_due(d, tenant, rules, case, params, by_id=True)}
          AND importance > {floor}
          AND {loss} > 0
        RETURNING id, tenant
    """
    return [(int(row[0]), str(row[1])) for row in db.all(sql, params)]


def settle_decay(db: Database, memory_id: int, now: float, rates: DecayRates) -> float | None:
    """Apply the decay one memory accrued up to ``now`` (called just before an access
    resets its idle clock); its new importance, or None if nothing changed."""
    d = backend_of(db).dialect
    loss, floor = _exprs(d)
    params = _params(now, rates)
    params["id"] = memory_id
    sql = f"""
        UPDATE memories
        SET importance = {d.greatest(floor, f"importance - {loss}")},
            last_decay_at = :now
        WHERE id = :id
          AND {_due(d, None, None, "", params)}
          AND importance > {floor}
          AND {loss} > 0
        RETURNING importance
    """
    rows = db.all(sql, params)
    return float(rows[0][0]) if rows else None


def decay_distribution(
    db: Database,
    now: float,
    tenant: str | None,
    rates: DecayRates,
    patterns: Sequence[str | None],
    rules: Sequence[int] | None,
) -> dict[str, Any]:
    """What a decay run would change: counts per size of drop, rows reaching the floor,
    and the total importance removed."""
    d = backend_of(db).dialect
    loss, floor = _exprs(d)
    case, params = rule_case(patterns, d)
    params.update(_params(now, rates))
    buckets = "\n".join(
        f"            WHEN drop_ < {edge} THEN '{label}'" for edge, label in DECAY_BUCKETS
    )
    sql = f"""
        SELECT CASE
{buckets}
            ELSE '>=5'
            END AS bucket,
            count(*), coalesce(sum(drop_), 0.0), sum(reaches_floor)
        FROM (
            SELECT importance - {d.greatest(floor, f"importance - {loss}")} AS drop_,
                   CASE WHEN importance - {loss} <= {floor} THEN 1 ELSE 0 END AS reaches_floor
            FROM memories
            WHERE {_due(d, tenant, rules, case, params)}
              AND importance > {floor}
              AND {loss} > 0
        ) due
        GROUP BY bucket
    """
    out: dict[str, Any] = {"buckets": {}, "total_drop": 0.0, "reach_floor": 0, "count": 0}
    for row in db.all(sql, params):
        out["buckets"][row[0]] = int(row[1])
        out["total_drop"] += float(row[2])
        out["reach_floor"] += int(row[3] or 0)
        out["count"] += int(row[1])
    return out
