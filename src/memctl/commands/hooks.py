"""``memctl hook session-end|pre-task|post-task|memory-cleanup`` (what Claude Code and
claude-flow shell out to) and ``memctl hooks install|uninstall`` (docs/hooks.md).

The hook commands parse their own arguments (``memctl.hooks.input``): claude-flow passes
flags memctl does not know, and a usage error must never break the agent's session.
"""

from pathlib import Path
from typing import Annotated

import typer

from memctl.commands.common import Settings, command

app = typer.Typer()
hook_app = typer.Typer(
    help="Hooks for Claude Code and claude-flow (stdin JSON or --flags; never fail).",
    no_args_is_help=True,
)
hooks_app = typer.Typer(
    help="Install memctl's hooks into Claude Code's .claude/settings.json (--mcp: its MCP "
    "server into .mcp.json).",
    no_args_is_help=True,
)
groups = [("hook", hook_app), ("hooks", hooks_app)]

_FREE_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
_COMMON_FLAGS = (
    "Flags: --session-id, --agent-id, --db, --policies, --tenant, --json, --strict (exit "
    "non-zero on error), -q, --no-stdin; unknown flags are ignored, 'true'/'false' are booleans."
)


def _run(name: str, ctx: typer.Context) -> None:
    from memctl.hooks.runner import run_hook

    raise typer.Exit(run_hook(name, list(ctx.args)))


@hook_app.command("session-start", context_settings=_FREE_ARGS)
def session_start_cmd(ctx: typer.Context) -> None:
    """Print context for a starting session as Claude Code's additionalContext JSON: the
    session summary that applies (this session's after a compaction or resume, else the
    latest) and the memories relevant to its tasks, by pre-task's rule; --format text
    for plain text, --format memctl for scored hits; --description to choose the topic.

    Input: Claude Code's SessionStart JSON on stdin (source startup|resume|clear|compact).

    Example: memctl hook session-start --description "auth token refresh" --format text
    """
    _run("session-start", ctx)


@hook_app.command("pre-compact", context_settings=_FREE_ARGS)
def pre_compact_cmd(ctx: typer.Context) -> None:
    """Keep the session's summary (its tasks with their outcomes, its scratch memories)
    as session-summaries/<id> before Claude Code compacts the context; archives nothing.

    Input: Claude Code's PreCompact JSON on stdin, or --session-id.

    Example: memctl hook pre-compact --session-id 3f2c9a7e --json
    """
    _run("pre-compact", ctx)


@hook_app.command("session-end", context_settings=_FREE_ARGS)
def session_end_cmd(ctx: typer.Context) -> None:
    """Archive the session's scratch memories (session/<id>, coordination/<id>/*), expire
    stale coordination data, store session-summaries/<id> (its tasks with their outcomes);
    prints a JSON result.

    Input: Claude Code's SessionEnd JSON on stdin, or --session-id.

    Example: memctl hook session-end --session-id 3f2c9a7e
    """
    _run("session-end", ctx)


@hook_app.command("pre-task", context_settings=_FREE_ARGS)
def pre_task_cmd(ctx: typer.Context) -> None:
    """Expire stale coordination data, then print the memories relevant to the task
    (--description, or stdin 'prompt') as Claude Code's additionalContext JSON;
    --format text for plain text, --format memctl (or --json) for scored hits. Only
    memories scoring 0.5 or more (--min-score), at most --limit N (5) of them and
    --max-chars N (4000) characters of text, none the session stored in the last minute.

    Example: memctl hook pre-task --description "add refresh-token rotation" --format text
    """
    _run("pre-task", ctx)


@hook_app.command("post-task", context_settings=_FREE_ARGS)
def post_task_cmd(ctx: typer.Context) -> None:
    """Store the task's outcome as an episode: episodes/<task-id> with task, input, output,
    reward (--reward 0-1, or --success true|false), agent and session.

    Example: memctl hook post-task --task-id t-42 --description "fix login" --reward 0.9
    """
    _run("post-task", ctx)


@hook_app.command("memory-cleanup", context_settings=_FREE_ARGS)
def memory_cleanup_cmd(ctx: typer.Context) -> None:
    """Run a cleanup of expired memories (--force includes manual namespaces, --dry-run,
    --namespace GLOB, --all-tenants); prints a JSON report.

    Example: memctl hook memory-cleanup --force
    """
    _run("memory-cleanup", ctx)


