"""The maintenance daemon (docs/daemon.md): cleanup, decay, prune, promote, embedding
backlog, daily snapshot and vector-index compaction on the ``schedule:`` of policies.yaml,
driven by the ``schedule`` library.

Time: every decision reads one injectable :class:`Clock`. The ``schedule`` library reads
``datetime.datetime.now()``; while the daemon runs, that call is answered from the clock
(:func:`scheduler_clock`), so tests drive the daemon through simulated days with a
:class:`SimulatedClock` whose ``sleep`` only moves time forward. Schedules are read in
local time, like cron ("daily at 02:00" is 02:00 on this machine's clock).

Runs: each job run is one lifecycle-log row (action ``daemon``, details ``job``,
``trigger``, the job's report, ``consecutive_failures``) and one stderr line. A failing
job never stops the others; a job failing ``MAX_FAILURES`` times in a row (counted across
processes from the log, so cron's ``--once`` runs count too) is reported as an error.

policies.yaml is re-read for every job run (a fixed file takes effect at the next run; a
broken one fails the runs, logged), but the schedules themselves are read at start.

One daemon per database: an exclusive ``flock`` on ``<db>.daemon.lock`` (holding the pid).
The file is left in place on exit (removing lock files races with a starting daemon).
"""

import datetime as dt
import fcntl
import importlib
import os
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from memctl import clock as memctl_clock
from memctl.errors import MemctlError, StorageError
from memctl.lifecycle.policies import Policies
from memctl.lifecycle.schedules import Schedule, parse_schedule
from memctl.store import log
from memctl.store.db import Database

# The order of a full run (``--once``): expire first, compact last.
JOBS = ("cleanup", "decay", "prune", "promote", "embed", "snapshot", "compact")
DEFAULT_SCHEDULE = {
    "cleanup": "every 15 minutes",
    "decay": "daily at 02:00",
    "prune": "weekly",
    "promote": "daily at 03:00",
    "embed": "every 15 minutes",  # not configurable in policies.yaml
    "snapshot": "daily at 00:00",
    "compact": "weekly",
}
MAX_FAILURES = 3
EMBED_PER_RUN = 5000  # memories embedded per run at most (~5 s of model time)
LOG_ACTION = "daemon"


class Clock(Protocol):
    """Where the daemon gets time from and how it waits."""

    def now(self) -> float: ...

    def sleep(self, seconds: float, should_stop: Callable[[], bool]) -> None: ...


class SystemClock:
    """The real clock. With ``MEMCTL_NOW`` set, time starts there and runs at real speed."""

    max_nap = 60.0  # re-read the schedule at least once a minute

    def __init__(self) -> None:
        self._fixed = bool(os.environ.get("MEMCTL_NOW"))
        self._start = memctl_clock.now()
        self._mono = time.monotonic()

    def now(self) -> float:
        if self._fixed:
            return self._start + (time.monotonic() - self._mono)
        return memctl_clock.now()

    def sleep(self, seconds: float, should_stop: Callable[[], bool]) -> None:
        """Sleep in short steps so a stop request is honoured within a second."""
        deadline = time.monotonic() + seconds
        while not should_stop():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 1.0))


class SimulatedClock:
    """A clock for tests and what-if runs: ``sleep`` moves time forward instantly."""

    max_nap = float("inf")

    def __init__(self, start: float) -> None:
        self.time = start
        self.slept = 0.0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float, should_stop: Callable[[], bool]) -> None:
        self.time += max(seconds, 0.0)
        self.slept += max(seconds, 0.0)


@contextmanager
def scheduler_clock(clock: Clock) -> Iterator[None]:
    """Make the ``schedule`` library read ``clock`` instead of the system time."""
    import schedule

    class ClockDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> "ClockDatetime":
            return cls.fromtimestamp(clock.now(), tz)

    shim = types.ModuleType("memctl_schedule_datetime")
    shim.__dict__.update({**vars(dt), "datetime": ClockDatetime})
    original = schedule.datetime  # type: ignore[attr-defined]
    schedule.datetime = shim  # type: ignore[attr-defined]
    try:
        yield
    finally:
        schedule.datetime = original  # type: ignore[attr-defined]


@dataclass
class JobRun:
    """One run of one job."""

    job: str
    started_at: float  # the daemon clock's time
    duration_ms: float = 0.0
    count: int = 0
    outcome: str = "ok"  # ok | error
    error: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    consecutive_failures: int = 0
    trigger: str = "schedule"

    @property
    def alarming(self) -> bool:
        """Failed ``MAX_FAILURES`` times (or more) in a row: reported as an error."""
        return self.consecutive_failures >= MAX_FAILURES

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "started_at": memctl_clock.iso(self.started_at),
            "duration_ms": round(self.duration_ms, 1),
            "count": self.count,
            "outcome": self.outcome,
            "error": self.error,
            "consecutive_failures": self.consecutive_failures,
            "trigger": self.trigger,
            "report": self.report,
        }


