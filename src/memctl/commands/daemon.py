"""``memctl daemon``: the maintenance jobs on the policies' schedule (docs/daemon.md)."""

import signal
import sys
from typing import Annotated, Any

import typer

from memctl import limits
from memctl.commands.common import Settings, command

app = typer.Typer()
WAIT_SECONDS = limits.Range(0, 86_400, "0 to 86400 seconds (a day)")
INTERVAL_HOURS = limits.Range(1 / 60, 24 * 365, "one minute (0.0167) to a year (8760) in hours")


@command(app, "daemon", all_tenants=True)
def daemon_cmd(
    settings: Settings,
    once: Annotated[
        bool, typer.Option("--once", help="Run every job once and exit (for cron).")
    ] = False,
    interval_hours: Annotated[
        float | None,
        typer.Option(
            "--interval-hours",
            help="Run every job every N hours instead of the policies' schedule.",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            help="Seconds to wait for a --once run that holds the database's lock "
            "(overlapping cron lines run one after the other); 0 = give up at once.",
        ),
    ] = 60.0,
    job: Annotated[
        list[str] | None,
        typer.Option(
            "--job",
            help="Only this job (repeatable): cleanup, decay, prune, promote, embed, "
            "snapshot, compact.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run cleanup, decay, prune, promote, embedding, snapshot and compaction on schedule.

    At start, the jobs that are due run at once (never run on this database, or missed
    their latest scheduled time); then each runs on its schedule. --interval-hours is
    whole minutes, at least one. One daemon per database: a run finding a --once run
    holding the lock waits for it (--wait), one finding a daemon exits 3. SIGTERM/SIGINT
    finish the current job and exit 0. --once exits 3 if a job has now failed 3 times
    in a row.

    Example: memctl daemon --once --all-tenants
    """
    from memctl.daemon.clocks import SystemClock
    from memctl.daemon.jobs import JOBS
    from memctl.daemon.lock import DaemonLock, LockHolder
    from memctl.daemon.runner import Daemon, JobRun
    from memctl.errors import BadInput, StorageError
    from memctl.lifecycle.policies import load_policies

    if interval_hours is not None:
        limits.check(interval_hours, "--interval-hours", INTERVAL_HOURS)
    limits.check(wait, "--wait", WAIT_SECONDS)
    unknown = [name for name in job or [] if name not in JOBS]
    if unknown:
        raise BadInput(f"unknown job {unknown[0]!r}; jobs: {', '.join(JOBS)}")
    jobs = tuple(name for name in JOBS if not job or name in job)
    _ = settings.policies  # a bad policies file stops the daemon before it starts (exit 2)
    policies_path = settings.policies_path
    db = settings.open()

    def on_run(run: JobRun) -> None:
        if settings.quiet and run.outcome == "ok":
            return
        sys.stderr.write(run_line(run) + "\n")
        sys.stderr.flush()

    def note(text: str) -> None:
        sys.stderr.write(f"memctl daemon: {text}\n")
        sys.stderr.flush()

    def on_wait(holder: LockHolder) -> None:
        settings.out.status(
            f"memctl daemon: {holder.described} holds this database's lock; "
            f"waiting up to {wait:g} s for it to finish"
        )

    lock = DaemonLock(settings.db_path, role="once" if once else "daemon", db=db)
    lock.acquire(wait, SystemClock(), on_wait)
    try:
        daemon = Daemon(
            db,
            lambda: load_policies(policies_path),
            settings.scope,
            SystemClock(),
            interval_hours=interval_hours,
            jobs=jobs,
            on_run=on_run,
            on_note=None if settings.quiet else note,
        )
        previous = install_signal_handlers(daemon)
        try:
            if once:
                runs = daemon.run_once()
            else:
                if not settings.quiet:
                    plans = ", ".join(f"{j}: {p.text}" for j, p in daemon.schedules().items())
                    sys.stderr.write(f"memctl daemon: started for {settings.db_path} ({plans})\n")
                runs = daemon.run_forever()
        finally:
            restore_signal_handlers(previous)
    finally:
        lock.release()
    if settings.json:
        settings.out.document(
            {
                "database": str(settings.db_path),
                "stopped_by_signal": daemon.stop_requested,
                "runs": [run.to_dict() for run in runs],
            }
        )
    if daemon.connection_lost:
        raise StorageError(
            f"lost the connection to {settings.db_path}; stopped (a service manager or "
            "cron starts it again)"
        )
    if once and any(run.alarming for run in runs):
        raise typer.Exit(3)


def run_line(run: Any) -> str:
    """One stderr line per job run."""
    from memctl.clock import iso

    head = f"memctl daemon: {run.job}"
    started = f"started {iso(run.started_at)}"
    if run.outcome == "ok":
        return f"{head} ok: {run.count} in {run.duration_ms:.0f} ms ({started})"
    level = "error" if run.alarming else "warning"
    return (
        f"{head} {level}: failed ({run.consecutive_failures} in a row) after "
        f"{run.duration_ms:.0f} ms ({started}): {run.error}"
    )


def install_signal_handlers(daemon: Any) -> dict[int, Any]:
    """SIGTERM/SIGINT: finish the current job, then exit 0."""

    def handle(signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        doing = f"finishing {daemon.current_job}, then " if daemon.current_job else ""
        sys.stderr.write(f"memctl daemon: {name} received; {doing}stopping\n")
        daemon.request_stop()

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handle)
    return previous


def restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