for _cmd in (
    session_start_cmd,
    pre_task_cmd,
    post_task_cmd,
    pre_compact_cmd,
    session_end_cmd,
    memory_cleanup_cmd,
):
    _cmd.__doc__ = f"{_cmd.__doc__}\n    {_COMMON_FLAGS}\n"


ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project", help="Project folder (default: the current project).", show_default=False
    ),
]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        help="File to edit (default: <project>/.claude/settings.json; with --mcp, "
        "<project>/.mcp.json).",
        show_default=False,
    ),
]
McpOption = Annotated[
    bool,
    typer.Option(
        "--mcp", help="memctl's MCP server in the project's .mcp.json instead of the hooks."
    ),
]


def settings_file(
    settings: Settings, project: Path | None, file: Path | None, mcp: bool = False
) -> Path:
    if file is not None:
        return file.expanduser().resolve()
    root = project.expanduser().resolve() if project is not None else settings.project
    return root / ".mcp.json" if mcp else root / ".claude" / "settings.json"


@command(hooks_app, "install")
def install_cmd(
    settings: Settings,
    project: ProjectOption = None,
    file: FileOption = None,
    executable: Annotated[
        str, typer.Option("--command", help="How Claude Code should call memctl.")
    ] = "memctl",
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the settings snippet; change nothing.")
    ] = False,
    events: Annotated[
        str | None,
        typer.Option(
            "--events",
            help="Comma-separated: SessionStart, UserPromptSubmit, Stop, PreCompact, "
            "SessionEnd (or memctl hook names; default all). memctl's entries become "
            "exactly these.",
            show_default=False,
        ),
    ] = None,
    mcp: McpOption = False,
) -> None:
    """Add memctl's hooks to .claude/settings.json, or with --mcp its MCP server to the
    project's .mcp.json (merged with what is there, backed up, idempotent).

    Example: memctl hooks install --events SessionStart,UserPromptSubmit,Stop,SessionEnd
    """
    from memctl.errors import BadInput
    from memctl.hooks import claude_settings, mcp_config

    if not executable.strip() or "\n" in executable:
        raise BadInput("--command must be a non-empty, single-line command")
    if mcp and events is not None:
        raise BadInput("--events chooses hooks; --mcp installs the MCP server: give one")
    chosen = claude_settings.parse_events(events)
    if print_only:
        shown = (
            mcp_config.snippet(executable) if mcp else claude_settings.snippet(executable, chosen)
        )
        settings.out.document(shown)
        return
    path = settings_file(settings, project, file, mcp)
    if mcp:
        result = mcp_config.install(path, executable, settings.now())
    else:
        result = claude_settings.install(path, executable, settings.now(), chosen)
    _report(settings, result)
    import shlex
    import shutil

    try:
        program = shlex.split(executable)[0]
    except (ValueError, IndexError):  # unbalanced quotes: Claude Code's shell will say so
        program = executable
    if shutil.which(program) is None:
        settings.out.note(
            f"warning: {program!r} is not on this PATH; Claude Code may not find it "
            "(use --command /full/path/to/memctl)"
        )


@command(hooks_app, "uninstall")
def uninstall_cmd(
    settings: Settings,
    project: ProjectOption = None,
    file: FileOption = None,
    mcp: McpOption = False,
) -> None:
    """Remove memctl's hooks (only those) from .claude/settings.json, or with --mcp its
    MCP server (only it) from .mcp.json, with a backup.

    Example: memctl hooks uninstall --mcp
    """
    from memctl.hooks import claude_settings, mcp_config

    path = settings_file(settings, project, file, mcp)
    module = mcp_config if mcp else claude_settings
    _report(settings, module.uninstall(path, settings.now()))


def _report(settings: Settings, result: dict[str, object]) -> None:
    if settings.json:
        settings.out.document(result)
        return
    events = result.get("events")
    shown = f" ({', '.join(map(str, events))})" if isinstance(events, list) else ""
    if result.get("server"):
        shown = f" (MCP server {result['server']})"
    settings.out.line(f"{result['action']} {result['file']}{shown}")
    if result.get("backup"):
        settings.out.note(f"previous version saved as {result['backup']}")
