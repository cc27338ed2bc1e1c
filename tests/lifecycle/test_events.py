"""Lifecycle events (docs/serve.md): every action records its event in the database, by
the command itself (no server), one per batch and tenant with its ids; the two alerts;
prune trims old events. Driven through the CLI in-process over simulated days, on both engines."""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from memctl.clock import iso
from memctl.daemon import jobs
from memctl.daemon.clocks import SimulatedClock
from memctl.daemon.jobs import JobCall
from memctl.daemon.runner import MAX_FAILURES, Daemon
from memctl.errors import StorageError
from memctl.lifecycle import events
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.store import open_database
from tests.conftest import cli
from tests.lifecycle.lifecycle_support import DAY, HOUR, T0, doc

GROWTH_LIMIT = 3
RETENTION_DAYS = 10


@pytest.fixture(autouse=True)
def policies_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    text = PACKAGED_POLICIES.read_text().replace("model: all-MiniLM-L6-v2", "model: none")
    text = text.replace("max_memories_per_agent: 10000", f"max_memories_per_agent: {GROWTH_LIMIT}")
    text = text.replace("events_retention_days: 30", f"events_retention_days: {RETENTION_DAYS}")
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    monkeypatch.setenv("MEMCTL_POLICIES", str(path))
    return path


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    def set_now(seconds: float) -> None:
        monkeypatch.setenv("MEMCTL_NOW", str(seconds))

    set_now(T0)
    return set_now


def read(*args: str) -> list[dict[str, Any]]:
    """Every event after --since (default 0) as `memctl events --json` prints them."""
    return list(doc(cli("events", "--json", *args))["events"])


def last_id() -> int:
    return int(doc(cli("events", "--json"))["last_id"])


def new_events(since: int) -> list[dict[str, Any]]:
    return read("--since", str(since))


def store(path: str, *args: str) -> int:
    return int(doc(cli("store", path, "v", "--json", *args))["id"])


def test_store_archive_restore_delete_each_record_one_event_with_ids(
    backend: Any, now: Any
) -> None:
    a = store("notes/a", "--importance", "2")
    b = store("notes/b", "--importance", "2")
    stored = read()
    assert [(e["event"], e["ids"], e["path"], e["action"]) for e in stored] == [
        ("memory:stored", [a], "notes/a", "created"),
        ("memory:stored", [b], "notes/b", "created"),
    ]
    assert stored[0]["tenant"] == "default" and stored[0]["count"] == 1
    assert stored[0]["id"] < stored[1]["id"]

    mark = last_id()
    assert doc(cli("archive", "notes/*", "--json"))["count"] == 2
    (archived,) = new_events(mark)
    assert (archived["event"], archived["count"], archived["ids"]) == ("memory:archived", 2, [a, b])
    assert archived["reason"] == "archived"

    mark = last_id()
    assert cli("restore", "notes/a").exit_code == 0
    (restored,) = new_events(mark)
    assert (restored["event"], restored["count"], restored["ids"]) == ("memory:restored", 1, [a])

    mark = last_id()
    assert cli("delete", "notes/a", "--hard").exit_code == 0
    (deleted,) = new_events(mark)
    assert (deleted["event"], deleted["ids"]) == ("memory:deleted", [a])

    # refused or dry runs change nothing, so record nothing
    mark = last_id()
    store("notes/b")
    assert cli("restore", "notes/b").exit_code == 2  # an active memory is at the path
    assert cli("archive", "notes/*", "--dry-run").exit_code == 0
    assert [e["event"] for e in new_events(mark)] == ["memory:stored"]


def test_expiry_lazy_and_by_cleanup(backend: Any, now: Any) -> None:
    lazy = store("coordination/lazy")  # coordination/*: one-hour TTL, lazy cleanup
    swept = store("swarm/shared/old")  # a day, scheduled
    gone = store("swarm/shared/gone")
    now(T0 + 2 * DAY)
    mark = last_id()
    assert cli("recall", "coordination/lazy").exit_code == 1  # expired: moved out on access
    (lazy_event,) = new_events(mark)
    assert lazy_event["event"] == "memory:expired"
    assert (lazy_event["ids"], lazy_event["action"], lazy_event["trigger"]) == (
        [lazy],
        "archived",
        "recall",
    )

    mark = last_id()
    cleaned = doc(cli("cleanup", "--json"))
    assert cleaned["archived"] == 2
    (batch,) = new_events(mark)  # one event for the batch, not one per memory
    assert batch["event"] == "memory:expired"
    assert (batch["count"], batch["ids"], batch["trigger"]) == (2, [swept, gone], "cleanup")


