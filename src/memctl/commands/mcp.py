"""mcp: memctl's memory as MCP tools on stdio (docs/mcp.md)."""

import typer

from memctl.commands.common import Settings, command

app = typer.Typer()


@command(app, "mcp")
def mcp_cmd(settings: Settings) -> None:
    """Serve memory_store, memory_recall, memory_search, memory_list, memory_forget,
    memory_restore and memory_stats as MCP tools on stdin/stdout, for Claude Code and
    any MCP client; the database and tenant are resolved as for every command. Add it
    to a project with `memctl hooks install --mcp`; --json and -q do not apply.

    Example: claude mcp add --scope project memctl -- memctl mcp
    """
    from memctl.api.context import Contexts
    from memctl.server.mcp_tools import serve_stdio

    contexts = Contexts(settings.tenant, settings.db_path, settings.policies_path)
    serve_stdio(lambda _request: contexts())
