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

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from memctl.clock import DAY
from memctl.lifecycle.batching import Batcher
from memctl.lifecycle.policies import Policies
from memctl.progress import NoProgress, Progress
from memctl.store import log, moves
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
    started = time.perf_counter()
    report = PruneReport(dry_run=dry_run, tenant=tenant)
    bulk_session(db)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"archived": 0, "purged": 0})
    bar = NoProgress() if dry_run or progress is None else progress
    _prune_active(db, policies, now, tenant, dry_run, report, counts, bar)
    _purge_archives(db, policies, now, tenant, dry_run, report, counts, bar)
    report.by_namespace = {ns: counts[ns] for ns in sorted(counts)}
    report.count = report.purged + report.archived
    report.duration_ms = (time.perf_counter() - started) * 1000
    if not dry_run:
        with db.write():
            log.record(
                db,
                "pruned",
                tenant=tenant,
                started_at=now,
                duration_ms=report.duration_ms,
                count=report.count,
                details={
                    "purged": report.purged,
                    "archived": report.archived,
                    "kept_important": report.kept_important,
                    "by_rule": report.by_rule,
                    "by_namespace": report.by_namespace,
                },
            )
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
    batches = [ids] if dry_run else Batcher(others_committed=commit_watcher(db)).slices(ids)
    progress.start(len(ids), "pruning: archiving")
    for batch in batches:
        if dry_run:
            moved = list(batch)
        else:
            with db.write():
                moved = present_ids(db, batch)
                moves.archive(db, moved, "pruned", now)
        for memory_id in moved:
            counts[namespace_of[memory_id]]["archived"] += 1
            report.by_rule[why_of[memory_id]] = report.by_rule.get(why_of[memory_id], 0) + 1
            report.archived += 1
        progress.advance(len(batch))


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
        for batch in [ids] if dry_run else batcher.slices(ids):
            if dry_run:
                gone = list(batch)
            else:
                with db.write():
                    gone = sql.still_purgeable(db, batch, cutoff, policy.keep_archived_importance)
                    moves.purge(db, gone, archived=True)
            for memory_id in gone:
                counts[namespace_of[memory_id]]["purged"] += 1
            report.purged += len(gone)
            progress.advance(len(batch))
