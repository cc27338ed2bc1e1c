"""Commands that need a database say so on a project that has none (exit 1) and create
nothing; only the commands that store create it (docs/addressing.md)."""

from pathlib import Path

import pytest

from tests.conftest import cli, run

EXPORT = '{"format": "memctl-export", "version": 1}\n{"namespace": "a", "key": "b", "value": 1}\n'
NEEDS_A_DATABASE = [
    ("cleanup",),
    ("cleanup", "--dry-run"),
    ("decay",),
    ("prune",),
    ("promote",),
    ("compact",),
    ("daemon", "--once"),
    ("reindex",),
    ("recall", "a/b"),
    ("list",),
    ("search", "anything", "--mode", "keyword"),
    ("stats",),
    ("export",),
    ("archive", "a/*"),
    ("restore", "a/b"),
    ("delete", "a/b"),
]


@pytest.mark.parametrize("args", NEEDS_A_DATABASE, ids=" ".join)
def test_says_there_is_no_database_and_creates_none(args: tuple[str, ...], db_path: Path) -> None:
    done = cli(*args, "-q")
    assert done.exit_code == 1, done.output
    assert f"no memctl database at {db_path} (from MEMCTL_DB)" in done.stderr
    assert done.stdout == ""
    assert not db_path.exists()
    assert not Path(".memctl").exists()


def test_a_cron_line_in_the_wrong_folder_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped cron lines run `-q`: the error still reaches stderr, with exit 1."""
    monkeypatch.delenv("MEMCTL_DB")
    (tmp_path / "wrong").mkdir()
    monkeypatch.chdir(tmp_path / "wrong")
    done = run("daemon", "--once", "--all-tenants", "-q")
    assert done.returncode == 1
    assert done.stderr == (
        f"memctl daemon: error: no memctl database at {tmp_path / 'wrong/.memctl/memory.db'} "
        f"(from the project at {tmp_path / 'wrong'} (no .memctl/, .claude/ or .git/ here or "
        "above: the current folder)); run `memctl init` to set this project up, or pass --db\n"
    )
    assert not (tmp_path / "wrong" / ".memctl").exists()


@pytest.mark.parametrize(
    "args",
    [("store", "a/b", "1"), ("import", "in.jsonl"), ("hook", "post-task", "--task-id", "t1")],
    ids=lambda args: args[0],
)
def test_commands_that_store_create_it(args: tuple[str, ...], db_path: Path) -> None:
    Path("in.jsonl").write_text(EXPORT)
    done = cli(*args)
    assert done.exit_code == 0, done.output
    assert db_path.is_file()
    assert db_path.stat().st_mode & 0o777 == 0o600


def test_import_dry_run_creates_nothing(db_path: Path) -> None:
    Path("in.jsonl").write_text(EXPORT)
    done = cli("import", "in.jsonl", "--dry-run")
    assert done.exit_code == 0, done.output
    assert not db_path.exists()
