"""The ``memctl`` command: the root Typer app and the one entry point.

Errors of every kind end as one line on stderr and an exit code (SPEC section 5):
library errors via ``commands.common``, usage errors here.
"""

import sys
from typing import Annotated

import typer

from memctl import __version__
from memctl.commands import (
    daemon,
    hooks,
    lifecycle,
    memory,
    model,
    policies,
    promote,
    search,
    stats,
    transfer,
)

app = typer.Typer(
    name="memctl",
    help="Memory lifecycle for AI coding agents: store, recall, search, expire, archive.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# Each module's commands join the root; groups (policies, model, hook, hooks) are
# Typer apps of their own, registered by the module's ``groups`` list if it has one.
for module in (memory, search, lifecycle, promote, stats, transfer, hooks, daemon):
    app.registered_commands.extend(module.app.registered_commands)
    for name, group in getattr(module, "groups", []):
        app.add_typer(group, name=name)
app.add_typer(policies.app, name="policies")
app.add_typer(model.app, name="model")


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"memctl {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """memctl keeps the memory of AI coding agents healthy.

    Example: memctl store knowledge/auth/jwt '{"algo": "RS256"}' && memctl search "token signing"
    """


def main() -> None:
    """Console-script entry point: usage errors become one line and exit 2."""
    import click

    command = typer.main.get_command(app)
    try:
        code = command.main(args=sys.argv[1:], prog_name="memctl", standalone_mode=False)
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
