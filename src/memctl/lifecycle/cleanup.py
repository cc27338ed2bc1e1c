"""Cleanup: move expired memories out per their policy (docs/expiry.md).

``lazy`` and ``scheduled`` rules are cleaned by every run, ``manual`` ones only with
``force``. ``on_expire: archive`` moves a memory to the archive with reason
``expired``; ``delete`` purges it. Expired rows are found in one read (their rule is
computed in SQL), then moved in short write transactions, each of
which re-checks that its rows are still expired (batches are sized by time, see
``lifecycle.batching``): a kill between batches leaves every
memory either active or archived, and a concurrent store that refreshed a memory wins.
"""

import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from memctl.errors import BadInput
from memctl.lifecycle.batching import Batcher
from memctl.lifecycle.globs import check_glob
from memctl.lifecycle.policies import Policies, Policy
from memctl.progress import NoProgress, Progress
from memctl.store import lifecycle as sql
from memctl.store import log
from memctl.store import memories as store
from memctl.store.db import Database


@dataclass
class CleanupReport:
    count: int = 0  # memories moved out (archived + deleted)
    duration_ms: float = 0.0
    archived: int = 0
    deleted: int = 0
    skipped_manual: int = 0  # expired under a manual rule, left for --force
    by_namespace: dict[str, dict[str, int]] = field(default_factory=dict)
    dry_run: bool = False
    force: bool = False
    tenant: str | None = None
    namespace: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_ms"] = round(self.duration_ms, 1)
        return data


def rule_policy(policies: Policies, index: int) -> Policy:
    """The policy of a rule index as computed by ``store.lifecycle.rule_case``."""
    return policies.rules[index] if index < len(policies.rules) else policies.defaults


def patterns_of(policies: Policies) -> list[str]:
    return [rule.pattern or "" for rule in policies.rules]


def cleanup(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    *,
    namespace: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> CleanupReport:
    """Move expired memories out (``tenant=None``: every tenant); logged as ``expired``.
    ``progress`` hears of each write batch."""
    started = time.perf_counter()
    progress = progress or NoProgress()
    if namespace is not None:
        problem = check_glob(namespace)
        if problem:
            raise BadInput(f"bad namespace pattern {namespace!r}: {problem}")
    report = CleanupReport(dry_run=dry_run, force=force, tenant=tenant, namespace=namespace)
    sql.bulk_session(db)
    with db.read():
        rows = sql.expired_rows(db, tenant, now, namespace, patterns_of(policies))
    # per rule: None (manual, not forced: left alone) or its on_expire action
    action_of = {
        index: None if policy.cleanup_strategy == "manual" and not force else policy.on_expire
        for index, policy in enumerate([*policies.rules, policies.defaults])
    }
    to_move: list[tuple[int, str, str]] = []  # (id, namespace, archive|delete)
    for memory_id, ns, rule in rows:
        action = action_of[rule]
        if action is None:
            report.skipped_manual += 1
        else:
            to_move.append((memory_id, ns, action))
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"archived": 0, "deleted": 0})
    if dry_run:
        for _, ns, action in to_move:
            counts[ns]["archived" if action == "archive" else "deleted"] += 1
    else:
        progress.start(len(to_move), "cleaning up")
        for batch in Batcher(others_committed=sql.commit_watcher(db)).slices(to_move):
            with db.write():
                live = set(sql.still_expired(db, [m for m, _, _ in batch], now))
                moved = [row for row in batch if row[0] in live]
                store.archive(db, [m for m, _, a in moved if a == "archive"], "expired", now)
                store.purge(db, [m for m, _, a in moved if a == "delete"])
            for _, ns, action in moved:
                counts[ns]["archived" if action == "archive" else "deleted"] += 1
            progress.advance(len(batch))
    report.by_namespace = {ns: counts[ns] for ns in sorted(counts)}
    report.archived = sum(c["archived"] for c in counts.values())
    report.deleted = sum(c["deleted"] for c in counts.values())
    report.count = report.archived + report.deleted
    report.duration_ms = (time.perf_counter() - started) * 1000
    if not dry_run:
        with db.write():
            log.record(
                db,
                "expired",
                tenant=tenant,
                started_at=now,
                duration_ms=report.duration_ms,
                count=report.count,
                details={
                    "trigger": "cleanup",
                    "force": force,
                    "namespace": namespace,
                    "archived": report.archived,
                    "deleted": report.deleted,
                    "skipped_manual": report.skipped_manual,
                    "by_namespace": report.by_namespace,
                },
            )
    return report
