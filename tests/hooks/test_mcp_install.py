"""`memctl hooks install|uninstall --mcp`: memctl's MCP server in the project's .mcp.json."""

from pathlib import Path
from typing import Any

import orjson

from tests.conftest import cli

OURS = {"type": "stdio", "command": "memctl", "args": ["mcp"], "env": {}}
OTHERS = {
    "mcpServers": {
        "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"]},
        "docs": {"type": "http", "url": "https://example.com/mcp"},
    },
    "comment": "kept",
}


def backups(project: Path) -> list[Path]:
    """Backups of the project's .mcp.json: in .memctl/backups/, git-ignored (never
    beside a file that is usually committed)."""
    assert not list(project.glob(".mcp.json.memctl-*.bak"))
    return sorted((project / ".memctl" / "backups").glob(".mcp.json.memctl-*.bak"))


def read(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def run(*args: str) -> Any:
    done = cli("hooks", *args, "--json")
    assert done.exit_code == 0, done.output
    return orjson.loads(done.stdout)


def test_print_shows_the_entry_claude_mcp_add_writes(tmp_path: Path) -> None:
    done = cli("hooks", "install", "--mcp", "--print")
    assert done.exit_code == 0
    assert orjson.loads(done.stdout) == {"mcpServers": {"memctl": OURS}}
    launcher = cli("hooks", "install", "--mcp", "--print", "--command", "uv run memctl")
    entry = orjson.loads(launcher.stdout)["mcpServers"]["memctl"]
    assert (entry["command"], entry["args"]) == ("uv", ["run", "memctl", "mcp"])
    assert not (tmp_path / ".mcp.json").exists()


def test_install_creates_merges_backs_up_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    created = run("install", "--mcp")
    assert (created["action"], created["backup"], created["file"]) == ("created", None, str(path))
    assert read(path) == {"mcpServers": {"memctl": OURS}}
    assert run("install", "--mcp")["action"] == "unchanged"
    assert backups(tmp_path) == []

    path.write_bytes(orjson.dumps(OTHERS))
    merged = run("install", "--mcp")
    assert merged["action"] == "updated"
    assert backups(tmp_path) == [Path(merged["backup"])]
    assert read(Path(merged["backup"])) == OTHERS
    assert Path(merged["backup"]).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".memctl" / ".gitignore").exists()
    assert read(path) == {**OTHERS, "mcpServers": {**OTHERS["mcpServers"], "memctl": OURS}}
    # the hooks file is another file: --mcp leaves .claude/settings.json alone
    assert not (tmp_path / ".claude" / "settings.json").exists()


def test_reinstall_keeps_the_env_a_user_set(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    tuned = {**OURS, "args": ["mcp", "--db", "old.db"], "env": {"MEMCTL_TENANT": "team-a"}}
    path.write_bytes(orjson.dumps({"mcpServers": {"memctl": tuned}}))
    assert run("install", "--mcp")["action"] == "updated"
    assert read(path)["mcpServers"]["memctl"] == {**OURS, "env": {"MEMCTL_TENANT": "team-a"}}


def test_uninstall_removes_only_ours(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    path.write_bytes(orjson.dumps(OTHERS))
    run("install", "--mcp")
    removed = run("uninstall", "--mcp")
    assert removed["action"] == "updated" and Path(removed["backup"]) in backups(tmp_path)
    assert read(path) == OTHERS
    assert run("uninstall", "--mcp")["action"] == "unchanged"


def test_someone_elses_memctl_server_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    theirs = {"mcpServers": {"memctl": {"command": "node", "args": ["memctl-bridge.js"]}}}
    path.write_bytes(orjson.dumps(theirs))
    refused = cli("hooks", "install", "--mcp")
    assert refused.exit_code == 2 and "does not run 'memctl mcp'" in refused.stderr
    assert run("uninstall", "--mcp")["action"] == "unchanged"
    assert read(path) == theirs


def test_bad_files_and_options_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".mcp.json"
    path.write_text("{not json")
    bad = cli("hooks", "install", "--mcp")
    assert bad.exit_code == 2 and "not valid JSON" in bad.stderr
    path.write_text('{"mcpServers": []}')
    assert cli("hooks", "install", "--mcp").exit_code == 2
    assert path.read_text() == '{"mcpServers": []}'
    both = cli("hooks", "install", "--mcp", "--events", "Stop")
    assert both.exit_code == 2 and "give one" in both.stderr
    assert backups(tmp_path) == []


def test_project_and_file_options_choose_the_file(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    assert run("install", "--mcp", "--project", str(project))["file"] == str(project / ".mcp.json")
    elsewhere = tmp_path / "other.json"
    assert run("install", "--mcp", "--file", str(elsewhere))["file"] == str(elsewhere)
    assert read(elsewhere) == {"mcpServers": {"memctl": OURS}}
