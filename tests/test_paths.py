"""One resolver for the project root, its database, config.yaml and tenant
(docs/addressing.md), used the same way by commands and hooks."""

import subprocess
from pathlib import Path

import orjson
import pytest

from memctl.paths import GITIGNORE, project_root, resolve_project
from tests.conftest import cli, run


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``proj/`` with ``.git/`` and ``.claude/``, the cwd in ``proj/src/deep``; no MEMCTL_DB."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / ".claude").mkdir()
    (root / "src" / "deep").mkdir(parents=True)
    monkeypatch.delenv("MEMCTL_DB")
    monkeypatch.chdir(root / "src" / "deep")
    return root


@pytest.mark.parametrize("marker", [".memctl", ".claude", ".git"])
def test_the_root_is_the_nearest_ancestor_with_a_marker(tmp_path: Path, marker: str) -> None:
    (tmp_path / "outer" / ".git").mkdir(parents=True)
    inner = tmp_path / "outer" / "inner"
    (inner / marker).mkdir(parents=True)
    (inner / "a" / "b").mkdir(parents=True)
    assert project_root(inner / "a" / "b") == inner
    assert project_root(inner) == inner
    assert project_root(tmp_path / "outer") == tmp_path / "outer"


def test_without_markers_the_start_folder_is_the_root(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert project_root(tmp_path / "plain") == tmp_path / "plain"


def test_the_home_folders_claude_and_memctl_do_not_make_it_a_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~/.claude is Claude Code's user folder, ~/.memctl memctl's home: a folder under
    home without markers is its own root, not home."""
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    (home / ".memctl").mkdir()
    (home / "notes").mkdir()
    monkeypatch.setenv("HOME", str(home))
    assert project_root(home / "notes") == home / "notes"


def test_store_in_a_subfolder_uses_the_project_database(project: Path) -> None:
    assert cli("store", "knowledge/a", "1").exit_code == 0
    assert (project / ".memctl" / "memory.db").is_file()
    assert not (project / "src" / ".memctl").exists()
    assert not (project / "src" / "deep" / ".memctl").exists()
    stats = orjson.loads(cli("stats", "--json").stdout)
    assert stats["database"]["path"] == str(project / ".memctl" / "memory.db")


def test_a_hook_whose_cwd_is_a_subfolder_uses_the_project_database(project: Path) -> None:
    payload = {
        "session_id": "s1",
        "cwd": str(project / "src"),
        "hook_event_name": "Stop",
        "last_assistant_message": "done",
    }
    done = run("hook", "post-task", "--strict", input=orjson.dumps(payload).decode())
    assert done.returncode == 0, done.stderr
    assert (project / ".memctl" / "memory.db").is_file()
    assert not (project / "src" / ".memctl").exists()
    listed = orjson.loads(cli("list", "episodes/*", "--json").stdout)
    assert listed["count"] == 1


def test_the_memctl_folder_gets_a_gitignore_that_ignores_the_database(project: Path) -> None:
    assert cli("store", "knowledge/a", "1").exit_code == 0
    folder = project / ".memctl"
    assert (folder / ".gitignore").read_text() == GITIGNORE
    (folder / "config.yaml").write_text("tenant: team\n")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    ignored = subprocess.run(
        ["git", "-C", str(project), "check-ignore", "--no-index", "-v",
         ".memctl/memory.db", ".memctl/memory.db-wal", ".memctl/memory.db.daemon.lock",
         ".memctl/backups/settings.json.memctl-20260101T000000Z.bak"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert len(ignored.stdout.splitlines()) == 4, ignored
    kept = subprocess.run(
        ["git", "-C", str(project), "check-ignore", "--no-index", ".memctl/config.yaml",
         ".memctl/.gitignore"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert kept.stdout == ""


def test_config_yaml_names_the_database_and_tenant(project: Path) -> None:
    (project / ".memctl").mkdir()
    (project / ".memctl" / "config.yaml").write_text("db: data/team.db\ntenant: team-a\n")
    assert cli("store", "knowledge/a", "1").exit_code == 0
    assert (project / "data" / "team.db").is_file()
    assert not (project / ".memctl" / "memory.db").exists()
    memory = orjson.loads(cli("recall", "knowledge/a", "--json").stdout)
    assert memory["tenant"] == "team-a"
    assert cli("recall", "knowledge/a", "--tenant", "default").exit_code == 1
    location = resolve_project()
    assert (location.db_source, location.root) == ("config.yaml", project)


def test_db_option_beats_env_beats_config_beats_the_project_rule(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / ".memctl").mkdir()
    (project / ".memctl" / "config.yaml").write_text("db: from-config.db\n")
    assert resolve_project().db == project / "from-config.db"
    monkeypatch.setenv("MEMCTL_DB", str(tmp_path / "env.db"))
    assert resolve_project().db == tmp_path / "env.db"
    assert resolve_project("opt.db").db == project / "src" / "deep" / "opt.db"
    assert resolve_project("opt.db").db_source == "--db"


def test_a_database_named_in_another_project_brings_that_projects_policies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cron runs in $HOME and names the database: the policies come from its project."""
    other = tmp_path / "other"
    (other / ".memctl").mkdir(parents=True)
    (other / "policies.yaml").write_text(
        "version: 1\nnamespaces:\n  - {namespace: 'tmp/*', ttl_seconds: 60}\n"
    )
    monkeypatch.delenv("MEMCTL_DB")
    db = other / ".memctl" / "memory.db"
    shown = orjson.loads(cli("policies", "show", "--db", str(db), "--json").stdout)
    assert shown["source"] == str(other / "policies.yaml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("db: [1]\n", "db: must be a non-empty string"),
        ("colour: red\n", "unknown key 'colour'"),
        ("db: x\n  bad: [\n", "config.yaml:2: not valid YAML"),
    ],
)
def test_a_bad_config_yaml_is_refused(project: Path, text: str, message: str) -> None:
    (project / ".memctl").mkdir()
    (project / ".memctl" / "config.yaml").write_text(text)
    done = cli("store", "knowledge/a", "1")
    assert done.exit_code == 2
    assert message in done.stderr
    assert not (project / ".memctl" / "memory.db").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("db: !!int abc\n", "a value cannot be read"),
        ("tenant: !!timestamp 2020-13-45\n", "a value cannot be read"),
        ("db: !!python/object/apply:os.system ['echo hi']\n", ":1: not valid YAML: could not"),
    ],
)
def test_config_yaml_tags_are_bad_input_not_internal_errors(
    project: Path, text: str, message: str
) -> None:
    (project / ".memctl").mkdir()
    config = project / ".memctl" / "config.yaml"
    config.write_text(text)
    result = cli("list")
    assert result.exit_code == 2, result.stderr
    assert f"{config}" in result.stderr and message in result.stderr
    assert result.stderr.count("\n") == 1
