"""Hook processes writing at once while session ends, a cleanup and two daemon runs join
in, each process with its own HOME (as on different machines): no error, no lost write,
no two runs of a job at once. The same run as scripts/stress_hooks.py, at a size that
proves the behaviour (real processes contending for one database) in a few seconds; the
full 16 x 200 run and its figures are in the README. On both engines: PostgreSQL with 16
writers, as the hub's budget says."""

import sys
from pathlib import Path

from memctl.paths import Location
from memctl.store import open_database
from tests.conftest import SRC
from tests.lifecycle.lifecycle_support import invariants

sys.path.insert(0, str(SRC.parent / "scripts"))
import stress_hooks


def test_hook_processes_and_a_daemon_writing_at_once_lose_nothing(
    tmp_path: Path, backend: Location
) -> None:
    url = None if isinstance(backend, Path) else backend.url
    # PostgreSQL: 16 writers as the hub's test asks, and fewer of the other hooks (each
    # process is ~0.5 s of CPU start-up on 2 cores, 25 processes took 16-21 s)
    workers, writes, singles, sessions = (6, 15, 4, 2) if url is None else (16, 3, 1, 1)
    result = stress_hooks.run_stress(
        tmp_path / "stress",
        workers=workers,
        writes=writes,
        singles=singles,
        sessions=sessions,
        db=url,
    )
    assert result.problems == []
    assert result.total_writes == workers * writes + singles
    db = open_database(url or tmp_path / "stress" / "memory.db", create=False)
    try:
        invariants(db)  # active xor archived; indexes agree; marked embedded = has a vector
    finally:
        db.close()
