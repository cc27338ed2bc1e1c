"""Explicit archive and restore (docs/policies.md: archive before delete).

An archived memory keeps every field and its id (so its keyword and vector rows stay,
only vec0's ``archived`` flag flips). ``restore`` brings back the most recently archived
version of a path; the new expiry comes from the path's policy TTL counted from now,
or from ``ttl`` (0 = never). Restoring onto a path that has an active memory is refused
(BadInput, nothing changed): archive or delete the active one first.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from memctl import limits
from memctl.errors import BadInput, Conflict, NotFound
from memctl.lifecycle import events
from memctl.lifecycle.batching import move_in_batches
from memctl.lifecycle.expiry import expires_at
from memctl.lifecycle.globs import check_glob, is_glob
from memctl.lifecycle.memories import check_path
from memctl.lifecycle.policies import Policies
from memctl.lifecycle.runs import logged_run
from memctl.models import Memory
from memctl.store import archive as sql
from memctl.store import memories, moves
from memctl.store.bulk import present_ids
from memctl.store.db import Database


@dataclass
class ArchiveReport:
    count: int = 0
    duration_ms: float = 0.0
    by_namespace: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    reason: str = "archived"
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_ms"] = round(self.duration_ms, 1)
        return data


def _check_pattern(pattern: str) -> None:
    problem = check_glob(pattern)
    if problem:
        raise BadInput(f"bad pattern {pattern!r}: {problem}")


def select(
    db: Database,
    now: float,
    tenant: str | None,
    target: str | None,
    *,
    older_than: float | None = None,
    below_importance: float | None = None,
) -> list[Memory]:
    """Active memories (expired ones included) named by a path or glob on the path,
    created more than ``older_than`` seconds ago and/or below an importance."""
    if target is None and older_than is None and below_importance is None:
        raise BadInput("give a PATH or glob, --older-than or --below-importance")
    limits.check_optional(below_importance, "--below-importance", limits.IMPORTANCE)
    filters = memories.Filters(tenant=tenant, now=now, expired="include")
    path = None
    if target is not None:
        if is_glob(target):
            _check_pattern(target)
            filters.pattern = target
        else:
            path = check_path(target)
    with db.read():
        return sql.select_active(
            db,
            filters,
            path=path,
            created_before=None if older_than is None else now - older_than,
            importance_below=below_importance,
        )


def archive(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    memories: list[Memory],
    reason: str = "archived",
    *,
    dry_run: bool = False,
) -> ArchiveReport:
    """Move the given memories to the archive with ``reason``, in batches; logged (when
    anything moved)."""
    report = ArchiveReport(reason=reason, dry_run=dry_run)
    namespace_of = {m.id: m.namespace for m in memories}
    path_of = {m.id: m.path for m in memories}

    def move(batch: Sequence[int]) -> list[int]:
        present = present_ids(db, batch)
        events.emit_batch(db, events.ARCHIVED, tenant, now, present, reason=reason)
        moves.archive(db, present, reason, now)
        return present

    with logged_run(db, "archived", tenant=tenant, now=now, record=not dry_run) as run:
        moved: list[int] = []
        for done in move_in_batches(db, [m.id for m in memories], move, dry_run=dry_run):
            moved.extend(done)
        for memory_id in moved:
            ns = namespace_of[memory_id]
            report.by_namespace[ns] = report.by_namespace.get(ns, 0) + 1
        report.by_namespace = dict(sorted(report.by_namespace.items()))
        report.paths = [path_of[m] for m in moved]
        report.count = run.count = len(moved)
        run.details = {"trigger": "archive", "reason": reason, "by_namespace": report.by_namespace}
        if not moved:
            run.skip()
    report.duration_ms = run.duration_ms
    return report


def find_archived(db: Database, tenant: str | None, target: str) -> list[Memory]:
    """Archived memories named by an archive id (digits), a path (its latest archived
    version) or a glob on the path (the latest version of each matching path)."""
    target = target.strip()
    if not target:
        raise BadInput("give an archive id, a path or a glob")
    if not target.isdigit() and not is_glob(target):
        check_path(target)
    with db.read():
        if target.isdigit():
            memory = sql.archived_by_id(db, tenant, int(target))
            found: list[Memory] = [] if memory is None else [memory]
        elif is_glob(target):
            _check_pattern(target)
            found = sql.latest_archived(db, tenant, None, target)
        else:
            found = sql.latest_archived(db, tenant, target, None)
    if not found:
        raise NotFound(f"{target}: nothing archived matches")
    return found


def _refuse_active(db: Database, found: Sequence[Memory]) -> None:
    active = sql.active_ids_at(db, [(m.tenant, m.namespace, m.key) for m in found])
    if active:
        paths = ", ".join(sorted(active)[:5]) + (" ..." if len(active) > 5 else "")
        raise Conflict(
            f"cannot restore: an active memory exists at {paths} "
            "(archive or delete it first); nothing was restored"
        )


def restore(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    target: str,
    ttl: float | None,
) -> list[Memory]:
    """Bring archived memories back to active; returns them as restored."""
    if ttl is not None and ttl < 0:
        raise BadInput("--ttl must be 0 (never expires) or a positive duration")
    found = find_archived(db, tenant, target)
    with db.read():
        _refuse_active(db, found)

    limit = policies.alerts.max_memories_per_agent

    def move(batch: Sequence[Memory]) -> Sequence[Memory]:
        _refuse_active(db, batch)
        before = events.agents_over(db, tenant, limit)
        moves.restore(db, {m.id: expires_at(policies.for_path(m.path), ttl, now) for m in batch})
        owned: dict[str, list[int]] = {}
        for memory in batch:
            owned.setdefault(memory.tenant, []).append(memory.id)
        events.emit_owned(db, events.RESTORED, now, owned)
        events.growth_since(db, now, tenant, limit, before)
        return batch

    details = {"target": target, "ttl": ttl}
    with logged_run(db, "restored", tenant=tenant, now=now, details=details) as run:
        ids = [m.id for done in move_in_batches(db, found, move) for m in done]
        with db.read():
            restored = memories.get_many(db, ids)
        result = [restored[i] for i in ids if i in restored]
        run.count = len(result)
    return result