def test_decay_and_promote_are_one_event_per_batch(backend: Any, now: Any) -> None:
    idle = store("notes/idle", "--importance", "5")
    proven = store("learning/retry", "--importance", "9", "--type", "learning")
    for _ in range(5):
        assert cli("recall", "learning/retry").exit_code == 0
    now(T0 + 15 * DAY)
    mark = last_id()
    promoted = doc(cli("promote", "--json"))
    (item,) = promoted["promoted"]
    (event,) = new_events(mark)  # the copy is not a memory:stored of its own
    assert (event["event"], event["ids"], event["copies"]) == (
        "memory:promoted",
        [proven],
        [[proven, item["copy_id"]]],
    )

    now(T0 + 40 * DAY)
    mark = last_id()
    decayed = doc(cli("decay", "--json"))
    (event,) = new_events(mark)
    assert event["event"] == "memory:decayed"
    assert event["count"] == decayed["count"] == 3
    assert event["ids"] == sorted([idle, proven, item["copy_id"]])


def test_prune_records_what_it_archived_and_purged_and_trims_old_events(
    backend: Any, now: Any
) -> None:
    kept = store("notes/kept", "--importance", "9")
    old = store("notes/old", "--importance", "2")
    assert cli("archive", "notes/*").exit_code == 0
    before = read()
    assert len(before) == 3
    now(T0 + 100 * DAY)  # past the 90-day archive retention, and the events' 10 days
    dry = doc(cli("prune", "--dry-run", "--json"))
    assert dry["events_trimmed"] == 3
    assert read() == before  # a dry run trims nothing
    pruned = doc(cli("prune", "--json"))
    assert (pruned["purged"], pruned["kept_important"], pruned["events_trimmed"]) == (1, 1, 3)
    (event,) = read()  # the old events went, the prune's own stayed
    assert (event["event"], event["ids"], event["action"]) == ("memory:pruned", [old], "purged")
    assert event["id"] > before[-1]["id"]  # ids are never reused after a trim
    assert kept not in event["ids"]


def test_import_is_one_event_per_tenant_and_a_dry_run_none(
    backend: Any, now: Any, tmp_path: Path
) -> None:
    ids = [store(f"notes/n{i}") for i in range(3)]
    dump = tmp_path / "dump.jsonl"
    assert cli("export", "--output", str(dump)).exit_code == 0
    mark = last_id()
    assert cli("import", str(dump), "--tenant", "other", "--dry-run").exit_code == 0
    assert new_events(mark) == []
    imported = doc(cli("import", str(dump), "--tenant", "other", "--json"))
    assert imported["created"] == 3
    assert new_events(mark) == []  # another tenant's: not in default's events
    (event,) = read("--tenant", "other", "--since", str(mark))
    assert (event["event"], event["tenant"], event["count"]) == ("memory:imported", "other", 3)
    assert len(event["ids"]) == 3 and not set(event["ids"]) & set(ids)
    assert event["format"] == "memctl-jsonl"


def test_growth_alert_when_an_agent_passes_the_limit(
    backend: Any, now: Any, tmp_path: Path
) -> None:
    def alerts(since: int = 0) -> list[dict[str, Any]]:
        return [e for e in read("--since", str(since)) if e["event"] == "alert:growth"]

    for i in range(GROWTH_LIMIT):
        store(f"notes/a{i}", "--agent", "busy")
    assert alerts() == []
    store("notes/a3", "--agent", "busy")  # the limit + 1st
    (alert,) = alerts()
    assert (alert["agent_id"], alert["count"], alert["limit"]) == ("busy", 4, GROWTH_LIMIT)
    store("notes/a4", "--agent", "busy")  # still above: no second alert
    store("notes/a0", "--agent", "busy")  # an update adds nothing
    store("notes/x0", "--agent", "calm")
    assert len(alerts()) == 1

    # back under the limit, then over it again by a restore: alerted again
    assert cli("archive", "notes/a3").exit_code == 0
    assert cli("archive", "notes/a4").exit_code == 0
    mark = last_id()
    assert cli("restore", "notes/a*").exit_code == 0
    (again,) = alerts(mark)
    assert (again["agent_id"], again["count"]) == ("busy", 5)

    # an import that takes another agent past it
    dump = tmp_path / "calm.jsonl"
    for i in range(1, 4):
        store(f"other/x{i}", "--agent", "calm", "--tenant", "t2")
    assert cli("export", "--output", str(dump), "--tenant", "t2").exit_code == 0
    mark = last_id()
    assert cli("import", str(dump)).exit_code == 0
    (imported,) = alerts(mark)
    assert (imported["agent_id"], imported["count"]) == ("calm", 4)


