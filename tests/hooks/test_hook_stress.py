"""Hook processes writing at once while session ends and a daemon run join in: no
error, no lost write. The same run as scripts/stress_hooks.py, at a size that proves the
behaviour (real processes contending for one database) in a few seconds; the full
16 x 200 run and its figures are in the README."""

import sys
from pathlib import Path

from memctl.store import open_database
from tests.conftest import SRC
from tests.lifecycle.lifecycle_support import invariants

sys.path.insert(0, str(SRC.parent / "scripts"))
import stress_hooks


def test_hook_processes_and_a_daemon_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    result = stress_hooks.run_stress(
        tmp_path / "stress", workers=6, writes=15, singles=4, sessions=2
    )
    assert result.problems == []
    assert result.total_writes == 6 * 15 + 4
    db = open_database(tmp_path / "stress" / "memory.db", create=False)
    try:
        invariants(db)  # active xor archived; indexes agree; marked embedded = has a vector
    finally:
        db.close()
