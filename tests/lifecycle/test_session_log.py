"""The session task log (lifecycle/session_summary.py): past MAX_TASKS it drops its oldest
tasks in steps, so its start, which is all its vector is made of, stays put between
steps (a server then reuses the vector instead of embedding the log after every prompt)."""

from pathlib import Path

from memctl.lifecycle.session_summary import KEPT_TASKS, MAX_TASKS, note_task_started
from memctl.store import memories
from tests.lifecycle.lifecycle_support import open_db, packaged

T0 = 1_800_000_000.0


def test_the_task_log_drops_its_oldest_tasks_in_steps(db_path: Path) -> None:
    db = open_db(db_path)
    policies = packaged()

    def prompt(n: int) -> list[str]:
        note_task_started(db, policies, T0 + n, "default", "s-1", f"t{n}", f"task number {n}")
        log = memories.get(db, "default", "session", "s-1/tasks")
        assert log is not None
        return [task["task_id"] for task in log.value["tasks"]]

    try:
        for n in range(MAX_TASKS):
            ids = prompt(n)
        assert ids == [f"t{n}" for n in range(MAX_TASKS)]
        ids = prompt(MAX_TASKS)  # one past: down to KEPT_TASKS, the newest last
        assert ids == [f"t{n}" for n in range(MAX_TASKS + 1 - KEPT_TASKS, MAX_TASKS + 1)]
        first = ids[0]
        for n in range(MAX_TASKS + 1, MAX_TASKS + 1 + MAX_TASKS - KEPT_TASKS):
            ids = prompt(n)
            assert ids[0] == first and ids[-1] == f"t{n}"  # the start stays put
        assert len(ids) == MAX_TASKS
        assert prompt(2 * MAX_TASKS)[0] != first  # the next step
    finally:
        db.close()
