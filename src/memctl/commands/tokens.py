"""``memctl tokens create|list|revoke``: the API tokens of ``memctl serve`` (docs/serve.md)."""

from typing import Annotated

import typer

from memctl.commands.common import Settings, command
from memctl.output import when

group = typer.Typer(
    help="API tokens for memctl serve: each bound to one tenant, read-write or read-only.",
    no_args_is_help=True,
)
app = typer.Typer()  # no top-level commands: `memctl tokens ...` is a group
groups = [("tokens", group)]


@command(group, "create", label="tokens create")
def create_cmd(
    settings: Settings,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Reads only: a write with it gets 403.")
    ] = False,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Its name, for list and revoke (default <tenant>-<n>).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create a token for --tenant and print it once: the database keeps only its hash.
    Clients send it as `Authorization: Bearer TOKEN`.

    Example: memctl tokens create --tenant acme --name ci --read-only
    """
    from memctl.lifecycle.tokens import create

    created = create(
        settings.open("create"), settings.tenant, settings.now(), name=name, read_only=read_only
    )
    if settings.json:
        settings.out.document(created.to_dict())
        return
    token = created.token
    access = "read-only" if token.read_only else "read-write"
    settings.out.line(created.secret)
    settings.out.note(
        f"token {token.name} for tenant {token.tenant} ({access}); it is shown only now: "
        "memctl keeps its hash, not the token"
    )


@command(group, "list", all_tenants=True, label="tokens list")
def list_cmd(settings: Settings) -> None:
    """List the tenant's tokens (--all-tenants: every token): name, tenant, access and
    when each was created; never the tokens themselves.

    Example: memctl tokens list --all-tenants
    """
    from memctl.lifecycle.tokens import listed

    tokens = listed(settings.open(), settings.scope)
    if settings.json:
        settings.out.document({"tokens": [t.to_dict() for t in tokens]})
        return
    if not tokens:
        settings.out.note("no tokens (memctl tokens create --tenant T makes one)")
        return
    rows = [
        [t.name, t.tenant, "read-only" if t.read_only else "read-write", when(t.created_at)]
        for t in tokens
    ]
    settings.out.table(None, ["name", "tenant", "access", "created"], rows)


@command(group, "revoke", all_tenants=True, label="tokens revoke")
def revoke_cmd(
    settings: Settings,
    name: Annotated[
        str, typer.Argument(help="The token's name (see tokens list).", show_default=False)
    ],
) -> None:
    """Revoke a token of the tenant (--all-tenants: of any tenant): requests presenting
    it get 401 from then on (exit 1 if there is no such token).

    Example: memctl tokens revoke ci --tenant acme
    """
    from memctl.lifecycle.tokens import revoke

    token = revoke(settings.open(), name, settings.scope)
    if settings.json:
        settings.out.document({"revoked": token.to_dict()})
        return
    settings.out.line(f"revoked token {token.name} (tenant {token.tenant})")
