"""The daemon loop: runs the jobs on their schedules (or all at once with ``--once``).

Runs: each job run is one lifecycle-log row (action ``daemon``, details ``job``,
``trigger``, the job's report, ``consecutive_failures``) and one stderr line. A failing
job never stops the others; a job failing ``MAX_FAILURES`` times in a row (counted across
processes from the log, so cron's ``--once`` runs count too) is reported as an error and
recorded as an ``alert:job-failing`` event (once per streak).

policies.yaml is re-read for every job run (a fixed file takes effect at the next run; a
broken one fails the runs, logged), but the schedules themselves are read at start.
Schedules are in local time, like cron ("daily at 02:00" is 02:00 on this machine's
clock); ``lifecycle.schedules.next_run`` says when a job is due next.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memctl import clock as memctl_clock
from memctl.daemon.clocks import Clock
from memctl.daemon.jobs import JOBS, REGISTRY, JobCall, schedule_for
from memctl.errors import MemctlError
from memctl.lifecycle import events
from memctl.lifecycle.policies import Policies
from memctl.lifecycle.runs import logged_run, recent
from memctl.lifecycle.schedules import Schedule, fix_weekday, next_run
from memctl.store.db import Database

MAX_FAILURES = events.JOB_FAILURES  # alert:job-failing at the same count
LOG_ACTION = "daemon"


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
        self.connection_lost = False  # the database server went away: stop, exit 3
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
        for row in recent(self.db, limit=50 * len(self.jobs), action=LOG_ACTION):
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
        try:
            with logged_run(self.db, LOG_ACTION, tenant=self.tenant, now=now) as logged:
                try:
                    call = JobCall(self.db, self.load_policies(), now, self.tenant, self.on_note)
                    report = REGISTRY[name](call)
                    run.count = int(report.count or 0)
                    run.report = report.to_dict()
                    self.failures[name] = 0
                except Exception as exc:  # one job's failure never stops the daemon
                    run.outcome = "error"
                    run.error = str(exc) if isinstance(exc, MemctlError) else repr(exc)
                    self.failures[name] = self.failures.get(name, 0) + 1
                    logged.fail(run.error)
                    if not self.db.alive():  # ...but a lost server connection stops it (exit 3)
                        self.connection_lost = True
                        self.stop_requested = True
                finally:
                    self.current_job = None
                run.duration_ms = logged.elapsed_ms()
                run.consecutive_failures = self.failures.get(name, 0)
                logged.count = run.count
                logged.details = {
                    "job": run.job,
                    "trigger": run.trigger,
                    "report": run.report,
                    "consecutive_failures": run.consecutive_failures,
                }
        except MemctlError as exc:  # the log is best effort; stderr still has the run
            run.report.setdefault("log_error", str(exc))
        if run.outcome == "error":
            try:
                failures = run.consecutive_failures
                events.job_failing(self.db, name, self.tenant, now, failures, run.error)
            except MemctlError as exc:  # as best effort as the log row
                run.report.setdefault("event_error", str(exc))
        self.runs.append(run)
        self.on_run(run)
        return run

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

    def last_runs(self) -> dict[str, float]:
        """When each job last ran on this database for this tenant scope (any trigger,
        any outcome: a failing job is retried by its schedule, not by every restart)."""
        last: dict[str, float] = {}
        for row in recent(self.db, limit=50 * len(self.jobs), action=LOG_ACTION):
            job = row["details"].get("job")
            if job in self.jobs and job not in last and row["tenant"] == self.tenant:
                last[job] = float(row["started_at"])
        return last

    def due_at_start(self, plans: dict[str, Schedule], now: float) -> list[str]:
        """The jobs a starting daemon runs at once, in ``JOBS`` order: never run here,
        or their latest scheduled time passed since their last run (a daemon down over
        02:00 runs decay when it is back, as anacron or systemd's Persistent= timers
        do). Fixed times (``daily at``, ``weekly on``) look back one period from the
        next one; intervals look back one interval from now."""
        last = self.last_runs()
        due = []
        for job in self.jobs:
            plan = plans[job]
            if job not in last:
                due.append(job)
            elif plan.at or plan.day:
                if last[job] < next_run(plan, now) - plan.seconds:
                    due.append(job)
            elif last[job] <= now - plan.seconds:
                due.append(job)
        return due

    def run_forever(self, until: float | None = None) -> list[JobRun]:
        """Run the jobs due at start (``due_at_start``), then each on its schedule until
        a stop request (or the clock reaches ``until``: simulated runs). Returns the runs
        made.

        Each job's next run is computed from the clock when the daemon starts and again
        after the job ran; jobs due together run in the order of their due times, then
        of ``JOBS``. A job missed while another ran (or the machine slept) runs once,
        not once per missed slot.
        """
        first = len(self.runs)
        started = self.clock.now()
        plans = {job: fix_weekday(plan, started) for job, plan in self.schedules().items()}
        due = {job: next_run(plan, started) for job, plan in plans.items()}
        for job in self.due_at_start(plans, started):
            if self.stop_requested:
                break
            self.run_job(job, trigger="start")
        while not self.stop_requested:
            now = self.clock.now()
            if until is not None and now >= until:
                break
            for job in sorted((j for j in due if due[j] <= now), key=lambda j: due[j]):
                if not self.stop_requested:
                    self.run_job(job)
                due[job] = next_run(plans[job], self.clock.now())
            if self.stop_requested:
                break
            nap = max(0.0, min(due.values()) - self.clock.now()) if due else 60.0
            nap = min(nap, self.clock.max_nap)
            if until is not None:
                nap = min(nap, max(0.0, until - self.clock.now()))
            self.clock.sleep(nap, lambda: self.stop_requested)
        return self.runs[first:]
