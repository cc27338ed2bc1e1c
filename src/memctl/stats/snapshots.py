"""The daily analytics snapshots (docs/daemon.md): one row per day, tenant, namespace
and agent, recorded by ``stats --snapshot`` and the daemon, read back by ``--history``."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from memctl.lifecycle.runs import logged_run
from memctl.store import stats as sql
from memctl.store.db import Database

SNAPSHOT_ACTION = "snapshot"


@dataclass
class SnapshotRow:
    """One day's analytics for one tenant / namespace / agent ('' = no agent)."""

    day: str
    tenant: str
    namespace: str
    agent_id: str
    counts_by_type: dict[str, int]
    total: int  # active memories at snapshot time
    avg_importance: float
    accesses: int  # active memories read that day (accessed_at on that UTC day)
    expirations: int  # moved to the archive that day because they expired
    archives: int  # moved to the archive that day for any other reason
    bytes: int  # stored bytes of the active memories

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "tenant": self.tenant,
            "namespace": self.namespace,
            "agent_id": self.agent_id,
            "counts_by_type": self.counts_by_type,
            "total": self.total,
            "avg_importance": round(self.avg_importance, 4),
            "accesses": self.accesses,
            "expirations": self.expirations,
            "archives": self.archives,
            "bytes": self.bytes,
        }

    def as_tuple(self) -> tuple[Any, ...]:
        return (
            self.day,
            self.tenant,
            self.namespace,
            self.agent_id,
            orjson.dumps(self.counts_by_type, option=orjson.OPT_SORT_KEYS).decode(),
            self.total,
            self.avg_importance,
            self.accesses,
            self.expirations,
            self.archives,
            self.bytes,
        )


@dataclass
class SnapshotReport:
    count: int  # rows written
    duration_ms: float
    day: str
    tenant: str | None
    rows: list[SnapshotRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": SNAPSHOT_ACTION,
            "day": self.day,
            "tenant": self.tenant,
            "count": self.count,
            "duration_ms": round(self.duration_ms, 3),
            "rows": [row.to_dict() for row in self.rows],
        }


def utc_day(now: float) -> tuple[str, float]:
    """The UTC date of ``now`` (YYYY-MM-DD) and the epoch seconds of its midnight."""
    moment = datetime.fromtimestamp(now, UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.date().isoformat(), midnight.timestamp()


def snapshot(db: Database, now: float, tenant: str | None) -> SnapshotReport:
    """Record today's analytics rows (day = UTC date of ``now``) for ``tenant`` (None:
    every tenant). Idempotent per day: a second run the same day replaces the rows.

    The figures are read in one read transaction; the day's rows are then replaced in
    one short write transaction; the run is logged (action ``snapshot``), failures too.
    """
    day, day_start = utc_day(now)
    with logged_run(db, SNAPSHOT_ACTION, tenant=tenant, now=now, details={"day": day}) as run:
        with db.read():
            found = sql.snapshot_rows(db, now, day_start, tenant)
        rows = [
            SnapshotRow(
                day=day,
                tenant=row.tenant,
                namespace=row.namespace,
                agent_id=row.agent,
                counts_by_type={
                    k: int(v) for k, v in orjson.loads(row.counts_by_type or "{}").items() if v
                },
                total=int(row.total or 0),
                avg_importance=float(row.avg_importance or 0.0),
                accesses=int(row.accesses or 0),
                expirations=int(row.expirations or 0),
                archives=int(row.archives or 0),
                bytes=int(row.bytes or 0),
            )
            for row in found
        ]
        with db.write():
            run.count = sql.replace_snapshot(db, day, tenant, [row.as_tuple() for row in rows])
    return SnapshotReport(run.count, run.duration_ms, day, tenant, rows)


def history(
    db: Database, tenant: str | None, days: int, now: float | None = None
) -> list[SnapshotRow]:
    """Snapshot rows of the last ``days`` days, newest first: the days up to the UTC
    date of ``now``, or, without ``now``, up to the latest recorded snapshot."""
    if days < 1:
        return []
    with db.read():
        if now is None:
            latest = sql.latest_snapshot_day(db, tenant)
            if latest is None:
                return []
            last = datetime.fromisoformat(latest).replace(tzinfo=UTC)
        else:
            last = datetime.fromtimestamp(now, UTC)
        # no snapshot predates 1970 (limits.TIME): a longer span reads the same rows,
        # and a span past year 1 would overflow datetime
        span = min(days - 1, (last.date() - date(1970, 1, 1)).days)
        first_day = (last - timedelta(days=span)).date().isoformat()
        rows = sql.snapshots_between(db, first_day, last.date().isoformat(), tenant)
    return [
        SnapshotRow(
            day=row.day,
            tenant=row.tenant,
            namespace=row.namespace,
            agent_id=row.agent_id,
            counts_by_type=orjson.loads(row.counts_by_type),
            total=int(row.total),
            avg_importance=float(row.avg_importance),
            accesses=int(row.accesses),
            expirations=int(row.expirations),
            archives=int(row.archives),
            bytes=int(row.bytes),
        )
        for row in rows
    ]
