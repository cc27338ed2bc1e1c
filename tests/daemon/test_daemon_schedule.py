"""The daemon's scheduling, driven through simulated days by an injected clock (no sleep)."""

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memctl.clock import parse_time
from memctl.daemon import jobs
from memctl.daemon.clocks import SimulatedClock
from memctl.daemon.jobs import JOBS, JobCall, schedule_for
from memctl.daemon.lock import DaemonLock, lock_path
from memctl.daemon.runner import MAX_FAILURES, Daemon, JobRun
from memctl.errors import StorageError
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.lifecycle.schedules import fix_weekday, next_run, parse_schedule
from memctl.store import log, open_database
from memctl.store.db import Database
from memctl.store.memories import Filters, select
from tests.conftest import cli

START = "2026-03-02T00:30:00Z"  # a Monday
SCHEDULE = """
schedule:
  cleanup: every 6 hours
  decay: daily at 02:00
  prune: weekly on sunday at 04:00
  promote: daily at 03:00
  snapshot: daily at 00:00
  compact: weekly
"""


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Schedules are in local time: make local time UTC for these tests."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


@pytest.fixture
def policies_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    text = PACKAGED_POLICIES.read_text().replace("model: all-MiniLM-L6-v2", "model: none")
    text = text[: text.index("schedule:")] + SCHEDULE.lstrip() + text[text.index("embedding:") :]
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    monkeypatch.setenv("MEMCTL_POLICIES", str(path))
    return path


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(db_path, create=True)
    yield database
    database.close()


def make_daemon(db: Database, policies: Path, clock: SimulatedClock, **kw: object) -> Daemon:
    return Daemon(db, lambda: load_policies(policies), "default", clock, **kw)  # type: ignore[arg-type]


def at(run: JobRun) -> datetime:
    return datetime.fromtimestamp(run.started_at, UTC)


def test_simulated_week_runs_each_job_on_its_schedule(db: Database, policies_file: Path) -> None:
    start = parse_time(START)
    cli("store", "coordination/swarm-1/plan", "draft", "--timestamp", START)  # ttl 1 h
    clock = SimulatedClock(start)
    daemon = make_daemon(db, policies_file, clock)
    runs = daemon.run_forever(until=start + 8 * 86400)  # jobs due before `until`
    # a fresh database: every job runs once at start, then on its schedule
    assert [(r.job, r.trigger, r.started_at) for r in runs[: len(JOBS)]] == [
        (job, "start", start) for job in JOBS
    ]
    scheduled = runs[len(JOBS) :]
    assert {r.trigger for r in scheduled} == {"schedule"}
    by_job = {job: [at(r) for r in scheduled if r.job == job] for job in JOBS}
    begin = datetime.fromtimestamp(start, UTC)
    assert by_job["cleanup"] == [begin + timedelta(hours=6 * n) for n in range(1, 32)]
    assert by_job["decay"] == [datetime(2026, 3, d, 2, 0, tzinfo=UTC) for d in range(2, 10)]
    assert by_job["promote"] == [datetime(2026, 3, d, 3, 0, tzinfo=UTC) for d in range(2, 10)]
    assert by_job["snapshot"] == [datetime(2026, 3, d, 0, 0, tzinfo=UTC) for d in range(3, 11)]
    assert by_job["prune"] == [datetime(2026, 3, 8, 4, 0, tzinfo=UTC)]  # the Sunday
    assert by_job["compact"] == [begin + timedelta(days=7)]
    assert by_job["embed"] == [begin + timedelta(minutes=15 * n) for n in range(1, 8 * 96)]
    assert all(r.outcome == "ok" for r in runs), [r.error for r in runs if r.error]
    assert clock.slept == pytest.approx(8 * 86400)
    # the expired coordination memory went at the first cleanup after its TTL, on the
    # daemon's clock, and every run is in the lifecycle log
    archived = select(db, Filters(tenant="default", archived=True))
    assert [m.path for m in archived] == ["coordination/swarm-1/plan"]
    assert archived[0].archived_at == start + 6 * 3600  # (at start it had not expired)
    logged = log.recent(db, limit=10_000, action="daemon")
    assert len(logged) == len(runs)
    assert {row["details"]["job"] for row in logged} == set(JOBS)


