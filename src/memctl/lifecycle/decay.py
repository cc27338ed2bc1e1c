"""Importance decay (docs/policies.md; parent-harness seed FR-4).

A memory is idle since ``accessed_at`` (or ``created_at`` if never accessed). Its
importance falls by nothing during the first 7 idle days, ``idle_7d_per_day`` per day
from day 7 to day 30, ``idle_30d_per_day`` per day after that, and never below
``floor`` (a memory already below the floor is left alone). Each run removes the
integral of that rate over [``last_decay_at`` (or the idle start), now], so running
hourly, daily or weekly gives the same importance, and records ``last_decay_at``.
An access (recall) first settles the decay accrued up to that moment (``settle``),
then resets the idle clock and adds ``access_boost``.

Per-memory override, in the memory's metadata (any subset; numbers only)::

    {"decay": {"idle_7d_per_day": 0.05, "idle_30d_per_day": 0.1, "floor": 3}}

The work is set-based: one UPDATE per group of rules sharing the same decay settings
and per range of ids, each range in its own short write transaction.
"""

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from memctl.lifecycle import events
from memctl.lifecycle.batching import Batcher
from memctl.lifecycle.policies import Decay, Policies, Policy
from memctl.lifecycle.runs import logged_run
from memctl.progress import NoProgress, Progress
from memctl.store import decay as sql
from memctl.store.bulk import bulk_session, commit_watcher, id_bounds
from memctl.store.db import Database
from memctl.store.rules import namespaces

ID_SPAN = 2000  # ids in the first write transaction; then sized by time (lifecycle.batching)
MAX_SPAN = 20000


@dataclass
class DecayReport:
    count: int = 0  # memories whose importance fell
    duration_ms: float = 0.0
    dry_run: bool = False
    tenant: str | None = None
    reach_floor: int | None = None  # dry run: how many would end at their floor
    total_drop: float | None = None  # dry run: importance removed in all
    buckets: dict[str, int] = field(default_factory=dict)  # dry run: size of drop -> count

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_ms"] = round(self.duration_ms, 1)
        if self.total_drop is not None:
            data["total_drop"] = round(self.total_drop, 4)
        return data


def rates_of(decay: Decay) -> sql.DecayRates:
    return sql.DecayRates(decay.idle_7d_per_day, decay.idle_30d_per_day, decay.floor)


def settle(db: Database, policy: Policy, now: float, memory_id: int) -> float | None:
    """Apply the decay a memory accrued since its last decay, up to ``now``; called by
    recall just before the access resets the idle clock, so accesses between runs do
    not make hourly and daily runs disagree. The new importance, or None."""
    return sql.settle_decay(db, memory_id, now, rates_of(policy.decay))


def rate_groups(policies: Policies) -> list[tuple[sql.DecayRates, list[int] | None]]:
    """Rules grouped by identical decay settings: (rates, rule indices), where None
    means "every row" (all rules share one setting, so no per-row rule test is needed).
    Rule index ``len(rules)`` stands for the defaults."""
    settings: list[Decay] = [rule.decay for rule in policies.rules] + [policies.defaults.decay]
    groups: dict[sql.DecayRates, list[int]] = {}
    for index, decay in enumerate(settings):
        groups.setdefault(rates_of(decay), []).append(index)
    if len(groups) == 1:
        return [(next(iter(groups)), None)]
    return [(rates, rules) for rates, rules in groups.items()]


def decay(
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> DecayReport:
    """Apply importance decay to active memories (``tenant=None``: every tenant).
    ``progress`` counts the id span covered, one write batch at a time."""
    started = time.perf_counter()
    progress = progress or NoProgress()
    report = DecayReport(dry_run=dry_run, tenant=tenant)
    bulk_session(db)
    groups = rate_groups(policies)
    if dry_run:
        with db.read():
            patterns = policies.patterns(lambda: namespaces(db, tenant))
            report.reach_floor, report.total_drop = 0, 0.0
            for rates, rules in groups:
                dist = sql.decay_distribution(db, now, tenant, rates, patterns, rules)
                report.count += dist["count"]
                report.reach_floor += dist["reach_floor"]
                report.total_drop += dist["total_drop"]
                for label, n in dist["buckets"].items():
                    report.buckets[label] = report.buckets.get(label, 0) + n
        order = [label for _, label in sql.DECAY_BUCKETS] + [">=5"]
        report.buckets = {k: report.buckets[k] for k in order if k in report.buckets}
        report.duration_ms = (time.perf_counter() - started) * 1000
        return report
    with logged_run(db, "decayed", tenant=tenant, now=now) as run:
        with db.read():
            lo, hi = id_bounds(db)
        progress.start(hi - lo + 1, "decaying (ids)")
        batcher = Batcher(ID_SPAN, hi=MAX_SPAN, others_committed=commit_watcher(db))
        for first, last in batcher.ranges(lo, hi):
            with db.write():
                patterns = policies.patterns(lambda: namespaces(db, tenant))
                owned: dict[str, list[int]] = {}
                for rates, rules in groups:
                    for memory_id, owner in sql.decay_range(
                        db, first, last, now, tenant, rates, patterns, rules
                    ):
                        owned.setdefault(owner, []).append(memory_id)
                events.emit_owned(db, events.DECAYED, now, owned)
                report.count += sum(len(ids) for ids in owned.values())
            progress.advance(last - first + 1)
        run.count = report.count
        run.details = {"groups": len(groups)}
    report.duration_ms = run.duration_ms
    return report
