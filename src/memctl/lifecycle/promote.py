"""Promotion (docs/policies.md; parent-harness seed FR-6): proven memories are copied into
the knowledge namespace; the original stays where it is, marked ``promoted_at``.

A memory is promoted when it is active (not expired), has not been promoted before, does
not already live under the target namespace, and meets every ``promotion:`` threshold:
importance >= ``min_importance``, access count >= ``min_access_count``, age (since it was
created) >= ``min_age_days``, and its type is one of ``types`` (an empty list means any
type). The copy's path is ``<target_namespace>/<original namespace>/<original key>``,
split into namespace and key as ``memctl store <path>`` would split it (so ``memctl recall
<path>`` finds it; with the default policies that is namespace ``knowledge`` and key
``promoted/<namespace>/<key>``). It is written through ``lifecycle.memories.store``, so
the target path's own policy applies (TTL, compression, and its conflict strategy when
the copy's path is already taken: ``knowledge/*`` keeps both values as ``multi_value``).
The copy keeps the original's value, type, importance, tags, agent, session and reward;
its metadata gains ``promoted_from`` (id, path, tenant, time). Its embedding is left to
the backlog.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from memctl.clock import DAY, iso
from memctl.errors import BadInput
from memctl.lifecycle import events
from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import Policies
from memctl.lifecycle.runs import logged_run
from memctl.models import Memory
from memctl.store import memories
from memctl.store import promote as sql
from memctl.store.batch import chunks
from memctl.store.db import Database

ACTION = "promoted"
# memories copied per write transaction: each copy is a full store (~0.4 ms), so 100
# keep the write lock to ~50 ms and concurrent hooks barely wait
BATCH = 100


@dataclass
class PromoteItem:
    """One memory chosen for promotion (and, after a real run, what happened to it)."""

    id: int
    tenant: str
    path: str
    target: str
    type: str
    importance: float
    access_count: int
    age_days: float
    action: str | None = None  # created | updated | merged | ignored; None in a dry run
    copy_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "path": self.path,
            "target": self.target,
            "type": self.type,
            "importance": round(self.importance, 4),
            "access_count": self.access_count,
            "age_days": round(self.age_days, 2),
            "action": self.action,
            "copy_id": self.copy_id,
        }


@dataclass
class PromoteReport:
    count: int  # promoted (or, in a dry run, would be promoted)
    duration_ms: float
    dry_run: bool
    tenant: str | None
    target_namespace: str
    items: list[PromoteItem] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # {id, path, reason}

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": ACTION,
            "dry_run": self.dry_run,
            "tenant": self.tenant,
            "target_namespace": self.target_namespace,
            "count": self.count,
            "duration_ms": round(self.duration_ms, 3),
            "promoted": [item.to_dict() for item in self.items],
            "skipped": self.skipped,
        }


def rule_of(policies: Policies) -> sql.Rule:
    p = policies.promotion
    return sql.Rule(
        min_importance=p.min_importance,
        min_access_count=p.min_access_count,
        min_age_days=p.min_age_days,
        types=tuple(p.types),
        target_namespace=p.target_namespace.strip("/"),
    )


def target_path(target_namespace: str, memory_namespace: str, memory_key: str) -> str:
    """The copy's path: the original's whole path under the target namespace."""
    return f"{target_namespace}/{memory_namespace}/{memory_key}"


def _copy_request(
    policies: Policies, memory: Memory, target_namespace: str, now: float
) -> StoreRequest:
    metadata = dict(memory.metadata)
    metadata["promoted_from"] = {
        "id": memory.id,
        "path": memory.path,
        "tenant": memory.tenant,
        "at": iso(now),
    }
    # split as `memctl store <path>` would, so the copy is recallable by its path
    namespace, key = policies.split_path(
        target_path(target_namespace, memory.namespace, memory.key)
    )
    return StoreRequest(
        tenant=memory.tenant,
        namespace=namespace,
        key=key,
        value=memory.value,
        importance=memory.importance,
        type=memory.type,
        tags=list(memory.tags),
        metadata=metadata,
        agent_id=memory.agent_id,
        session_id=memory.session_id,
        reward=memory.reward,
    )


def promote(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    *,
    dry_run: bool = False,
) -> PromoteReport:
    """Copy every memory meeting the promotion rules into the target namespace.

    ``tenant=None`` covers every tenant (each copy stays in its original's tenant).
    Work goes in write transactions of at most ``BATCH`` (100) memories; within one, the
    copies and the originals' ``promoted_at`` commit together, so an interrupted run
    leaves each memory either promoted (copy + mark) or untouched. A memory whose copy
    the target policy refuses (e.g. a non-numeric value into a ``counter`` path) is
    skipped and reported, not marked. The run is recorded in the lifecycle log
    (action ``promoted``) unless ``dry_run``.
    """
    rule = rule_of(policies)
    report = PromoteReport(0, 0.0, dry_run, tenant, rule.target_namespace)
    with logged_run(db, ACTION, tenant=tenant, now=now, record=not dry_run) as run:
        with db.read():
            rows = sql.candidates(db, rule, now, tenant)
        by_id = {
            int(row.id): PromoteItem(
                id=int(row.id),
                tenant=row.tenant,
                path=f"{row.namespace}/{row.key}",
                target=target_path(rule.target_namespace, row.namespace, row.key),
                type=row.type,
                importance=float(row.importance),
                access_count=int(row.access_count),
                age_days=(now - float(row.created_at)) / DAY,
            )
            for row in rows
        }
        if dry_run:
            report.items = list(by_id.values())
        else:
            for chunk in chunks(list(by_id), BATCH):
                _promote_batch(db, policies, now, tenant, rule, chunk, by_id, report)
        report.count = run.count = len(report.items)
        run.details = {"target_namespace": rule.target_namespace, "skipped": len(report.skipped)}
    report.duration_ms = run.duration_ms
    return report


def _promote_batch(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    rule: sql.Rule,
    ids: Sequence[int],
    by_id: dict[int, PromoteItem],
    report: PromoteReport,
) -> None:
    """Copy one batch and mark its originals, in one short write transaction."""
    with db.write():
        eligible = sql.still_eligible(db, rule, now, tenant, ids)
        found = memories.get_many(db, eligible)
        done: list[int] = []
        for memory_id in eligible:
            memory = found[memory_id]
            item = by_id[memory_id]
            try:
                with db.savepoint("promote_copy"):
                    request = _copy_request(policies, memory, rule.target_namespace, now)
                    result = store(db, policies, now, request, stored_event=False)
            except BadInput as exc:
                report.skipped.append({"id": memory_id, "path": item.path, "reason": str(exc)})
                continue
            item.action = result.action
            item.copy_id = result.memory.id
            done.append(memory_id)
            report.items.append(item)
        sql.mark_promoted(db, done, now)
        by_tenant: dict[str, list[PromoteItem]] = {}
        for memory_id in done:
            by_tenant.setdefault(by_id[memory_id].tenant, []).append(by_id[memory_id])
        for owner, items in sorted(by_tenant.items()):
            ids = [item.id for item in items]
            copies = sorted([item.id, item.copy_id] for item in items)  # [original, copy]
            events.emit(db, events.PROMOTED, owner, now, count=len(ids), ids=ids, copies=copies)