def test_interval_hours_overrides_the_schedule(db: Database, policies_file: Path) -> None:
    start = parse_time(START)
    clock = SimulatedClock(start)
    daemon = make_daemon(db, policies_file, clock, interval_hours=6)
    assert {p.text for p in daemon.schedules().values()} == {"every 6 hours"}
    runs = daemon.run_forever(until=start + 2 * 86400)
    for job in JOBS:
        times = [r.started_at for r in runs if r.job == job]
        assert times == [start + 6 * 3600 * n for n in range(8)], job  # n=0: at start


def test_fractional_interval_and_missing_schedule_entries() -> None:
    policies = load_policies(PACKAGED_POLICIES)
    assert schedule_for(policies, "cleanup", 0.5).text == "every 30 minutes"
    assert schedule_for(policies, "cleanup", 1 / 3).text == "every 20 minutes"
    assert schedule_for(policies, "cleanup", 2).text == "every 2 hours"
    assert schedule_for(policies, "embed", None).text == "every 15 minutes"
    assert schedule_for(policies, "decay", None).text == "daily at 02:00"


def due(text: str, now: str) -> datetime:
    plan = fix_weekday(parse_schedule(text), parse_time(now))
    return datetime.fromtimestamp(next_run(plan, parse_time(now)), UTC)


def test_next_run_is_the_next_slot_strictly_after_now() -> None:
    monday = "2026-03-02T00:30:00Z"
    assert due("every 15 minutes", monday) == datetime(2026, 3, 2, 0, 45, tzinfo=UTC)
    assert due("every minute", monday) == datetime(2026, 3, 2, 0, 31, tzinfo=UTC)
    assert due("daily at 02:00", monday) == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert due("daily at 00:30", monday) == datetime(2026, 3, 3, 0, 30, tzinfo=UTC)
    assert due("daily at 00:00", monday) == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    assert due("every 2 days", monday) == datetime(2026, 3, 4, 0, 30, tzinfo=UTC)
    assert due("weekly", monday) == datetime(2026, 3, 9, 0, 30, tzinfo=UTC)
    assert due("weekly on sunday at 04:00", monday) == datetime(2026, 3, 8, 4, 0, tzinfo=UTC)
    assert due("weekly on monday at 00:00", monday) == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    assert due("weekly on monday at 01:00", monday) == datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    # `weekly at HH:MM` without a day: the weekday the daemon started on
    assert due("weekly at 00:00", monday) == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    assert due("weekly at 23:00", monday) == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)