# job -> (module, function, how it is called)
_JOB_TABLE: dict[str, tuple[str, str, str]] = {
    "cleanup": ("memctl.lifecycle.cleanup", "cleanup", "policies"),
    "decay": ("memctl.lifecycle.decay", "decay", "policies"),
    "prune": ("memctl.lifecycle.prune", "prune", "policies"),
    "promote": ("memctl.lifecycle.promote", "promote", "policies"),
    "snapshot": ("memctl.lifecycle.stats", "snapshot", "snapshot"),
    "compact": ("memctl.lifecycle.compact", "compact", "db"),
}


def job_function(name: str) -> Callable[..., Any]:
    """The job's library function, imported now (so the daemon picks up new modules)."""
    module_name, function_name, _ = _JOB_TABLE[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MemctlError(f"job {name} is not available: {exc}") from None
    function = getattr(module, function_name, None)
    if function is None:
        raise MemctlError(f"job {name} is not available: {module_name}.{function_name} missing")
    return function  # type: ignore[no-any-return]


def call_job(
    name: str,
    db: Database,
    policies: Policies,
    now: float,
    tenant: str | None,
    on_note: Callable[[str], None] | None = None,
) -> Any:
    """Run one job's library function; its report. ``on_note`` hears what a long wait
    is about (the model's one-off preparation)."""
    if name == "embed":
        return embed_backlog(db, policies, tenant, on_note)
    function = job_function(name)
    style = _JOB_TABLE[name][2]
    if style == "policies":
        return function(db, policies, now, tenant)
    if style == "snapshot":
        return function(db, now, tenant)
    return function(db)


@dataclass
class EmbedReport:
    count: int = 0
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "model": self.model}


def embed_backlog(
    db: Database,
    policies: Policies,
    tenant: str | None,
    on_prepare: Callable[[str], None] | None = None,
) -> EmbedReport:
    """Fill the embedding backlog (at most ``EMBED_PER_RUN`` memories per run); the
    model is prepared first if this machine has none (``on_prepare`` is told)."""
    if policies.embedding_model == "none":
        return EmbedReport(0, None)
    from memctl.embeddings.model_files import model_id
    from memctl.store import vectors

    # Loading the model costs ~0.4 s: skip it when nothing is pending. (The id assumes
    # 384 dimensions; for another model the guess finds everything pending and loads it.)
    if not vectors.pending(db, model_id(policies.embedding_model, 384), 1, tenant):
        return EmbedReport(0, None)
    from memctl.embeddings import get_embedder
    from memctl.embeddings.backlog import fill

    model = get_embedder(policies.embedding_model, on_prepare)
    if model is None:
        return EmbedReport(0, None)
    return EmbedReport(fill(db, model, EMBED_PER_RUN, tenant), model.model_id)


def report_dict(report: Any) -> dict[str, Any]:
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        return data if isinstance(data, dict) else {"result": data}
    return {}


def schedule_for(policies: Policies, job: str, interval_hours: float | None) -> Schedule:
    """The job's schedule: ``--interval-hours``, else policies.yaml, else the default."""
    if interval_hours is not None:
        minutes = max(1, round(interval_hours * 60))
        if minutes % 60 == 0:
            return Schedule(f"every {minutes // 60} hours", minutes // 60, "hour")
        return Schedule(f"every {minutes} minutes", minutes, "minute")
    return parse_schedule(policies.schedule.get(job, DEFAULT_SCHEDULE[job]))


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".daemon.lock")


