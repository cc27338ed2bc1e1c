"""``memctl init`` (set a project up) and ``memctl doctor`` (check it)."""

from pathlib import Path
from typing import Annotated

import typer

from memctl.commands.common import Settings, command

app = typer.Typer()


def _given_on_the_command_line(parameter: str) -> bool:
    """Whether ``--tenant`` was typed (not taken from MEMCTL_TENANT): init records only
    what it was told, never what happens to be in the environment."""
    import click
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(parameter) == ParameterSource.COMMANDLINE


@command(app, "init")
def init_cmd(
    settings: Settings,
    claude: Annotated[
        bool,
        typer.Option(
            "--claude",
            help="Write the policies to .claude/memory-retention-policies.yaml "
            "instead of policies.yaml.",
        ),
    ] = False,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            help="The project folder (default: the current project).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Set this project up: .memctl/ (git-ignored), a policies.yaml to edit, the database;
    --db and --tenant given here are recorded in .memctl/config.yaml. Keeps what exists.

    Example: memctl init && memctl hooks install
    """
    from memctl.paths import locate_root
    from memctl.project.setup import init_project

    if project is not None:
        root, how = project.expanduser().resolve(), "--project"
    else:
        root, how = locate_root()
    if not root.is_dir():
        from memctl.errors import BadInput

        raise BadInput(f"project folder {root} does not exist")
    from memctl.paths import parse_location

    db = parse_location(settings.db_option) if settings.db_option else None
    tenant = settings.tenant_option if _given_on_the_command_line("tenant") else None
    report = init_project(root, how, settings.policies_option, claude=claude, db=db, tenant=tenant)
    next_steps = [
        "memctl store notes/hello 'first memory' && memctl search hello",
        "memctl hooks install        # Claude Code hooks in .claude/settings.json",
        "memctl doctor               # check the set-up",
        f"cron / systemd: MEMCTL_DB={report.database} (scripts/crontab.example)",
    ]
    if settings.json:
        settings.out.document({**report.to_dict(), "next": next_steps})
        return
    out = settings.out
    out.line(f"project {report.root} ({report.root_source})")
    for path in report.created:
        out.line(f"  created {path}")
    for path in report.kept:
        out.line(f"  kept    {path}")
    out.line(f"edit the policies in {report.policies}")
    out.line("next:")
    for step in next_steps:
        out.line(f"  {step}")


@command(app, "doctor", policies_first=False)
def doctor_cmd(
    settings: Settings,
    runs: Annotated[
        int,
        typer.Option(
            "--runs",
            help="Times each installed hook is run to measure its p95 latency (0: skip).",
        ),
    ] = 5,
) -> None:
    """Check the set-up, one line each: memctl on PATH, the database, the policies, the
    model, the hooks and each hook's p95 latency against Claude Code's limits. Exit 1 if
    anything is a problem. Changes nothing (hooks are timed on a copy of the database).

    Example: memctl doctor --json
    """
    from memctl import limits
    from memctl.project.doctor import FAIL, Context, run_checks

    limits.check(runs, "--runs", limits.Range(0, 100, "0 to 100", whole=True))
    ctx = Context(settings.location, settings.policies_path, runs)
    checks = run_checks(ctx)
    failed = any(check.status == FAIL for check in checks)
    if settings.json:
        settings.out.document(
            {
                "ok": not failed,
                "project": str(settings.project),
                "checks": [check.to_dict() for check in checks],
            }
        )
    else:
        for check in checks:
            settings.out.line(f"{check.status:<4}  {check.name}: {check.detail}")
            if check.hint and check.status != "ok":
                settings.out.line(f"      -> {check.hint}")
    if failed:
        raise typer.Exit(1)
