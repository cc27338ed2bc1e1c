"""The daemon's jobs: what each one runs, in the order of a full run (``--once``:
expire first, compact last), and its schedule when policies.yaml names none."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from memctl.lifecycle.compact import compact
from memctl.lifecycle.decay import decay
from memctl.lifecycle.expiry import cleanup
from memctl.lifecycle.policies import Policies
from memctl.lifecycle.promote import promote
from memctl.lifecycle.prune import prune
from memctl.lifecycle.schedules import Schedule, parse_schedule
from memctl.search.backlog import embed_pending
from memctl.stats.snapshots import snapshot
from memctl.store.db import Database

EMBED_PER_RUN = 5000  # memories embedded per run at most (~5 s of model time)


class Report(Protocol):
    """What every job returns: how many memories it handled and a JSON-ready report."""

    @property
    def count(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class JobCall:
    """What one job run gets: the database, freshly read policies, the daemon clock's
    time, the tenant (None: every tenant), and who hears what a long wait is about (the
    model's one-off preparation)."""

    db: Database
    policies: Policies
    now: float
    tenant: str | None
    on_note: Callable[[str], None] | None = None


Job = Callable[[JobCall], Report]

# job name -> what it runs; the order is the order of ``--once``
REGISTRY: dict[str, Job] = {
    "cleanup": lambda c: cleanup(c.db, c.policies, c.now, c.tenant),
    "decay": lambda c: decay(c.db, c.policies, c.now, c.tenant),
    "prune": lambda c: prune(c.db, c.policies, c.now, c.tenant),
    "promote": lambda c: promote(c.db, c.policies, c.now, c.tenant),
    "embed": lambda c: embed_pending(
        c.db, c.policies.embedding_model, EMBED_PER_RUN, c.tenant, c.on_note
    ),
    "snapshot": lambda c: snapshot(c.db, c.now, c.tenant),
    "compact": lambda c: compact(c.db, now=c.now),
}
JOBS = tuple(REGISTRY)
DEFAULT_SCHEDULE = {
    "cleanup": "every 15 minutes",
    "decay": "daily at 02:00",
    "prune": "weekly",
    "promote": "daily at 03:00",
    "embed": "every 15 minutes",  # not configurable in policies.yaml
    "snapshot": "daily at 00:00",
    "compact": "weekly",
}


def schedule_for(policies: Policies, job: str, interval_hours: float | None) -> Schedule:
    """The job's schedule: ``--interval-hours``, else policies.yaml, else the default.

    ``--interval-hours`` becomes whole minutes (0.5 is every 30 minutes, 1/3 every 20);
    the command refuses under a minute (``commands.daemon.INTERVAL_HOURS``) rather than
    round it up."""
    if interval_hours is not None:
        minutes = max(1, round(interval_hours * 60))
        if minutes % 60 == 0:
            return Schedule(f"every {minutes // 60} hours", minutes // 60, "hour")
        return Schedule(f"every {minutes} minutes", minutes, "minute")
    return parse_schedule(policies.schedule.get(job, DEFAULT_SCHEDULE[job]))