class DaemonLock:
    """An exclusive, non-blocking ``flock`` on ``<db>.daemon.lock``."""

    def __init__(self, db_path: Path) -> None:
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StorageError(
                f"another memctl daemon (pid {holder}) is already running for this "
                f"database (lock {self.path}); not starting a second one"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "DaemonLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Daemon:
    """Runs the jobs for one database, on schedule or all at once."""

    def __init__(
        self,
        db: Database,
        load_policies: Callable[[], Policies],
        tenant: str | None,
        clock: Clock,
        *,
        interval_hours: float | None = None,
        jobs: tuple[str, ...] = JOBS,
        on_run: Callable[[JobRun], None] = lambda run: None,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.load_policies = load_policies
        self.tenant = tenant
        self.clock = clock
        self.interval_hours = interval_hours
        self.jobs = jobs
        self.on_run = on_run
        self.on_note = on_note
        self.stop_requested = False
        self.current_job: str | None = None
        self.runs: list[JobRun] = []
        self.failures = self._failures_from_log()

    def request_stop(self) -> None:
        """Finish the current job, then stop (what SIGTERM/SIGINT do)."""
        self.stop_requested = True

    def _failures_from_log(self) -> dict[str, int]:
        """Consecutive failures per job so far, from the newest log rows backwards."""
        failures = dict.fromkeys(self.jobs, 0)
        settled: set[str] = set()
        for row in log.recent(self.db, limit=50 * len(self.jobs), action=LOG_ACTION):
            job = row["details"].get("job")
            if job not in failures or job in settled:
                continue
            if row["tenant"] != self.tenant:
                continue
            if row["outcome"] == "error":
                failures[job] += 1
            else:
                settled.add(job)
        return failures

    def run_job(self, name: str, trigger: str = "schedule") -> JobRun:
        """Run one job now, never raising; logged to the lifecycle log and ``on_run``."""
        now = self.clock.now()
        run = JobRun(job=name, started_at=now, trigger=trigger)
        self.current_job = name
        started = time.perf_counter()
        try:
            report = call_job(name, self.db, self.load_policies(), now, self.tenant, self.on_note)
            run.count = int(getattr(report, "count", 0) or 0)
            run.report = report_dict(report)
            self.failures[name] = 0
        except Exception as exc:  # one job's failure never stops the daemon
            run.outcome = "error"
            run.error = str(exc) if isinstance(exc, MemctlError) else repr(exc)
            self.failures[name] = self.failures.get(name, 0) + 1
        finally:
            self.current_job = None
        run.duration_ms = (time.perf_counter() - started) * 1000
        run.consecutive_failures = self.failures.get(name, 0)
        self._record(run)
        self.runs.append(run)
        self.on_run(run)
        return run

    def _record(self, run: JobRun) -> None:
        details: dict[str, Any] = {
            "job": run.job,
            "trigger": run.trigger,
            "report": run.report,
            "consecutive_failures": run.consecutive_failures,
        }
        try:
            with self.db.write():
                log.record(
                    self.db,
                    LOG_ACTION,
                    tenant=self.tenant,
                    started_at=run.started_at,
                    duration_ms=run.duration_ms,
                    count=run.count,
                    details=details,
                    outcome=run.outcome,
                    error=run.error,
                )
        except MemctlError as exc:  # the log is best effort; stderr still has the run
            run.report.setdefault("log_error", str(exc))

    def run_once(self) -> list[JobRun]:
        """Every job once, in order (``--once``); stops early on a stop request."""
        done = []
        for name in self.jobs:
            if self.stop_requested:
                break
            done.append(self.run_job(name, trigger="once"))
        return done

    def schedules(self) -> dict[str, Schedule]:
        policies = self.load_policies()
        return {job: schedule_for(policies, job, self.interval_hours) for job in self.jobs}

    def run_forever(self, until: float | None = None) -> list[JobRun]:
        """Run jobs on their schedules until a stop request (or the clock reaches
        ``until``: simulated runs). Returns the runs made."""
        import schedule

        first = len(self.runs)
        plans = self.schedules()
        with scheduler_clock(self.clock):
            scheduler = schedule.Scheduler()
            for job, plan in plans.items():
                add_job(scheduler, plan, self._scheduled(job), self.clock.now())
            while not self.stop_requested:
                if until is not None and self.clock.now() >= until:
                    break
                scheduler.run_pending()
                if self.stop_requested:
                    break
                idle = scheduler.idle_seconds
                nap = max(0.0, idle if idle is not None else 60.0)
                nap = min(nap, getattr(self.clock, "max_nap", 60.0))
                if until is not None:
                    nap = min(nap, max(0.0, until - self.clock.now()))
                self.clock.sleep(nap, lambda: self.stop_requested)
        return self.runs[first:]

    def _scheduled(self, job: str) -> Callable[[], None]:
        def run() -> None:
            if not self.stop_requested:
                self.run_job(job)

        return run


def add_job(scheduler: Any, plan: Schedule, action: Callable[[], None], now: float) -> None:
    """Register ``action`` on ``scheduler`` as ``plan`` says.

    ``weekly at HH:MM`` with no day runs on the weekday the daemon started.
    """
    if plan.unit == "minute":
        job = scheduler.every(plan.every).minutes
    elif plan.unit == "hour":
        job = scheduler.every(plan.every).hours
    elif plan.unit == "day":
        job = scheduler.every(plan.every).days
        if plan.at:
            job = job.at(plan.at)
    elif plan.day or plan.at:
        day = plan.day or dt.datetime.fromtimestamp(now).strftime("%A").lower()
        job = getattr(scheduler.every(), day)
        if plan.at:
            job = job.at(plan.at)
    else:
        job = scheduler.every(plan.every).weeks
    job.do(action)
