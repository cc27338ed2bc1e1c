"""The ``memctl`` command: the root Typer app and the one entry point.

Start-up time is the budget of every hook (docs/budgets.md), so only the module that
owns the invoked command is imported: ``memctl store`` never loads the daemon, stats
or export code. ``memctl --help`` (or an unknown command) loads them all. ``memctl
hook NAME`` does not even load typer: a hook parses its own arguments, and when a
``memctl serve`` answers for the project's database the hook runs there
(``server.warm_client``) and this process imports next to nothing.
Errors of every kind end as one line on stderr and an exit code (docs/cli.md):
library errors via ``commands.common``, usage errors here.
"""

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from memctl import __version__

if TYPE_CHECKING:
    import typer

# command (or group) name -> the module under memctl.commands that defines it;
# tests/commands/test_cli_process.py checks this against what the modules register.
COMMAND_MODULES = {
    "store": "memory",
    "recall": "memory",
    "list": "memory",
    "delete": "memory",
    "search": "search",
    "reindex": "search",
    "cleanup": "lifecycle",
    "decay": "lifecycle",
    "prune": "lifecycle",
    "archive": "lifecycle",
    "restore": "lifecycle",
    "compact": "lifecycle",
    "promote": "promote",
    "stats": "stats",
    "export": "transfer",
    "import": "transfer",
    "hook": "hooks",
    "hooks": "hooks",
    "daemon": "daemon",
    "policies": "policies",
    "model": "model",
    "init": "project",
    "doctor": "project",
    "migrate": "migrate",
    "mcp": "mcp",
    "serve": "serve",
    "tokens": "tokens",
    "events": "events",
}
MODULES = tuple(dict.fromkeys(COMMAND_MODULES.values()))


ROOT_HELP = """memctl keeps the memory of AI coding agents healthy.

Example: memctl store knowledge/auth/jwt '{"algo": "RS256"}' && memctl search "token signing"
"""


def _version(value: bool) -> None:
    import typer

    if value:
        sys.stdout.write(f"memctl {__version__}\n")
        raise typer.Exit()


def build_app(modules: Sequence[str] = MODULES) -> "typer.Typer":
    """The root app with the commands of ``modules`` registered."""
    import typer

    def root(
        version: Annotated[
            bool,
            typer.Option(
                "--version", callback=_version, is_eager=True, help="Print the version and exit."
            ),
        ] = False,
    ) -> None:
        pass

    root.__doc__ = ROOT_HELP
    app = typer.Typer(
        name="memctl",
        help="Memory lifecycle for AI coding agents: store, recall, search, expire, archive.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(root)
    for name in modules:
        module: Any = importlib.import_module(f"memctl.commands.{name}")
        app.registered_commands.extend(module.app.registered_commands)
        for group_name, group in getattr(module, "groups", []):
            app.add_typer(group, name=group_name)
    return app


def modules_for(argv: Sequence[str]) -> Sequence[str]:
    """The command modules needed to run ``argv`` (all of them for help or unknown)."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    if first is None or first not in COMMAND_MODULES:
        return MODULES
    return (COMMAND_MODULES[first],)


def __getattr__(name: str) -> "typer.Typer":
    """``memctl.cli.app``: the full app (tests, completion)."""
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main() -> None:
    """Console-script entry point: usage errors become one line and exit 2."""
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "hook" and not {"--help", "-h"} & set(argv[2:]):
        from memctl.hooks.call import HOOKS

        if argv[1] in HOOKS:  # no typer: a hook parses its own arguments
            from memctl.server.warm_client import hook_main

            sys.exit(hook_main(argv[1], argv[2:]))
    import click
    import typer

    command = typer.main.get_command(build_app(modules_for(argv)))
    try:
        code = command.main(args=argv, prog_name="memctl", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.ctx.get_help() + "\n")
        code = 0
    except click.UsageError as exc:
        name = exc.ctx.command_path if exc.ctx else "memctl"
        sys.stderr.write(f"{name}: error: {exc.format_message()} (see --help)\n")
        code = 2
    except click.Abort:
        sys.stderr.write("memctl: aborted\n")
        code = 130
    except click.ClickException as exc:
        sys.stderr.write(f"memctl: error: {exc.format_message()}\n")
        code = exc.exit_code
    sys.exit(code if isinstance(code, int) else 0)
