"""``stats`` figures (docs/daemon.md).

Everything is computed by a handful of GROUP BY queries (``memctl.store.stats``) inside
one read transaction, then rolled up here over the groups (never over memories).

States: *active* = in the memories table and not expired; *expired* = expired but not
yet moved out by cleanup (the expiry backlog); *archived* = in the archive.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memctl.clock import DAY, iso
from memctl.lifecycle import graph
from memctl.paths import Location
from memctl.search.health import KeywordFallbacks, keyword_fallbacks
from memctl.store import stats as sql
from memctl.store.db import Database

IMPORTANCE_LABELS = tuple(f"{b}-{b + 1}" for b in range(1, 10))  # 1-2 … 9-10
AGE_LABELS = ("<1d", "1-7d", "7-30d", "30-90d", ">90d")
FALLBACK_DAYS = 7  # keyword-only hook calls are counted over the last week


@dataclass
class Breakdown:
    """Counts of one namespace, agent or type, per state, with stored bytes."""

    name: str | None
    active: int = 0
    expired: int = 0
    archived: int = 0
    bytes: int = 0  # stored bytes in the active table (active + expired)
    archived_bytes: int = 0

    @property
    def total(self) -> int:
        return self.active + self.expired + self.archived

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total": self.total,
            "active": self.active,
            "expired": self.expired,
            "archived": self.archived,
            "bytes": self.bytes,
            "archived_bytes": self.archived_bytes,
        }


@dataclass
class Storage:
    """Bytes as stored (gzip where it paid off) against the serialized JSON size."""

    count: int = 0
    stored_bytes: int = 0
    uncompressed_bytes: int = 0
    compressed_count: int = 0

    @property
    def ratio(self) -> float:
        """Uncompressed over stored bytes (1.0 = nothing saved)."""
        return self.uncompressed_bytes / self.stored_bytes if self.stored_bytes else 1.0

    def add(self, other: "Storage") -> "Storage":
        return Storage(
            self.count + other.count,
            self.stored_bytes + other.stored_bytes,
            self.uncompressed_bytes + other.uncompressed_bytes,
            self.compressed_count + other.compressed_count,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "stored_bytes": self.stored_bytes,
            "uncompressed_bytes": self.uncompressed_bytes,
            "saved_bytes": self.uncompressed_bytes - self.stored_bytes,
            "compressed_count": self.compressed_count,
            "compression_ratio": round(self.ratio, 3),
        }


@dataclass
class JobStatus:
    """The last run of one lifecycle action and its history of failures. The daemon's
    runs (logged as action ``daemon``) appear per job as ``daemon:<job>``."""

    action: str
    tenant: str | None  # None: a run over every tenant
    last_run_at: float
    duration_ms: float
    count: int
    outcome: str
    error: str | None
    runs: int
    failures: int
    last_ok_at: float | None
    failing_since_ok: int  # consecutive failures up to the last run

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "tenant": self.tenant,
            "last_run_at": iso(self.last_run_at),
            "duration_ms": self.duration_ms,
            "count": self.count,
            "outcome": self.outcome,
            "error": self.error,
            "runs": self.runs,
            "failures": self.failures,
            "last_ok_at": iso(self.last_ok_at),
            "consecutive_failures": self.failing_since_ok,
        }


@dataclass
class Stats:
    count: int  # memories in scope: active + expired + archived
    duration_ms: float
    tenant: str | None
    generated_at: float
    database: dict[str, Any]
    policies: str
    embedding_model: str | None  # None: embeddings are off
    states: dict[str, int]
    by_namespace: list[Breakdown]
    by_agent: list[Breakdown]
    by_type: list[Breakdown]
    storage: dict[str, Storage]
    importance: list[tuple[str, int]]
    age: list[tuple[str, int]]
    expiry_backlog: int
    oldest_expiry: float | None
    expiry_backlog_by_namespace: dict[str, int]
    embedding_backlog: int | None
    graph_waiting: int = 0  # vectors written in bulk, not yet in the search graph (hub)
    jobs: list[JobStatus] = field(default_factory=list)
    model_prepared: bool | None = None  # the ONNX export is on this machine (None: off)
    keyword_fallbacks: KeywordFallbacks = field(default_factory=lambda: KeywordFallbacks(0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "generated_at": iso(self.generated_at),
            "duration_ms": round(self.duration_ms, 3),
            "database": self.database,
            "policies": self.policies,
            "embedding_model": self.embedding_model,
            "count": self.count,
            "states": self.states,
            "by_namespace": [b.to_dict() for b in self.by_namespace],
            "by_agent": [b.to_dict() for b in self.by_agent],
            "by_type": [b.to_dict() for b in self.by_type],
            "storage": {name: s.to_dict() for name, s in self.storage.items()},
            "importance_distribution": dict(self.importance),
            "age_distribution": dict(self.age),
            "expiry_backlog": {
                "count": self.expiry_backlog,
                "oldest_expiry": iso(self.oldest_expiry),
                "by_namespace": self.expiry_backlog_by_namespace,
            },
            "embedding_backlog": {
                "count": self.embedding_backlog,
                "model": self.embedding_model,
                "graph_waiting": self.graph_waiting,
            },
            "model_prepared": self.model_prepared,
            "keyword_fallbacks": {
                "since": iso(self.generated_at - FALLBACK_DAYS * DAY),
                **self.keyword_fallbacks.to_dict(),
            },
            "jobs": [job.to_dict() for job in self.jobs],
        }


def _database_info(db: Database, db_path: Location) -> dict[str, Any]:
    """Where the database is and how big (the engine says: ``Database.describe``); a
    stand-in for a missing database reports the file that is not there."""
    if db.stand_in and isinstance(db_path, Path):
        return {
            "engine": "sqlite",
            "path": str(db_path),
            "exists": False,
            "size_bytes": 0,
            "wal_bytes": 0,
            "schema_version": sql.schema_version(db),
        }
    return db.describe()


def _breakdowns(
    groups: Iterable[tuple[str | None, sql.MemoryGroup | sql.ArchiveGroup]],
) -> list[Breakdown]:
    """Roll (name, group) up into one Breakdown per name, largest first."""
    out: dict[str | None, Breakdown] = {}
    for name, row in groups:
        entry = out.setdefault(name, Breakdown(name))
        if isinstance(row, sql.ArchiveGroup):
            entry.archived += int(row.total)
            entry.archived_bytes += int(row.stored or 0)
        else:
            expired = int(row.expired or 0)
            entry.expired += expired
            entry.active += int(row.total) - expired
            entry.bytes += int(row.stored or 0)
    return sorted(out.values(), key=lambda b: (-b.total, b.name or ""))


def _storage(rows: Iterable[sql.MemoryGroup | sql.ArchiveGroup]) -> Storage:
    total = Storage()
    for row in rows:
        total = total.add(
            Storage(
                int(row.total),
                int(row.stored or 0),
                int(row.raw or 0),
                int(row.compressed or 0),
            )
        )
    return total


def collect_stats(
    db: Database,
    now: float,
    tenant: str | None,
    db_path: Location,
    policies_source: str,
    model_id: str | None,
    model_prepared: bool | None = None,
) -> Stats:
    """Every ``stats`` figure for ``tenant`` (None: all tenants) from one read snapshot.

    ``model_id`` is the runtime id of the configured embedding model (e.g.
    ``all-MiniLM-L6-v2/384``); None when embeddings are off (no embedding backlog).
    ``model_prepared``: whether its ONNX export is on this machine (None: not checked).
    """
    started = time.perf_counter()
    with db.read():
        active_rows = sql.memory_groups(db, now, tenant, model_id)
        archive_rows = sql.archive_groups(db, tenant)
        dist_rows = sql.distributions(db, now, tenant)
        job_rows = sql.job_runs(db, tenant)
        database = _database_info(db, db_path)
    fallbacks = keyword_fallbacks(db, tenant, now - FALLBACK_DAYS * DAY)

    def dims(key: str) -> list[Breakdown]:
        return _breakdowns(
            [(getattr(row, key), row) for row in active_rows]
            + [(getattr(row, key), row) for row in archive_rows]
        )

    expired = sum(int(row.expired or 0) for row in active_rows)
    in_table = sum(int(row.total) for row in active_rows)
    archived = sum(int(row.total) for row in archive_rows)
    backlog_by_ns: dict[str, int] = {}
    for row in active_rows:
        if row.expired:
            backlog_by_ns[row.namespace] = backlog_by_ns.get(row.namespace, 0) + int(row.expired)
    oldest = [row.oldest_expiry for row in active_rows if row.oldest_expiry is not None]
    importance = [0] * len(IMPORTANCE_LABELS)
    age = [0] * len(AGE_LABELS)
    for bucket in dist_rows:
        importance[int(bucket.importance_bucket) - 1] += int(bucket.n)
        age[int(bucket.age_bucket)] += int(bucket.n)
    memories_storage = _storage(active_rows)
    archive_storage = _storage(archive_rows)
    return Stats(
        count=in_table + archived,
        duration_ms=(time.perf_counter() - started) * 1000,
        tenant=tenant,
        generated_at=now,
        database=database,
        policies=policies_source,
        embedding_model=model_id,
        states={"active": in_table - expired, "expired": expired, "archived": archived},
        by_namespace=dims("namespace"),
        by_agent=dims("agent_id"),
        by_type=dims("type"),
        storage={
            "memories": memories_storage,
            "archive": archive_storage,
            "total": memories_storage.add(archive_storage),
        },
        importance=list(zip(IMPORTANCE_LABELS, importance, strict=True)),
        age=list(zip(AGE_LABELS, age, strict=True)),
        expiry_backlog=expired,
        oldest_expiry=min(oldest) if oldest else None,
        expiry_backlog_by_namespace=dict(sorted(backlog_by_ns.items())),
        embedding_backlog=(
            None if model_id is None else sum(int(row.unembedded or 0) for row in active_rows)
        ),
        graph_waiting=graph.waiting(db),
        jobs=[
            JobStatus(
                action=row.job,
                tenant=row.tenant,
                last_run_at=float(row.started_at),
                duration_ms=float(row.duration_ms),
                count=int(row.last_count),
                outcome=row.outcome,
                error=row.error,
                runs=int(row.runs),
                failures=int(row.failures or 0),
                last_ok_at=row.last_ok_at,
                failing_since_ok=int(row.failing_since_ok),
            )
            for row in job_rows
        ],
        model_prepared=model_prepared,
        keyword_fallbacks=fallbacks,
    )