def test_a_job_failing_three_times_in_a_row_is_one_alert(db_path: Path, now: Any) -> None:
    def broken(call: JobCall) -> jobs.Report:
        raise StorageError("disk on fire")

    original = jobs.REGISTRY["prune"]
    jobs.REGISTRY["prune"] = broken
    try:
        db = open_database(db_path, create=True)
        policies = load_policies(Path(str(PACKAGED_POLICIES)))
        clock = SimulatedClock(T0)
        for attempt in range(MAX_FAILURES + 1):  # a new daemon each time: cron's --once
            daemon = Daemon(db, lambda: policies, "default", clock, jobs=("prune",))
            (run,) = daemon.run_once()
            assert run.consecutive_failures == attempt + 1
            clock.sleep(HOUR, lambda: False)
        db.close()
    finally:
        jobs.REGISTRY["prune"] = original
    (alert,) = [e for e in read() if e["event"].startswith("alert:")]
    assert alert["event"] == "alert:job-failing"
    assert (alert["job"], alert["failures"], alert["error"]) == ("prune", 3, "disk on fire")
    assert alert["time"] == iso(T0 + 2 * HOUR)  # the third run's


def test_many_ids_go_as_ranges(db_path: Path) -> None:
    db = open_database(db_path, create=True)
    ids = [*range(1, 1500), 2000, 2001]
    with db.write():
        events.emit(db, events.IMPORTED, "default", T0, count=len(ids), ids=ids)
        events.emit(db, events.ARCHIVED, "default", T0, count=2, ids=[9, 7])
    db.close()
    big, small = read()
    assert big["id_ranges"] == [[1, 1499], [2000, 2001]] and "ids" not in big
    assert small["ids"] == [7, 9]
    table = cli("events").stdout
    assert "ids 1-1499,2000-2001" in table


def test_session_end_archives_the_scratch_as_one_event(backend: Any, now: Any) -> None:
    scratch = sorted([store("session/s1/notes"), store("coordination/s1/lock")])
    mark = last_id()
    done = cli("hook", "session-end", "--session-id", "s1", "--json")
    assert done.exit_code == 0, done.output
    archived = [e for e in new_events(mark) if e["event"] == "memory:archived"]
    assert [(e["ids"], e["reason"]) for e in archived] == [(scratch, "session-end")]


@pytest.mark.postgres
def test_postgresql_event_ids_become_visible_in_commit_order(pg_database: Any) -> None:
    """Identity values are handed out at insert: a writer that inserted an event later
    must not commit it before an earlier one, or a stream resuming after its id would
    skip the earlier one. The second writer waits on the events' advisory lock."""
    first = open_database(pg_database, create=True)
    second = open_database(pg_database, create=True)
    waiter_pid = int(second.scalar("SELECT pg_backend_pid()"))
    done: list[int] = []

    def later() -> None:
        with second.write():
            events.emit(second, events.STORED, "default", T0, count=1, ids=[2])
        done.append(events.last_id(second))

    try:
        with first.write():
            events.emit(first, events.STORED, "default", T0, count=1, ids=[1])
            thread = threading.Thread(target=later)
            thread.start()
            deadline = time.monotonic() + 30
            waiting = None
            while waiting is None and time.monotonic() < deadline:  # until it blocks
                waiting = first.scalar(
                    "SELECT 1 FROM pg_locks WHERE pid = ? AND locktype = 'advisory' "
                    "AND NOT granted",
                    (waiter_pid,),
                )
            assert waiting == 1, "the second writer did not wait for the first to commit"
            assert not done
        thread.join(30)
        kept = first.all("SELECT id, data FROM events ORDER BY id")
        assert [orjson.loads(row[1])["ids"] for row in kept] == [[1], [2]]
    finally:
        first.close()
        second.close()
