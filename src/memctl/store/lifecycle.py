"""SQL for the lifecycle jobs: cleanup, decay, prune, archive/restore and compaction.

Policies apply per path (``namespace/key``) with first-match-wins globs. In memctl globs
only ``*`` is special; SQLite's ``GLOB`` is case-sensitive with ``*`` matching any run
of characters, ``/`` included, and ``columns.sqlite_glob`` makes its ``?`` and ``[``
literal, so the rule of every row is computed inside SQL by ``rule_case`` and equals
``Policies.for_path``.
Patterns are always bound parameters, never spliced into the SQL text.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from memctl.store import vectors
from memctl.store.columns import (
    ARCHIVE_COLUMNS,
    FTS_TABLE,
    MEMORY_COLUMNS,
    VEC_TABLE,
    sqlite_glob,
)
from memctl.store.db import Database
from memctl.store.memories import BATCH, Filters, row_to_memory, where_clause

DAY = 86400.0
BULK_CACHE_KIB = 65536
_PATH = "(namespace || '/' || key)"
_SELECT_ARCHIVE = ", ".join(ARCHIVE_COLUMNS)
_MEMORY_FIELDS = ", ".join(MEMORY_COLUMNS)


def rule_case(patterns: Sequence[str], prefix: str = "p") -> tuple[str, dict[str, Any]]:
    """An SQL expression giving the index of the first pattern matching the row's path,
    or ``len(patterns)`` (the defaults) when none does; with named parameters."""
    if not patterns:
        return "0", {}
    whens = " ".join(f"WHEN {_PATH} GLOB :{prefix}{i} THEN {i}" for i in range(len(patterns)))
    params = {f"{prefix}{i}": sqlite_glob(pattern) for i, pattern in enumerate(patterns)}
    return f"(CASE {whens} ELSE {len(patterns)} END)", params


def _tenant_clause(tenant: str | None, params: dict[str, Any], by_id: bool = False) -> str:
    """The tenant filter; ``by_id`` (work over id ranges) writes ``+tenant`` so the
    planner walks the rowid range instead of a (tenant, ...) index."""
    if tenant is None:
        return "1"
    params["tenant"] = tenant
    return "+tenant = :tenant" if by_id else "tenant = :tenant"


def _namespace_clause(namespace: str | None, params: dict[str, Any]) -> str:
    if namespace is None:
        return "1"
    if "*" in namespace:
        params["ns_glob"] = sqlite_glob(namespace)
        return "namespace GLOB :ns_glob"
    params["ns_glob"] = namespace
    return "namespace = :ns_glob"


def _marks(ids: Sequence[int]) -> str:
    return ",".join("?" * len(ids))


def bulk_session(db: Database) -> None:
    """A larger page cache for a long lifecycle job on this connection, so a batch's
    dirty index pages are not spilled to the WAL (and rewritten) mid-transaction."""
    db.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")


def commit_watcher(db: Database) -> Callable[[], bool]:
    """A function telling whether another connection committed since its last call
    (``PRAGMA data_version``; this connection's own commits do not count)."""
    last = [int(db.scalar("PRAGMA data_version"))]

    def others_committed() -> bool:
        current = int(db.scalar("PRAGMA data_version"))
        changed = current != last[0]
        last[0] = current
        return changed

    return others_committed


def present_ids(db: Database, ids: Sequence[int], table: str = "memories") -> list[int]:
    """The subset of ``ids`` present in ``table`` (memories or archive), in order given."""
    if not ids:
        return []
    assert table in ("memories", "archive")
    have = {int(r[0]) for r in db.all(f"SELECT id FROM {table} WHERE id IN ({_marks(ids)})", ids)}
    return [i for i in ids if i in have]


# ------------------------------------------------------------------ cleanup


def expired_rows(
    db: Database, tenant: str | None, now: float, namespace: str | None, patterns: Sequence[str]
) -> list[tuple[int, str, int]]:
    """(id, namespace, rule index) of every expired active memory, in id order (neighbouring
    ids share vec0 chunks, which keeps the index updates of one batch local)."""
    params: dict[str, Any] = {"now": now}
    case, case_params = rule_case(patterns)
    params.update(case_params)
    sql = (
        f"SELECT id, namespace, {case} AS rule FROM memories "
        f"WHERE {_tenant_clause(tenant, params)} AND {_namespace_clause(namespace, params)} "
        "AND expires_at IS NOT NULL AND expires_at <= :now ORDER BY id"
    )
    return [(int(r[0]), str(r[1]), int(r[2])) for r in db.all(sql, params)]


def still_expired(db: Database, ids: Sequence[int], now: float) -> list[int]:
    """The subset of ``ids`` still active and expired (a store may have refreshed some
    since they were read); call inside the write transaction that moves them."""
    if not ids:
        return []
    rows = db.all(
        f"SELECT id FROM memories WHERE id IN ({_marks(ids)}) "
        "AND expires_at IS NOT NULL AND expires_at <= ?",
        [*ids, now],
    )
    return [int(r[0]) for r in rows]


# ------------------------------------------------------------------ decay


@dataclass(frozen=True)
class DecayRates:
    idle_7d_per_day: float
    idle_30d_per_day: float
    floor: float


def _override(name: str, default: str) -> str:
    """A per-memory number from ``metadata.decay.<name>`` if it is one, else the default;
    kept to 0-10 like the policy fields (metadata is free-form: a floor of 1e308 would
    otherwise raise importance to 1e308). ``instr`` keeps the JSON functions off the
    common case (no override)."""
    path = f"'$.decay.{name}'"
    return (
        f"(CASE WHEN instr(metadata, '\"decay\"') > 0 "
        f"AND json_type(metadata, {path}) IN ('integer', 'real') "
        f"THEN min(10.0, max(0.0, json_extract(metadata, {path}))) ELSE {default} END)"
    )


def _decay_exprs() -> tuple[str, str]:
    """(loss, floor) SQL for the decay integral over [last decay, now] (docs/policies.md).

    Idle time starts at ``t0 = coalesce(accessed_at, created_at)``; the rate is 0 for
    the first 7 idle days, ``idle_7d_per_day`` until day 30, then ``idle_30d_per_day``.
    Integrating exactly over [``coalesce(last_decay_at, t0)``, now] makes any run
    frequency give the same result.
    """
    t0 = "coalesce(accessed_at, created_at)"
    start = f"coalesce(last_decay_at, {t0})"
    part_7 = f"max(0.0, min(:now, {t0} + 30 * {DAY}) - max({start}, {t0} + 7 * {DAY}))"
    part_30 = f"max(0.0, :now - max({start}, {t0} + 30 * {DAY}))"
    rate_7 = _override("idle_7d_per_day", ":r7")
    rate_30 = _override("idle_30d_per_day", ":r30")
    loss = f"(({rate_7}) * {part_7} + ({rate_30}) * {part_30}) / {DAY}"
    floor = _override("floor", ":floor")
    return loss, floor


def _decay_where(
    tenant: str | None,
    rules: Sequence[int] | None,
    case: str,
    params: dict[str, Any],
    by_id: bool = False,
) -> str:
    clauses = [
        _tenant_clause(tenant, params, by_id),
        f"coalesce(accessed_at, created_at) < :now - 7 * {DAY}",
        "(last_decay_at IS NULL OR last_decay_at < :now)",
    ]
    if rules is not None:
        clauses.append(f"{case} IN ({','.join(str(int(r)) for r in rules)})")
    return " AND ".join(clauses)


def id_bounds(db: Database, table: str = "memories") -> tuple[int, int]:
    row = db.one(f"SELECT coalesce(min(id), 0), coalesce(max(id), -1) FROM {table}")
    return int(row[0]), int(row[1])


def decay_range(
    db: Database,
    lo: int,
    hi: int,
    now: float,
    tenant: str | None,
    rates: DecayRates,
    patterns: Sequence[str],
    rules: Sequence[int] | None,
) -> int:
    """Apply decay to memories with ids in [lo, hi] whose rule is in ``rules`` (None:
    every row); returns how many changed. Call inside a write transaction."""
    loss, floor = _decay_exprs()
    case, params = rule_case(patterns)
    params.update(now=now, r7=rates.idle_7d_per_day, r30=rates.idle_30d_per_day, lo=lo, hi=hi)
    params["floor"] = rates.floor
    where = _decay_where(tenant, rules, case, params, by_id=True)
    sql = (
        f"UPDATE memories SET importance = max({floor}, importance - {loss}), "
        f"last_decay_at = :now WHERE id BETWEEN :lo AND :hi AND {where} "
        f"AND importance > {floor} AND {loss} > 0"
    )
    return int(db.execute(sql, params).rowcount)


def settle_decay(db: Database, memory_id: int, now: float, rates: DecayRates) -> float | None:
    """Apply the decay one memory accrued up to ``now`` (called just before an access
    resets its idle clock); its new importance, or None if nothing changed."""
    loss, floor = _decay_exprs()
    params = {"now": now, "r7": rates.idle_7d_per_day, "r30": rates.idle_30d_per_day}
    params.update(floor=rates.floor, id=memory_id)
    rows = db.all(
        f"UPDATE memories SET importance = max({floor}, importance - {loss}), "
        f"last_decay_at = :now WHERE id = :id "
        f"AND coalesce(accessed_at, created_at) < :now - 7 * {DAY} "
        f"AND (last_decay_at IS NULL OR last_decay_at < :now) "
        f"AND importance > {floor} AND {loss} > 0 RETURNING importance",
        params,
    )
    return float(rows[0][0]) if rows else None


DECAY_BUCKETS = ((0.1, "<0.1"), (0.5, "0.1-0.5"), (1.0, "0.5-1"), (2.0, "1-2"), (5.0, "2-5"))


def decay_distribution(
    db: Database,
    now: float,
    tenant: str | None,
    rates: DecayRates,
    patterns: Sequence[str],
    rules: Sequence[int] | None,
) -> dict[str, Any]:
    """What a decay run would change: counts per size of drop, rows reaching the floor,
    and the total importance removed."""
    loss, floor = _decay_exprs()
    case, params = rule_case(patterns)
    params.update(now=now, r7=rates.idle_7d_per_day, r30=rates.idle_30d_per_day)
    params["floor"] = rates.floor
    where = _decay_where(tenant, rules, case, params)
    buckets = " ".join(f"WHEN drop_ < {edge} THEN '{label}'" for edge, label in DECAY_BUCKETS)
    sql = (
        f"SELECT CASE {buckets} ELSE '>=5' END AS bucket, count(*), total(drop_), "
        "sum(reaches_floor) FROM ("
        f"SELECT importance - max({floor}, importance - {loss}) AS drop_, "
        f"(importance - {loss} <= {floor}) AS reaches_floor FROM memories "
        f"WHERE {where} AND importance > {floor} AND {loss} > 0"
        ") GROUP BY bucket"
    )
    out: dict[str, Any] = {"buckets": {}, "total_drop": 0.0, "reach_floor": 0, "count": 0}
    for row in db.all(sql, params):
        out["buckets"][row[0]] = int(row[1])
        out["total_drop"] += float(row[2])
        out["reach_floor"] += int(row[3] or 0)
        out["count"] += int(row[1])
    return out


# ------------------------------------------------------------------ prune


def old_archive_rows(
    db: Database, tenant: str | None, cutoff: float, patterns: Sequence[str]
) -> list[tuple[int, str, int, float, float]]:
    """(id, namespace, rule, archived_at, importance) of archived memories archived
    before ``cutoff`` (the loosest retention of any rule); rules decide the rest."""
    params: dict[str, Any] = {"cutoff": cutoff}
    case, case_params = rule_case(patterns)
    params.update(case_params)
    sql = (
        f"SELECT id, namespace, {case} AS rule, archived_at, importance FROM archive "
        f"WHERE {_tenant_clause(tenant, params)} AND archived_at < :cutoff ORDER BY id"
    )
    return [
        (int(r[0]), str(r[1]), int(r[2]), float(r[3]), float(r[4])) for r in db.all(sql, params)
    ]


def still_purgeable(db: Database, ids: Sequence[int], cutoff: float, keep: float) -> list[int]:
    """The subset of ``ids`` still archived before ``cutoff`` and below ``keep``."""
    if not ids:
        return []
    rows = db.all(
        f"SELECT id FROM archive WHERE id IN ({_marks(ids)}) "
        "AND archived_at < ? AND importance < ?",
        [*ids, cutoff, keep],
    )
    return [int(r[0]) for r in rows]


def active_prune_rows(
    db: Database,
    tenant: str | None,
    now: float,
    patterns: Sequence[str],
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
    case, case_params = rule_case(patterns)
    params.update(case_params)
    base = f"{_tenant_clause(tenant, params)} AND (expires_at IS NULL OR expires_at > :now)"
    out: dict[int, tuple[int, str, str]] = {}

    def limit_case(limits: dict[int, float] | dict[int, int], name: str) -> str:
        whens = []
        for index, value in limits.items():
            params[f"{name}{index}"] = value
            whens.append(f"WHEN {int(index)} THEN :{name}{index}")
        return f"(CASE rule {' '.join(whens)} END)"

    if max_age:
        sql = (
            f"SELECT id, namespace FROM (SELECT id, namespace, created_at, {case} AS rule "
            f"FROM memories WHERE {base}) WHERE rule IN ({','.join(map(str, max_age))}) "
            f"AND created_at < :now - {limit_case(max_age, 'age')} * {DAY}"
        )
        for r in db.all(sql, params):
            out.setdefault(int(r[0]), (int(r[0]), str(r[1]), "max_age_days"))
    if min_reward:
        sql = (
            f"SELECT id, namespace FROM (SELECT id, namespace, reward, {case} AS rule "
            f"FROM memories WHERE {base} AND reward IS NOT NULL) "
            f"WHERE rule IN ({','.join(map(str, min_reward))}) "
            f"AND reward < {limit_case(min_reward, 'reward')}"
        )
        for r in db.all(sql, params):
            out.setdefault(int(r[0]), (int(r[0]), str(r[1]), "min_reward"))
    if max_entries:
        sql = (
            "SELECT id, namespace FROM (SELECT id, namespace, rule, row_number() OVER ("
            "PARTITION BY tenant, namespace, rule ORDER BY importance DESC, "
            "coalesce(accessed_at, created_at) DESC, id DESC) AS rn FROM ("
            f"SELECT id, tenant, namespace, importance, accessed_at, created_at, {case} AS rule "
            f"FROM memories WHERE {base}) WHERE rule IN ({','.join(map(str, max_entries))})) "
            f"WHERE rn > {limit_case(max_entries, 'entries')}"
        )
        for r in db.all(sql, params):
            out.setdefault(int(r[0]), (int(r[0]), str(r[1]), "max_entries"))
    return sorted(out.values())


# ------------------------------------------------------------------ archive / restore


def select_active(
    db: Database,
    filters: Filters,
    path: str | None = None,
    created_before: float | None = None,
    importance_below: float | None = None,
) -> list[Any]:
    """Active memories matching ``filters``, an exact ``namespace/key`` path and the
    age/importance conditions, as ``Memory`` objects ordered by path."""
    where, params = where_clause(filters)
    if path is not None:
        where += f" AND {_PATH} = ?"
        params.append(path)
    if created_before is not None:
        where += " AND created_at < ?"
        params.append(created_before)
    if importance_below is not None:
        where += " AND importance < ?"
        params.append(importance_below)
    rows = db.all(
        f"SELECT {_MEMORY_FIELDS} FROM memories WHERE {where} ORDER BY namespace, key, id", params
    )
    return [row_to_memory(r) for r in rows]


def archived_by_id(db: Database, tenant: str | None, memory_id: int) -> Any:
    params: dict[str, Any] = {"id": memory_id}
    row = db.one(
        f"SELECT {_SELECT_ARCHIVE} FROM archive WHERE id = :id AND "
        f"{_tenant_clause(tenant, params)}",
        params,
    )
    return None if row is None else row_to_memory(row)


def latest_archived(
    db: Database, tenant: str | None, path: str | None, pattern: str | None
) -> list[Any]:
    """The most recently archived version of each path: one exact ``namespace/key``
    path, or every path matching the glob ``pattern``."""
    params: dict[str, Any] = {}
    clauses = [_tenant_clause(tenant, params)]
    if pattern is not None:
        clauses.append(f"{_PATH} GLOB :pattern")
        params["pattern"] = sqlite_glob(pattern)
    else:
        clauses.append(f"{_PATH} = :path")
        params["path"] = path
    sql = (
        f"SELECT {_SELECT_ARCHIVE} FROM (SELECT *, row_number() OVER (PARTITION BY tenant, "
        "namespace, key ORDER BY archived_at DESC, id DESC) AS rn FROM archive "
        f"WHERE {' AND '.join(clauses)}) WHERE rn = 1 ORDER BY namespace, key"
    )
    return [row_to_memory(r) for r in db.all(sql, params)]


def active_ids_at(db: Database, paths: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    """Path -> id of active memories at the given (tenant, namespace, key) addresses."""
    out: dict[str, int] = {}
    for tenant, namespace, key in paths:
        row = db.one(
            "SELECT id FROM memories WHERE tenant = ? AND namespace = ? AND key = ?",
            (tenant, namespace, key),
        )
        if row is not None:
            out[f"{namespace}/{key}"] = int(row[0])
    return out


def restore(db: Database, expiry: dict[int, float | None]) -> int:
    """Move archived memories back to the active table with their own id and every
    field, setting ``expires_at`` per id. Call inside a write transaction."""
    ids = list(expiry)
    moved = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        marks = _marks(chunk)
        db.execute(
            f"INSERT INTO memories ({_MEMORY_FIELDS}) SELECT {_MEMORY_FIELDS} FROM archive "
            f"WHERE id IN ({marks})",
            chunk,
        )
        db.executemany(
            "UPDATE memories SET expires_at = ? WHERE id = ?",
            [(expiry[i], i) for i in chunk],
        )
        moved += db.execute(f"DELETE FROM archive WHERE id IN ({marks})", chunk).rowcount
        db.executemany(  # one lookup per id: vec0 scans the whole table for IN (...)
            f"UPDATE {VEC_TABLE} SET archived = 0 WHERE memory_id = ?", [(i,) for i in chunk]
        )
    return moved


# ------------------------------------------------------------------ compaction


@dataclass
class VecStats:
    rows: int
    chunks: int
    chunk_size: int
    page_size: int
    pages: int
    free_pages: int

    @property
    def slots(self) -> int:
        return self.chunks * self.chunk_size

    @property
    def dead_slots(self) -> int:
        """Slots of deleted rows that vec0 will never reuse (the last chunk's unfilled
        tail is not counted: new rows go there)."""
        return max(0, self.slots - self.rows - self.chunk_size) if self.chunks else 0


def vec_stats(db: Database) -> VecStats:
    """Live rows and allocated chunks of the vec0 table (from its shadow tables)."""
    rows = int(db.scalar(f"SELECT count(*) FROM {VEC_TABLE}_rowids"))
    chunk = db.one(f"SELECT count(*), coalesce(max(size), 0) FROM {VEC_TABLE}_chunks")
    return VecStats(
        rows=rows,
        chunks=int(chunk[0]),
        chunk_size=int(chunk[1]) or 1024,
        page_size=int(db.scalar("PRAGMA page_size")),
        pages=int(db.scalar("PRAGMA page_count")),
        free_pages=int(db.scalar("PRAGMA freelist_count")),
    )


def rebuild_vectors(db: Database) -> int:
    """Recreate the vec0 table with only its live rows (vec0 never reuses the space of
    deleted rows, and ``ALTER TABLE ... RENAME`` breaks vec0): drop, recreate from the
    table's own DDL, refill from the float vectors. One write transaction, so a kill at
    any instant leaves the old or the new table, and readers see one or the other."""
    with db.write():
        ddl = db.scalar(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (VEC_TABLE,)
        )
        db.execute(f"DROP TABLE {VEC_TABLE}")
        db.execute(str(ddl))
        return vectors.refill_index(db)


def vacuum(db: Database) -> None:
    """Rewrite the file without free pages (blocks writers while it runs)."""
    db.execute("VACUUM")


def index_counts(db: Database) -> dict[str, int]:
    """Row counts the kill-safety checks compare: active, archived, vectors, keyword rows."""
    return {
        "active": int(db.scalar("SELECT count(*) FROM memories")),
        "archived": int(db.scalar("SELECT count(*) FROM archive")),
        "vectors": int(db.scalar(f"SELECT count(*) FROM {VEC_TABLE}")),
        "fts": int(db.scalar(f"SELECT count(*) FROM {FTS_TABLE}")),
    }
