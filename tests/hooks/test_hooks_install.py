"""`memctl hooks install|uninstall` and the shipped scripts (settings snippet, cron, systemd)."""

from pathlib import Path
from typing import Any

import orjson
import pytest

from memctl.hooks.claude_settings import memctl_hook_name
from tests.conftest import cli

SCRIPTS = Path(__file__).resolve().parent.parent.parent / "scripts"
OTHERS = {
    "model": "claude-sonnet-4-5",
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}
        ],
        "SessionEnd": [{"hooks": [{"type": "command", "command": "notify-send bye"}]}],
    },
}


def settings_file(tmp_path: Path) -> Path:
    return tmp_path / ".claude" / "settings.json"


def read(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def memctl_commands(settings: dict[str, Any]) -> list[str]:
    return [
        entry["command"]
        for groups in settings.get("hooks", {}).values()
        for group in groups
        for entry in group["hooks"]
        if memctl_hook_name(entry)
    ]


def test_print_matches_the_shipped_snippet() -> None:
    done = cli("hooks", "install", "--print")
    assert done.exit_code == 0
    assert orjson.loads(done.stdout) == read(SCRIPTS / "claude-settings.json")
    snippet = orjson.loads(done.stdout)["hooks"]
    assert snippet["SessionEnd"][0]["hooks"][0] == {
        "type": "command",
        "command": "memctl hook session-end",
        "timeout": 5,
    }
    assert snippet["UserPromptSubmit"][0]["hooks"][0]["command"] == "memctl hook pre-task"


def test_install_creates_the_file(tmp_path: Path) -> None:
    done = cli("hooks", "install", "--json")
    assert done.exit_code == 0, done.output
    result = orjson.loads(done.stdout)
    assert (result["action"], result["backup"]) == ("created", None)
    assert read(settings_file(tmp_path)) == read(SCRIPTS / "claude-settings.json")


def test_install_merges_backs_up_and_is_idempotent(tmp_path: Path) -> None:
    path = settings_file(tmp_path)
    path.parent.mkdir()
    path.write_bytes(orjson.dumps(OTHERS))
    first = orjson.loads(cli("hooks", "install", "--json").stdout)
    assert first["action"] == "updated"
    backup = Path(first["backup"])
    assert read(backup) == OTHERS
    assert backup.stat().st_mode & 0o777 == 0o600
    merged = read(path)
    assert merged["model"] == "claude-sonnet-4-5"
    assert merged["hooks"]["PreToolUse"] == OTHERS["hooks"]["PreToolUse"]
    assert merged["hooks"]["SessionEnd"][0] == OTHERS["hooks"]["SessionEnd"][0]
    assert sorted(memctl_commands(merged)) == [
        "memctl hook post-task",
        "memctl hook pre-compact",
        "memctl hook pre-task",
        "memctl hook session-end",
        "memctl hook session-start",
    ]
    again = orjson.loads(cli("hooks", "install", "--json").stdout)
    assert (again["action"], again["backup"]) == ("unchanged", None)
    assert read(path) == merged
    # a different executable replaces memctl's entries instead of adding more
    custom = cli("hooks", "install", "--command", "/opt/memctl/bin/memctl", "--json")
    assert custom.exit_code == 0
    assert sorted(memctl_commands(read(path))) == [
        "/opt/memctl/bin/memctl hook post-task",
        "/opt/memctl/bin/memctl hook pre-compact",
        "/opt/memctl/bin/memctl hook pre-task",
        "/opt/memctl/bin/memctl hook session-end",
        "/opt/memctl/bin/memctl hook session-start",
    ]


def test_backups_go_to_memctl_backups_and_only_the_newest_five_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = settings_file(tmp_path)
    path.parent.mkdir()
    path.write_bytes(orjson.dumps(OTHERS))
    made = []
    for day in range(1, 8):  # install / uninstall alternate: each one changes the file
        monkeypatch.setenv("MEMCTL_NOW", f"2026-01-0{day}T10:00:00Z")
        step = "install" if day % 2 else "uninstall"
        made.append(Path(orjson.loads(cli("hooks", step, "--json").stdout)["backup"]))
    folder = tmp_path / ".memctl" / "backups"
    assert {backup.parent for backup in made} == {folder}
    assert sorted(folder.iterdir()) == made[-5:]
    assert made[-1].name == "settings.json.memctl-20260107T100000Z.bak"
    assert (tmp_path / ".memctl" / ".gitignore").is_file()
    assert list(path.parent.glob("*.bak")) == []


def test_uninstall_removes_only_memctl(tmp_path: Path) -> None:
    path = settings_file(tmp_path)
    path.parent.mkdir()
    path.write_bytes(orjson.dumps(OTHERS))
    cli("hooks", "install")
    done = cli("hooks", "uninstall", "--json")
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.stdout)["removed"] == 5
    assert read(path) == OTHERS
    assert orjson.loads(cli("hooks", "uninstall", "--json").stdout)["action"] == "unchanged"


