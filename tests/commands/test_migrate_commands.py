"""``memctl migrate status|up|down`` and what every command does with a newer schema."""

from pathlib import Path

import orjson
import pytest

from memctl.store.db import DRIVER, connect
from memctl.store.migrations import LATEST
from tests.conftest import cli, run
from tests.store import migration_data as data


def snapshots(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.bak"))


def test_status_of_a_missing_database_creates_nothing(db_path: Path) -> None:
    result = cli("migrate", "status", "--json")
    assert result.exit_code == 0, result.stderr
    doc = orjson.loads(result.stdout)
    assert (doc["database"], doc["current"], doc["latest"]) == (str(db_path), 0, LATEST)
    assert doc["pending"] == list(range(1, LATEST + 1))
    assert not db_path.exists()
    text = cli("migrate", "status").stdout
    assert f"schema    0 of {LATEST}: {LATEST} pending" in text
    assert "m003_binary_quantized_index" in text and "pending" in text


def test_up_dry_run_then_up_with_a_snapshot(db_path: Path) -> None:
    data.create(db_path, 1).close()
    before = data.dump(connect(db_path))

    plan = cli("migrate", "up", "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    lines = plan.stdout.splitlines()
    assert lines[0] == f"dry run: schema 1 -> {LATEST} (nothing changed)"
    assert lines[1].startswith("up     2  m002_embedding_backlog_index: index on")
    assert lines[-1].startswith(f"a snapshot would be written first: {db_path}.schema-1.")
    assert data.dump(connect(db_path)) == before and snapshots(db_path.parent) == []

    done = cli("migrate", "up", "--to", "3", "--json")
    assert done.exit_code == 0, done.stderr
    doc = orjson.loads(done.stdout)
    (snap,) = snapshots(db_path.parent)
    assert (doc["from"], doc["to"], doc["applied"], doc["snapshot"]) == (1, 3, True, str(snap))
    assert connect(snap).scalar("PRAGMA journal_mode") == "wal"  # restorable as it is
    assert [(s["version"], s["direction"], s["rewrites"]) for s in doc["steps"]] == [
        (2, "up", False),
        (3, "up", True),
    ]
    rest = cli("migrate", "up")
    assert rest.stdout.splitlines()[0].startswith(f"snapshot of schema 3: {db_path}.schema-3.")
    assert rest.stdout.splitlines()[-1] == f"schema 3 -> {LATEST}"
    assert cli("migrate", "up").stdout == f"already at schema {LATEST}: nothing to do\n"


def test_down_says_what_it_keeps_and_drops_and_needs_force_to_drop(db_path: Path) -> None:
    data.create(db_path, LATEST).close()
    plan = cli("migrate", "down", "--to", "2", "--dry-run", "--json")
    assert plan.exit_code == 0, plan.stderr
    steps = orjson.loads(plan.stdout)["steps"]
    assert [(s["version"], s["direction"], s["drops"]) for s in steps] == [
        (5, "down", {"API tokens": 2, "events": 3}),
        (4, "down", {}),
        (3, "down", {}),
    ]
    first = cli("migrate", "down", "--to", "2")
    assert first.exit_code == 2 and "would drop API tokens: 2, events: 3;" in first.stderr
    assert snapshots(db_path.parent) == []
    done = cli("migrate", "down", "--to", "2", "--force")
    assert done.exit_code == 0, done.stderr
    assert "drops API tokens: 2, events: 3" in done.stdout
    assert "keeps every row" in done.stdout and f"schema {LATEST} -> 2" in done.stdout
    assert connect(db_path).scalar("PRAGMA user_version") == 2

    refused = cli("migrate", "down", "--to", "0")
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr == (
        "memctl migrate down: error: migrating down to schema 0 would drop memories: 8, "
        "archived memories: 3, vectors: 9, lifecycle log rows: 3, snapshot rows: 2; rerun "
        "with --force to drop them (a snapshot is written first)\n"
    )
    assert connect(db_path).scalar("PRAGMA user_version") == 2
    assert len(snapshots(db_path.parent)) == 1  # the one of the first down, not another

    forced = cli("migrate", "down", "--to", "0", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert "drops memories: 8, archived memories: 3, vectors: 9" in forced.stdout
    assert connect(db_path).scalar("PRAGMA user_version") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "--to", "2"], f"the database is at schema {LATEST}, above 2: use `memctl mig"),
        (["up", "--to", "9"], f"no schema version 9: this memctl knows 0 to {LATEST}"),
        (["down", "--to", "-1"], f"no schema version -1: this memctl knows 0 to {LATEST}"),
    ],
)
def test_bad_targets_are_one_line_and_exit_2(db_path: Path, args: list[str], message: str) -> None:
    data.create(db_path, LATEST).close()
    result = cli("migrate", *args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") <= 2
    assert connect(db_path).scalar("PRAGMA user_version") == LATEST


def test_down_without_a_target_is_a_usage_error(db_path: Path) -> None:
    done = run("migrate", "down")
    assert done.returncode == 2
    assert done.stderr == ("memctl migrate down: error: Missing option '--to'. (see --help)\n")


def test_a_command_that_upgrades_the_database_says_so_on_stderr(db_path: Path) -> None:
    data.create(db_path, 3).close()
    result = cli("list", "--tenant", "acme", "--json")
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout)  # stdout is still one JSON document
    (snap,) = snapshots(db_path.parent)
    assert result.stderr == (
        f"memctl: upgraded the database schema from 3 to {LATEST}; snapshot of schema 3: "
        f"{snap} (`memctl migrate status`)\n"
    )
    assert cli("list", "--tenant", "acme").stderr == ""


NEWER_COMMANDS = [
    ["store", "a/b", "1"],
    ["recall", "a/b"],
    ["list"],
    ["delete", "a/b"],
    ["search", "anything"],
    ["cleanup"],
    ["decay"],
    ["prune"],
    ["archive", "a/*"],
    ["restore", "a/b"],
    ["compact"],
    ["promote"],
    ["stats"],
    ["export"],
    ["daemon", "--once"],
    ["migrate", "up"],
    ["migrate", "down", "--to", "1"],
]


@pytest.mark.parametrize("args", NEWER_COMMANDS, ids=lambda a: " ".join(a))
def test_every_command_refuses_a_newer_schema_in_one_line(db_path: Path, args: list[str]) -> None:
    data.create(db_path, LATEST).close()
    conn = DRIVER.connect(str(db_path))
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    size = db_path.stat().st_size
    result = cli(*args)
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"has schema version {LATEST + 1}, newer than this memctl knows ({LATEST})" in (
        result.stderr
    )
    assert f"`memctl migrate down --to {LATEST}`" in result.stderr
    assert db_path.stat().st_size == size


def test_status_explains_a_newer_schema(db_path: Path) -> None:
    data.create(db_path, LATEST).close()
    conn = DRIVER.connect(str(db_path))
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    result = cli("migrate", "status")
    assert result.exit_code == 0
    assert f"schema    {LATEST + 1}, newer than this memctl knows ({LATEST})" in result.stdout
