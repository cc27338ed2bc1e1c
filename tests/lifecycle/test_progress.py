"""Progress of the lifecycle jobs: reported per write batch through a callback (the
lifecycle layer prints nothing), drawn as a bar only on a terminal."""

from pathlib import Path

import pytest
from lifecycle_support import DAY, HOUR, T0, open_db, policies_from, put

from memctl.lifecycle.decay import decay
from memctl.lifecycle.expiry import cleanup
from memctl.lifecycle.prune import prune
from tests.conftest import run
from tests.terminal import on_terminal

POLICIES = """
version: 1
defaults: {ttl_seconds: 0, cleanup_strategy: scheduled, archive_retention_days: 1}
namespaces:
  - {namespace: "scratch/*", ttl_seconds: 600}
  - {namespace: "notes/*", max_entries: 3}
"""


class Recorder:
    def __init__(self) -> None:
        self.phases: list[tuple[str, int]] = []
        self.steps: list[int] = []

    def start(self, total: int, what: str) -> None:
        self.phases.append((what, total))

    def advance(self, count: int) -> None:
        self.steps.append(count)


@pytest.fixture
def seeded(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    policy_file = db_path.parent / "policies.yaml"
    policy_file.write_text(POLICIES)
    monkeypatch.setenv("MEMCTL_POLICIES", str(policy_file))
    monkeypatch.setenv("MEMCTL_LIFECYCLE_BATCH", "4")  # several batches from a few rows
    policies = policies_from(POLICIES)
    db = open_db(db_path)
    try:
        for i in range(10):
            put(db, policies, T0, f"scratch/s{i}", "tmp")
            put(db, policies, T0 - 40 * DAY, f"notes/n{i}", "note", importance=2)
    finally:
        db.close()
    return db_path


def test_cleanup_reports_each_batch(seeded: Path) -> None:
    bar = Recorder()
    db = open_db(seeded)
    try:
        report = cleanup(db, policies_from(POLICIES), T0 + HOUR, None, progress=bar)
    finally:
        db.close()
    assert report.count == 10
    assert bar.phases == [("cleaning up", 10)]
    assert bar.steps == [4, 4, 2]


def test_decay_reports_the_id_span(seeded: Path) -> None:
    bar = Recorder()
    db = open_db(seeded)
    try:
        decay(db, policies_from(POLICIES), T0 + 20 * DAY, None, progress=bar)
    finally:
        db.close()
    assert bar.phases == [("decaying (ids)", 20)]
    assert sum(bar.steps) == 20 and len(bar.steps) == 5


def test_prune_reports_both_phases_and_a_dry_run_nothing(seeded: Path) -> None:
    policies = policies_from(POLICIES)
    db = open_db(seeded)
    try:
        dry = Recorder()
        prune(db, policies, T0, None, dry_run=True, progress=dry)
        assert dry.phases == [] and dry.steps == []
        cleanup(db, policies, T0 + HOUR, None)  # 10 scratch memories to the archive
        bar = Recorder()
        report = prune(db, policies, T0 + 3 * DAY, None, progress=bar)
    finally:
        db.close()
    assert report.archived == 7 and report.purged == 10
    assert bar.phases == [("pruning: archiving", 7), ("pruning: purging archives", 10)]
    assert sum(bar.steps) == 17


@pytest.mark.parametrize(
    ("command", "label"),
    [("cleanup", "cleaning up"), ("decay", "decaying"), ("prune", "pruning")],
)
def test_bar_only_on_a_terminal(seeded: Path, command: str, label: str) -> None:
    clock = {"MEMCTL_NOW": str(T0 + 3 * DAY)}
    code, terminal, _ = on_terminal(command, stream="stderr", env=clock)
    assert code == 0 and label in terminal
    for quiet in ("-q", "--json"):
        code, terminal, _ = on_terminal(command, quiet, stream="stderr", env=clock)
        assert code == 0 and label not in terminal
    piped = run(command, env=clock)
    assert piped.returncode == 0 and piped.stderr == ""  # cron, pipes: no bar