def test_events_choose_the_hooks_and_a_new_choice_replaces_the_old(tmp_path: Path) -> None:
    path = settings_file(tmp_path)
    path.parent.mkdir()
    manual = {"type": "command", "command": "memctl hook memory-cleanup --force"}
    path.write_bytes(orjson.dumps({"hooks": {"Stop": [{"hooks": [manual]}]}}))
    done = cli("hooks", "install", "--events", "sessionstart, pre-task,SessionEnd", "--json")
    assert done.exit_code == 0, done.output
    assert orjson.loads(done.stdout)["events"] == ["SessionStart", "UserPromptSubmit", "SessionEnd"]
    hooks = read(path)["hooks"]
    assert set(hooks) == {"SessionStart", "UserPromptSubmit", "SessionEnd", "Stop"}
    assert hooks["SessionStart"][0]["hooks"][0]["command"] == "memctl hook session-start"
    assert hooks["Stop"] == [{"hooks": [manual]}]  # added by hand: not install's to remove
    narrower = cli("hooks", "install", "--events", "PreCompact", "--json")
    assert orjson.loads(narrower.stdout)["action"] == "updated"
    assert sorted(memctl_commands(read(path))) == [
        "memctl hook memory-cleanup --force",
        "memctl hook pre-compact",
    ]
    snippet = orjson.loads(cli("hooks", "install", "--print", "--events", "Stop").stdout)
    assert list(snippet["hooks"]) == ["Stop"]
    for bad in ("Nope", ",", ""):
        refused = cli("hooks", "install", "--events", bad)
        assert refused.exit_code == 2 and "--events" in refused.stderr
    assert orjson.loads(cli("hooks", "uninstall", "--json").stdout)["removed"] == 2
    assert read(path) == {}


def test_uninstall_of_a_memctl_only_file_leaves_an_empty_object(tmp_path: Path) -> None:
    cli("hooks", "install")
    cli("hooks", "uninstall")
    assert read(settings_file(tmp_path)) == {}


def test_bad_settings_file_is_refused_unchanged(tmp_path: Path) -> None:
    path = settings_file(tmp_path)
    path.parent.mkdir()
    path.write_text('{"hooks": [1, 2]}')
    done = cli("hooks", "install")
    assert done.exit_code == 2
    assert "hooks" in done.output
    path.write_text("{not json")
    assert cli("hooks", "install").exit_code == 2
    assert path.read_text() == "{not json"
    assert list(path.parent.iterdir()) == [path]


def test_project_and_file_options(tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    project.mkdir()
    assert cli("hooks", "install", "--project", str(project)).exit_code == 0
    assert (project / ".claude" / "settings.json").exists()
    local = tmp_path / "settings.local.json"
    assert cli("hooks", "install", "--file", str(local)).exit_code == 0
    assert memctl_commands(read(local))
