"""lifecycle.runs: every lifecycle action becomes one log row, failures included; bad
input, dry runs and runs that found nothing leave no row."""

from pathlib import Path

import pytest

from memctl.errors import BadInput, NotFound, StorageError
from memctl.lifecycle.batching import move_in_batches
from memctl.lifecycle.runs import logged_run, recent
from memctl.store import open_database
from memctl.store.db import Database

T0 = 1_800_000_000.0


@pytest.fixture
def db(db_path: Path) -> Database:
    return open_database(db_path, create=True)


def test_a_run_is_one_row_with_its_count_details_and_duration(db: Database) -> None:
    with logged_run(db, "archived", tenant="t", now=T0, details={"trigger": "x"}) as run:
        run.count = 3
        run.details["more"] = 1
    (row,) = recent(db)
    assert (row["action"], row["tenant"], row["started_at"], row["count"]) == (
        "archived",
        "t",
        T0,
        3,
    )
    assert row["outcome"] == "ok" and row["error"] is None
    assert row["details"] == {"trigger": "x", "more": 1}
    assert row["duration_ms"] == pytest.approx(run.duration_ms, abs=1e-3)


def test_a_failure_is_logged_and_raised(db: Database) -> None:
    with pytest.raises(StorageError), logged_run(db, "pruned", tenant=None, now=T0) as run:
        run.count = 5
        raise StorageError("disk full")
    (row,) = recent(db)
    assert (row["action"], row["outcome"], row["error"], row["count"]) == (
        "pruned",
        "error",
        "disk full",
        5,
    )


@pytest.mark.parametrize("error", [BadInput("bad"), NotFound("gone")])
def test_bad_input_and_not_found_change_nothing(db: Database, error: Exception) -> None:
    with pytest.raises(type(error)), logged_run(db, "restored", tenant=None, now=T0):
        raise error
    assert recent(db) == []


def test_dry_runs_and_skipped_runs_leave_no_row(db: Database) -> None:
    with logged_run(db, "expired", tenant=None, now=T0, record=False) as run:
        run.count = 2
    with logged_run(db, "archived", tenant=None, now=T0) as run:
        run.skip()
    assert recent(db) == []


def test_a_run_inside_a_write_commits_or_rolls_back_with_it(db: Database) -> None:
    with pytest.raises(RuntimeError), db.write():
        with logged_run(db, "deleted", tenant=None, now=T0):
            pass
        raise RuntimeError("the work failed after the run")
    assert recent(db) == []
    with db.write(), logged_run(db, "deleted", tenant=None, now=T0):
        pass
    assert [r["action"] for r in recent(db)] == ["deleted"]


def test_move_in_batches_moves_each_batch_in_its_own_write(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCTL_LIFECYCLE_BATCH", "2")
    seen: list[list[int]] = []

    def move(batch: list[int]) -> list[int]:
        assert db.conn.in_transaction  # inside the batch's write transaction
        seen.append(list(batch))
        return [i for i in batch if i % 2]

    moved = [i for done in move_in_batches(db, [1, 2, 3, 4, 5], move) for i in done]
    assert seen == [[1, 2], [3, 4], [5]]
    assert moved == [1, 3, 5]
    assert not db.conn.in_transaction
    dry = list(move_in_batches(db, [1, 2, 3], move, dry_run=True))
    assert dry == [[1, 2, 3]] and len(seen) == 3  # a dry run calls nothing


def test_a_job_that_fails_midway_shows_as_an_error_in_the_log(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cleanup, decay, prune, archive... all log their failures now, not only promote
    and snapshot: ``stats`` shows a failing job whichever it is."""
    from memctl.lifecycle import expiry
    from memctl.lifecycle.memories import StoreRequest, store
    from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
    from memctl.store import moves

    policies = load_policies(PACKAGED_POLICIES)
    store(db, policies, T0, StoreRequest("default", "scratch", "a", 1, ttl_seconds=10))

    def broken(*args: object, **kwargs: object) -> int:
        raise StorageError("database is locked")

    monkeypatch.setattr(moves, "archive", broken)
    with pytest.raises(StorageError):
        expiry.cleanup(db, policies, T0 + 60, "default")
    (row,) = recent(db)
    assert (row["action"], row["outcome"], row["error"]) == (
        "expired",
        "error",
        "database is locked",
    )