def test_three_consecutive_failures_are_an_error(
    db: Database, policies_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(call: JobCall) -> jobs.Report:
        raise StorageError("disk on fire")

    original = jobs.REGISTRY["prune"]
    monkeypatch.setitem(jobs.REGISTRY, "prune", broken)
    clock = SimulatedClock(parse_time(START))
    seen = []
    for _ in range(MAX_FAILURES):  # a new daemon each time: cron's --once runs
        (run,) = [r for r in make_daemon(db, policies_file, clock).run_once() if r.job == "prune"]
        seen.append((run.outcome, run.consecutive_failures, run.alarming))
        assert run.error == "disk on fire"
    assert seen == [("error", 1, False), ("error", 2, False), ("error", 3, True)]
    # other jobs kept running
    others = log.recent(db, limit=100, action="daemon")
    assert {r["details"]["job"] for r in others if r["outcome"] == "ok"} == set(JOBS) - {"prune"}
    # the CLI exits 3 once the streak reaches three, and a success resets it
    done = cli("daemon", "--once", "--job", "prune")
    assert done.exit_code == 3
    assert "prune error: failed (4 in a row)" in done.stderr
    jobs.REGISTRY["prune"] = original  # (monkeypatch.undo would drop MEMCTL_DB)
    ok = cli("daemon", "--once", "--job", "prune")
    assert ok.exit_code == 0, ok.output
    assert make_daemon(db, policies_file, clock).failures["prune"] == 0


def test_stop_request_finishes_the_current_job_only(db: Database, policies_file: Path) -> None:
    clock = SimulatedClock(parse_time(START))
    daemon = make_daemon(db, policies_file, clock)
    daemon.on_run = lambda run: daemon.request_stop()
    assert [r.job for r in daemon.run_once()] == ["cleanup"]
    again = make_daemon(db, policies_file, clock)
    again.on_run = lambda run: again.request_stop()
    runs = again.run_forever(until=parse_time(START) + 86400)
    assert len(runs) == 1  # the first job due at start, then it stopped


def test_bad_options(policies_file: Path) -> None:
    assert cli("daemon", "--once", "--job", "nope").exit_code == 2
    assert cli("daemon", "--interval-hours", "0").exit_code == 2
    done = cli("daemon", "--interval-hours", "0.002")  # 7 s: was silently one minute
    assert done.exit_code == 2
    assert "one minute (0.0167) to a year" in done.stderr
    assert cli("daemon", "--once", "--wait", "-1").exit_code == 2


def test_a_restarted_daemon_runs_only_what_it_missed(db: Database, policies_file: Path) -> None:
    """Catch-up at start: a job runs at once when it never ran here, or when its latest
    scheduled time passed since its last run (anacron-like); the rest wait."""
    start = parse_time(START)  # Monday 00:30
    first = make_daemon(db, policies_file, SimulatedClock(start))
    assert {r.job for r in first.run_forever(until=start)} == set(JOBS)  # fresh: all
    # back ten minutes later (00:40): nothing is due, each waits for its schedule
    again = make_daemon(db, policies_file, SimulatedClock(start + 600))
    assert again.run_forever(until=start + 600) == []
    # down over Monday 02:00 and 03:00 until 03:30: decay and promote missed their
    # time, embed (every 15 minutes) is overdue; cleanup (6 h) and the daily snapshot
    # at 00:00 are not
    late = make_daemon(db, policies_file, SimulatedClock(start + 3 * 3600))
    runs = late.run_forever(until=start + 3 * 3600)
    assert [(r.job, r.trigger) for r in runs] == [
        ("decay", "start"),
        ("promote", "start"),
        ("embed", "start"),
    ]


def test_catch_up_counts_runs_of_cron_once_too(db: Database, policies_file: Path) -> None:
    start = parse_time(START)
    make_daemon(db, policies_file, SimulatedClock(start)).run_once()
    daemon = make_daemon(db, policies_file, SimulatedClock(start + 60))
    assert daemon.run_forever(until=start + 60) == []


def hold(db_path: Path, role: str) -> int:
    """Hold the daemon lock as another process would (flock is per open file)."""
    import fcntl

    fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.pwrite(fd, f"4242 {role}\n".encode(), 0)
    return fd


def test_a_run_waits_for_a_once_run_then_gives_up(db_path: Path) -> None:
    fd = hold(db_path, "once")
    clock = SimulatedClock(parse_time(START))
    heard = []
    try:
        with pytest.raises(StorageError, match=r"pid 4242\) still holds .* after 60 s"):
            DaemonLock(db_path, "once").acquire(60, clock, heard.append)
    finally:
        os.close(fd)
    assert clock.slept == pytest.approx(60)
    assert [h.described for h in heard] == ["a memctl daemon --once run (pid 4242)"]
    lock = DaemonLock(db_path, "once")
    lock.acquire(60, clock)  # free now: no wait
    assert lock_path(db_path).read_text() == f"{os.getpid()} once\n"
    lock.release()


def test_a_running_daemon_is_never_waited_for(db_path: Path) -> None:
    fd = hold(db_path, "daemon")
    clock = SimulatedClock(parse_time(START))
    try:
        with pytest.raises(StorageError, match=r"a memctl daemon \(pid 4242\) is already"):
            DaemonLock(db_path, "once").acquire(60, clock)
    finally:
        os.close(fd)
    assert clock.slept == 0
