"""``memctl hooks install|uninstall --mcp``: add memctl's MCP server to a project's
``.mcp.json`` (Claude Code's project-scoped MCP servers) and take it out again
(docs/mcp.md).

The entry is ``mcpServers.memctl``: ``{"type": "stdio", "command": "memctl", "args":
["mcp"], "env": {}}`` — what ``claude mcp add --scope project memctl -- memctl mcp``
writes. Claude Code starts it in the project, where ``memctl mcp`` finds the project's
database as every command does. Other servers are never touched; an existing
``memctl`` entry that does not run ``memctl mcp`` is someone else's and is refused
rather than replaced; installing again brings memctl's entry back to the above, keeping
its ``env`` (where ``MEMCTL_TENANT`` may be set). Files are backed up and written as
``.claude/settings.json`` is (``claude_settings``: backups of mode 0600 in the
project's git-ignored ``.memctl/backups/``, atomic replace).
"""

import itertools
import os
import shlex
from pathlib import Path
from typing import Any

from memctl.errors import BadInput
from memctl.hooks.claude_settings import backup, load, render, write_atomic

SERVER_NAME = "memctl"


def server_entry(executable: str = "memctl") -> dict[str, Any]:
    """memctl's stdio server entry; ``executable`` may carry arguments ("uv run memctl")."""
    try:
        words = shlex.split(executable)
    except ValueError as exc:
        raise BadInput(f"--command {executable!r}: {exc}") from None
    if not words:
        raise BadInput("--command must name the memctl executable")
    return {"type": "stdio", "command": words[0], "args": [*words[1:], "mcp"], "env": {}}


def snippet(executable: str = "memctl") -> dict[str, Any]:
    """What ``--print`` shows: a whole ``.mcp.json`` with memctl's server."""
    return {"mcpServers": {SERVER_NAME: server_entry(executable)}}


def is_ours(entry: Any) -> bool:
    """Whether an ``mcpServers`` entry runs ``memctl mcp`` (with any launcher before it,
    any options after it)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
        return False
    args = entry.get("args", [])
    if not isinstance(args, list):
        return False
    words = [entry["command"], *(str(arg) for arg in args)]
    return any(
        os.path.basename(word).removesuffix(".exe") == "memctl" and following == "mcp"
        for word, following in itertools.pairwise(words)
    )


def _servers(config: dict[str, Any], path: Path) -> dict[str, Any]:
    servers = config.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise BadInput(f"{path}: 'mcpServers' is not a JSON object; fix the file first")
    return servers


def install(path: Path, executable: str, now: float) -> dict[str, Any]:
    """Add (or bring up to date) memctl's server in ``path``; what happened."""
    wanted = server_entry(executable)
    current = load(path)
    config = dict(current or {})
    servers = dict(_servers(config, path))
    existing = servers.get(SERVER_NAME)
    if existing is not None and not is_ours(existing):
        raise BadInput(
            f"{path}: mcpServers.{SERVER_NAME} exists and does not run 'memctl mcp'; "
            "nothing changed (rename or remove it first)"
        )
    if existing is not None and isinstance(existing.get("env"), dict):
        wanted["env"] = existing["env"]  # where a user sets MEMCTL_TENANT: kept
    result = {"file": str(path), "server": SERVER_NAME, "backup": None}
    if existing == wanted:
        return {"action": "unchanged", **result}
    servers[SERVER_NAME] = wanted
    config["mcpServers"] = servers
    saved = backup(path, now) if current is not None else None
    write_atomic(path, render(config))
    return {
        "action": "created" if current is None else "updated",
        **result,
        "backup": None if saved is None else str(saved),
    }


def uninstall(path: Path, now: float) -> dict[str, Any]:
    """Take memctl's server (only it) out of ``path``; what happened."""
    current = load(path)
    result: dict[str, Any] = {"file": str(path), "server": SERVER_NAME, "backup": None}
    servers = None if current is None else current.get("mcpServers")
    if not isinstance(servers, dict) or not is_ours(servers.get(SERVER_NAME)):
        return {"action": "unchanged", **result}
    assert current is not None
    config = {**current, "mcpServers": {k: v for k, v in servers.items() if k != SERVER_NAME}}
    saved = backup(path, now)
    write_atomic(path, render(config))
    return {"action": "updated", **result, "backup": str(saved)}
