"""Prune (docs/policies.md): purge old archives, archive low-value active memories.

1. Active-memory rules of the path's policy, when set: ``max_age_days`` (created
   longer ago), ``min_reward`` (episodes rewarded below it), ``max_entries`` (per
   tenant and namespace under that rule; the lowest importance goes first, then the
   longest idle). These memories move to the archive with reason ``pruned``.
2. Archived memories archived more than ``archive_retention_days`` ago are purged for
   good, except those with importance >= ``keep_archived_importance``.

Candidates are read in one snapshot with their rule computed in SQL; changes are
written in short transactions (sized by time, ``lifecycle.batching``) that re-check
each row's condition.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from memctl.clock import DAY
from memctl.lifecycle import events
from memctl.lifecycle.batching import Batcher, move_in_batches
from memctl.lifecycle.policies import Policies
from memctl.lifecycle.runs import logged_run
from memctl.progress import NoProgress, Progress
from memctl.store import moves
from memctl.store import prune as sql
from memctl.store.bulk import bulk_session, commit_watcher, present_ids
from memctl.store.db import Database
from memctl.store.rules import namespaces


@dataclass
class PruneReport:
    count: int = 0  # purged + archived
    duration_ms: float = 0.0
    purged: int = 0  # archived memories deleted for good
    archived: int = 0  # active memories moved to the archive by the active rules
    kept_important: int = 0  # past retention but kept for their importance
    events_trimmed: int = 0  # lifecycle events older than alerts.events_retention_days
    by_rule: dict[str, int] = field(default_factory=dict)  # max_age_days/min_reward/max_entries
    by_namespace: dict[str, dict[str, int]] = field(default_factory=dict)
    dry_run: bool = False
    tenant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_ms"] = round(self.duration_ms, 1)
        return data


def _active_limits(
    policies: Policies,
) -> tuple[dict[int, float], dict[int, float], dict[int, int]]:
    max_age: dict[int, float] = {}
    min_reward: dict[int, float] = {}
    max_entries: dict[int, int] = {}
    for index, policy in enumerate(policies.indexed()):
        if policy.max_age_days is not None:
            max_age[index] = float(policy.max_age_days)
        if policy.min_reward is not None:
            min_reward[index] = float(policy.min_reward)
        if policy.max_entries is not None:
            max_entries[index] = int(policy.max_entries)
    return max_age, min_reward, max_entries


def prune(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PruneReport:
    """Apply the prune rules (``tenant=None``: every tenant); logged as ``pruned``.
    ``progress`` hears of each write batch (two phases: archiving, then purging)."""
    report = PruneReport(dry_run=dry_run, tenant=tenant)
    with logged_run(db, "pruned", tenant=tenant, now=now, record=not dry_run) as run:
        bulk_session(db)
        counts: dict[str, dict[str, int]] = defaultdict(lambda: {"archived": 0, "purged": 0})
        bar = NoProgress() if dry_run or progress is None else progress
        _prune_active(db, policies, now, tenant, dry_run, report, counts, bar)
        _purge_archives(db, policies, now, tenant, dry_run, report, counts, bar)
        retention = policies.alerts.events_retention_days
        report.events_trimmed = events.trim(db, now, retention, dry_run=dry_run)
        report.by_namespace = {ns: counts[ns] for ns in sorted(counts)}
        report.count = run.count = report.purged + report.archived
        run.details = {
            "purged": report.purged,
            "archived": report.archived,
            "kept_important": report.kept_important,
            "events_trimmed": report.events_trimmed,
            "by_rule": report.by_rule,
            "by_namespace": report.by_namespace,
        }
    report.duration_ms = run.duration_ms
    return report


def _prune_active(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    dry_run: bool,
    report: PruneReport,
    counts: dict[str, dict[str, int]],
    progress: Progress,
) -> None:
    max_age, min_reward, max_entries = _active_limits(policies)
    if not (max_age or min_reward or max_entries):
        return
    with db.read():
        patterns = policies.patterns(lambda: namespaces(db, tenant))
        rows = sql.active_prune_rows(db, tenant, now, patterns, max_age, min_reward, max_entries)
    why_of = {memory_id: why for memory_id, _, why in rows}
    namespace_of = {memory_id: ns for memory_id, ns, _ in rows}
    ids = [memory_id for memory_id, _, _ in rows]

    def move(batch: Sequence[int]) -> list[int]:
        present = present_ids(db, batch)
        events.emit_batch(db, events.PRUNED, tenant, now, present, action="archived")
        moves.archive(db, present, "pruned", now)
        return present

    progress.start(len(ids), "pruning: archiving")
    for moved in move_in_batches(db, ids, move, dry_run=dry_run, progress=progress):
        for memory_id in moved:
            counts[namespace_of[memory_id]]["archived"] += 1
            report.by_rule[why_of[memory_id]] = report.by_rule.get(why_of[memory_id], 0) + 1
            report.archived += 1


def _purge_archives(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    dry_run: bool,
    report: PruneReport,
    counts: dict[str, dict[str, int]],
    progress: Progress,
) -> None:
    loosest = max(now - p.archive_retention_days * DAY for p in policies.indexed())
    with db.read():
        patterns = policies.patterns(lambda: namespaces(db, tenant))
        rows = sql.old_archive_rows(db, tenant, loosest, patterns)
    by_rule: dict[int, list[int]] = defaultdict(list)
    namespace_of: dict[int, str] = {}
    for memory_id, ns, rule, archived_at, importance in rows:
        policy = policies.by_index(rule)
        if archived_at >= now - policy.archive_retention_days * DAY:
            continue
        if importance >= policy.keep_archived_importance:
            report.kept_important += 1
            continue
        by_rule[rule].append(memory_id)
        namespace_of[memory_id] = ns
    batcher = Batcher(others_committed=commit_watcher(db))
    progress.start(sum(len(ids) for ids in by_rule.values()), "pruning: purging archives")
    for rule, ids in sorted(by_rule.items()):
        policy = policies.by_index(rule)
        cutoff = now - policy.archive_retention_days * DAY

        def purge(
            batch: Sequence[int],
            cutoff: float = cutoff,
            keep: float = policy.keep_archived_importance,
        ) -> list[int]:
            gone = sql.still_purgeable(db, batch, cutoff, keep)
            events.emit_batch(db, events.PRUNED, tenant, now, gone, action="purged")
            moves.purge(db, gone, archived=True)
            return gone

        for gone in move_in_batches(
            db, ids, purge, dry_run=dry_run, progress=progress, batcher=batcher
        ):
            for memory_id in gone:
                counts[namespace_of[memory_id]]["purged"] += 1
            report.purged += len(gone)
