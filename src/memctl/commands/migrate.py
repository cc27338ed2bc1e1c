"""``memctl migrate status|up|down``: see, apply and roll back schema migrations
(README "Upgrading", docs/migrations.md)."""

from typing import Annotated

import typer

from memctl.commands.common import Settings, command
from memctl.output import when
from memctl.store.migrations import LATEST
from memctl.store.migrations.runner import Outcome, Status, drop_summary

group = typer.Typer(help="See, apply and roll back schema migrations.", no_args_is_help=True)
app = typer.Typer()  # no top-level commands: `memctl migrate ...` is a group
groups = [("migrate", group)]

DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Run the steps in a transaction, print the plan, roll back."),
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Drop what the older schema cannot hold (down), or go on where no snapshot "
        "can be taken.",
    ),
]


@command(group, "status")
def status_cmd(settings: Settings) -> None:
    """Show the database's schema version, the versions this memctl knows, and what is
    pending. Changes nothing (a missing database is not created).

    Example: memctl migrate status --json
    """
    from memctl.store.opening import schema_status

    status = schema_status(settings.db_path)
    if settings.json:
        settings.out.document(status.to_dict())
        return
    _print_status(settings, status)


def _print_status(settings: Settings, status: Status) -> None:
    out = settings.out
    out.line(f"database  {status.location}")
    if status.newer:
        out.line(
            f"schema    {status.current}, newer than this memctl knows ({status.latest}): "
            f"upgrade memctl, or run `memctl migrate down --to {status.latest}` with the "
            "memctl that upgraded it"
        )
    elif status.pending:
        out.line(
            f"schema    {status.current} of {status.latest}: {len(status.pending)} pending "
            "(`memctl migrate up`; commands also apply them when they open the database)"
        )
    else:
        out.line(f"schema    {status.current} (up to date)")
    rows = [
        (
            str(step.version),
            step.name,
            when(step.applied_at) if step.applied else "pending",
            step.description,
        )
        for step in status.steps
    ]
    out.table(None, ["version", "name", "applied", "description"], rows)


@command(group, "up")
def up_cmd(
    settings: Settings,
    to: Annotated[
        int | None,
        typer.Option(
            "--to",
            help=f"Stop at this version (default: the latest, {LATEST}).",
            show_default=False,
        ),
    ] = None,
    dry_run: DryRunOption = False,
    force: ForceOption = False,
) -> None:
    """Apply pending migrations. A snapshot of the database is written next to it first
    when a step rewrites tables that hold data.

    Example: memctl migrate up --dry-run
    """
    from memctl.store import migrations

    db = settings.open(missing="empty" if dry_run else "create", migrate=False)
    target = migrations.latest_for(db) if to is None else to
    outcome = migrations.migrate(db, target, force=force, dry_run=dry_run, direction="up")
    _report(settings, outcome)


@command(group, "down")
def down_cmd(
    settings: Settings,
    to: Annotated[int, typer.Option("--to", help="The version to go back to (0: empty).")],
    dry_run: DryRunOption = False,
    force: ForceOption = False,
) -> None:
    """Roll back migrations to an older schema, keeping every row it can hold. Says what
    it would drop and refuses without --force; writes a snapshot first.

    Run it with this memctl before installing an older one: the older memctl cannot
    know the newer steps.

    Example: memctl migrate down --to 3 --dry-run
    """
    from memctl.store import migrations

    db = settings.open(missing="empty", migrate=False)
    outcome = migrations.migrate(db, to, force=force, dry_run=dry_run, direction="down")
    _report(settings, outcome)


def _report(settings: Settings, outcome: Outcome) -> None:
    outcome.location = str(settings.db_path)
    if settings.json:
        settings.out.document(outcome.to_dict())
        return
    out = settings.out
    if not outcome.steps:
        out.line(f"already at schema {outcome.start}: nothing to do")
        return
    if outcome.dry_run:
        out.line(f"dry run: schema {outcome.start} -> {outcome.target} (nothing changed)")
    elif outcome.snapshot:
        out.line(f"snapshot of schema {outcome.start}: {outcome.snapshot}")
    for planned in outcome.steps:
        direction = "up" if planned.up else "down"
        out.line(
            f"{direction:<4} {planned.step.version:>3}  {planned.step.name}: {planned.description}"
        )
        if not planned.up:
            dropped = ", ".join(f"{what}: {count}" for what, count in planned.drops)
            out.line(f"           drops {dropped}" if dropped else "           keeps every row")
    if outcome.dry_run:
        if outcome.snapshot:
            out.line(f"a snapshot would be written first: {outcome.snapshot}")
        if outcome.drops:
            out.line(f"would drop {drop_summary(outcome)}: needs --force")
        return
    out.line(f"schema {outcome.start} -> {outcome.target}")
    if outcome.target < outcome.start:
        out.line(
            "now install the memctl that knows this schema: any command of this one "
            "upgrades the database again"
        )
