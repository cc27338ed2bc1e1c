"""`memctl init`: a project set up in one command, and nothing overwritten on a rerun."""

from pathlib import Path

import orjson
import pytest

from memctl.lifecycle.policies import PACKAGED_POLICIES
from memctl.paths import GITIGNORE
from tests.conftest import cli


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``proj/`` with ``.git/``; the cwd in ``proj/src``; no MEMCTL_DB."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "src").mkdir()
    monkeypatch.delenv("MEMCTL_DB")
    monkeypatch.chdir(root / "src")
    return root


def test_init_sets_the_project_up_from_a_subfolder(project: Path) -> None:
    done = cli("init")
    assert done.exit_code == 0, done.output
    folder = project / ".memctl"
    assert (folder / ".gitignore").read_text() == GITIGNORE
    assert folder.stat().st_mode & 0o777 == 0o700
    assert (project / "policies.yaml").read_text() == PACKAGED_POLICIES.read_text()
    db = folder / "memory.db"
    assert db.is_file() and db.stat().st_mode & 0o777 == 0o600
    assert not (project / "src" / ".memctl").exists()
    assert not (folder / "config.yaml").exists()  # nothing to record
    lines = done.stdout.splitlines()
    assert lines[0] == (f"project {project} (the nearest folder with .git/)")
    assert "  created .memctl/" in lines and "  created policies.yaml" in lines
    assert "next:" in lines
    assert f"  cron / systemd: MEMCTL_DB={db} (scripts/crontab.example)" in lines
    # the maintenance commands, which never create a database, now work
    assert cli("cleanup", "-q").exit_code == 0
    assert cli("stats", "--json").exit_code == 0


def test_a_second_init_keeps_everything(project: Path) -> None:
    assert cli("init").exit_code == 0
    policies = project / "policies.yaml"
    policies.write_text(policies.read_text() + "# edited\n")
    assert cli("store", "notes/a", "1").exit_code == 0
    again = orjson.loads(cli("init", "--json").stdout)
    assert again["created"] == []
    assert sorted(again["kept"]) == [".memctl/", ".memctl/.gitignore", ".memctl/memory.db",
                                     "policies.yaml"]  # fmt: skip
    assert policies.read_text().endswith("# edited\n")
    assert cli("recall", "notes/a").stdout == "1\n"


def test_claude_puts_the_policies_under_claude(project: Path) -> None:
    report = orjson.loads(cli("init", "--claude", "--json").stdout)
    target = project / ".claude" / "memory-retention-policies.yaml"
    assert report["policies"] == str(target)
    assert target.read_text() == PACKAGED_POLICIES.read_text()
    assert not (project / "policies.yaml").exists()


def test_an_existing_policies_file_is_used_not_replaced(project: Path) -> None:
    own = project / ".claude" / "memory-retention-policies.yaml"
    own.parent.mkdir()
    own.write_text("version: 1\n")
    report = orjson.loads(cli("init", "--json").stdout)
    assert report["policies"] == str(own) and "policies.yaml" not in report["created"]
    assert own.read_text() == "version: 1\n"


def test_tenant_and_db_given_to_init_go_to_config_yaml(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = orjson.loads(cli("init", "--tenant", "acme", "--db", "../data/team.db", "--json").stdout)
    config = project / ".memctl" / "config.yaml"
    assert done["config"] == str(config)
    assert done["database"] == str(project / "data" / "team.db")
    text = config.read_text()
    assert "\ndb: data/team.db\n" in text and "\ntenant: acme\n" in text
    assert (project / "data" / "team.db").is_file()
    assert not (project / ".memctl" / "memory.db").exists()
    stored = orjson.loads(cli("store", "notes/a", "1", "--json").stdout)
    assert stored["tenant"] == "acme"
    # MEMCTL_TENANT in the environment is not a choice made for the project
    monkeypatch.setenv("MEMCTL_TENANT", "someone-else")
    rerun = orjson.loads(cli("init", "--json").stdout)
    assert ".memctl/config.yaml" in rerun["kept"]
    assert "tenant: acme" in config.read_text()


def test_project_option_and_a_missing_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.delenv("MEMCTL_DB")
    done = cli("init", "--project", str(elsewhere), "--db", str(elsewhere / "x.db"))
    assert done.exit_code == 0, done.output
    assert (elsewhere / ".memctl" / ".gitignore").is_file()
    missing = cli("init", "--project", str(tmp_path / "nope"))
    assert missing.exit_code == 2
    assert "does not exist" in missing.stderr
