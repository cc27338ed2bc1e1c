"""``memctl serve``: the HTTP API, the event stream, MCP over HTTP and the warm path for
hooks, in one long-lived process (docs/serve.md)."""

import sys
from typing import Annotated

import typer

from memctl import limits
from memctl.commands.common import Settings, command
from memctl.output import dumps

app = typer.Typer()
PORTS = limits.Range(0, 65535, "whole numbers 0 to 65535 (0: any free port)", whole=True)


@command(app, "serve")
def serve_cmd(
    settings: Settings,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on (loopback unless you say otherwise)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port (0: any free port).")] = 8765,
) -> None:
    """Serve the database over HTTP (JSON API behind bearer tokens, Server-Sent Events,
    MCP at /mcp) and on a unix socket next to it, which hooks and search use to skip
    loading the model. Runs until SIGTERM or Ctrl-C; prints where it listens (--json:
    one JSON line). Create tokens with `memctl tokens create`.

    Example: memctl serve --port 8765 & memctl tokens create --tenant acme --name ci
    """
    from memctl.server.runner import Listening, serve

    limits.check(port, "--port", PORTS)
    settings.open().close()  # exists (exit 1 otherwise), schema up to date
    settings._db = None
    policies_path = settings.policies_path

    def started(where: Listening) -> None:
        if settings.json:
            sys.stdout.write(dumps(where.to_dict(), indent=False) + "\n")
            sys.stdout.flush()
        settings.out.status(
            f"memctl serve: listening on {where.url} and {where.socket} for {where.db} "
            f"(pid {where.pid})"
        )

    serve(
        settings.db_path,
        policies_path,
        host,
        port,
        announce=settings.out.status,
        started=started,
    )
