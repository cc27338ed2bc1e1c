"""cleanup, decay, prune, archive, restore, compact: the lifecycle jobs (docs/policies.md)."""

from typing import Annotated

import typer

from memctl.clock import iso, parse_duration
from memctl.commands.common import Settings, command
from memctl.errors import NotFound
from memctl.lifecycle.globs import is_glob

app = typer.Typer()

DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")
]


def _plural(n: int, word: str = "memory") -> str:
    if word == "memory":
        return f"{n} memor{'y' if n == 1 else 'ies'}"
    return f"{n} {word}{'' if n == 1 else 's'}"


@command(app, "cleanup", all_tenants=True)
def cleanup_cmd(
    settings: Settings,
    force: Annotated[
        bool, typer.Option("--force", help="Also clean rules with cleanup_strategy: manual.")
    ] = False,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Only this namespace (or glob, e.g. 'swarm*')."),
    ] = None,
    dry_run: DryRunOption = False,
) -> None:
    """Move expired memories out per their policy (archive, or delete per on_expire).

    Example: memctl cleanup --namespace coordination --dry-run
    """
    from memctl.lifecycle.expiry import cleanup

    db = settings.open()
    with settings.out.progress() as bar:
        report = cleanup(
            db,
            settings.policies,
            settings.now(),
            settings.scope,
            namespace=namespace,
            force=force,
            dry_run=dry_run,
            progress=bar,
        )
    if settings.json:
        settings.out.document(report.to_dict())
        return
    if report.by_namespace:
        settings.out.table(
            None,
            ["namespace", "archived", "deleted"],
            [[ns, c["archived"], c["deleted"]] for ns, c in report.by_namespace.items()],
            justify={"archived": "right", "deleted": "right"},
        )
    verb = "would move" if dry_run else "moved"
    settings.out.line(
        f"{verb} {_plural(report.count)} out ({report.archived} archived, "
        f"{report.deleted} deleted) in {report.duration_ms:.0f} ms"
    )
    if report.skipped_manual:
        settings.out.note(
            f"{_plural(report.skipped_manual)} expired under manual rules; use --force"
        )


@command(app, "decay", all_tenants=True)
def decay_cmd(settings: Settings, dry_run: DryRunOption = False) -> None:
    """Lower the importance of idle memories (policy decay rates; hourly or daily runs agree).

    Example: memctl decay --dry-run
    """
    from memctl.lifecycle.decay import decay

    db = settings.open()
    with settings.out.progress() as bar:
        report = decay(
            db, settings.policies, settings.now(), settings.scope, dry_run=dry_run, progress=bar
        )
    if settings.json:
        settings.out.document(report.to_dict())
        return
    if dry_run:
        settings.out.bars("importance drop per memory", list(report.buckets.items()))
        settings.out.line(
            f"would decay {_plural(report.count)} by {report.total_drop or 0:.2f} in all; "
            f"{report.reach_floor} would reach their floor ({report.duration_ms:.0f} ms)"
        )
        return
    settings.out.line(f"decayed {_plural(report.count)} in {report.duration_ms:.0f} ms")


@command(app, "prune", all_tenants=True)
def prune_cmd(settings: Settings, dry_run: DryRunOption = False) -> None:
    """Purge archives past retention (important ones kept) and archive low-value memories.

    Example: memctl prune --dry-run
    """
    from memctl.lifecycle.prune import prune

    db = settings.open()
    with settings.out.progress() as bar:
        report = prune(
            db, settings.policies, settings.now(), settings.scope, dry_run=dry_run, progress=bar
        )
    if settings.json:
        settings.out.document(report.to_dict())
        return
    if report.by_namespace:
        settings.out.table(
            None,
            ["namespace", "purged", "archived"],
            [[ns, c["purged"], c["archived"]] for ns, c in report.by_namespace.items()],
            justify={"purged": "right", "archived": "right"},
        )
    purge, move = ("would purge", "would archive") if dry_run else ("purged", "archived")
    settings.out.line(
        f"{purge} {report.purged} archived, {move} {report.archived} active "
        f"({report.kept_important} kept for their importance) in {report.duration_ms:.0f} ms"
    )


@command(app, "archive")
def archive_cmd(
    settings: Settings,
    target: Annotated[
        str | None,
        typer.Argument(
            help="A path, or a glob on the path such as 'scratch/*'.", show_default=False
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", help="Only memories created longer ago (e.g. 30d, 12h)."),
    ] = None,
    below_importance: Annotated[
        float | None, typer.Option("--below-importance", help="Only importance below this.")
    ] = None,
    dry_run: DryRunOption = False,
) -> None:
    """Move memories to the archive by path, glob and/or age and importance.

    Example: memctl archive 'session/*' --older-than 30d --below-importance 4
    """
    from memctl.lifecycle.archive import archive, select

    age = None if older_than is None else parse_duration(older_than, "--older-than")
    db = settings.open()
    now = settings.now()
    memories = select(
        db, now, settings.tenant, target, older_than=age, below_importance=below_importance
    )
    if target is not None and not is_glob(target) and not memories:
        raise NotFound(f"{target}: no such memory")
    report = archive(db, settings.policies, now, settings.tenant, memories, dry_run=dry_run)
    if settings.json:
        settings.out.document(report.to_dict())
        return
    prefix = "would be " if dry_run else ""
    for path in report.paths[:50]:
        settings.out.line(f"{prefix}archived {path}")
    if len(report.paths) > 50:
        settings.out.line(f"... and {len(report.paths) - 50} more")
    settings.out.line(f"{_plural(report.count)} {prefix}archived in {report.duration_ms:.0f} ms")


@command(app, "restore")
def restore_cmd(
    settings: Settings,
    target: Annotated[
        str,
        typer.Argument(
            help="Archive id, path (its latest archived version) or glob.", show_default=False
        ),
    ],
    ttl: Annotated[
        str | None,
        typer.Option("--ttl", help="New TTL (e.g. 2h, 7d; 0 = never); default: the policy's."),
    ] = None,
) -> None:
    """Bring archived memories back to active (exit 1 if nothing archived matches).

    Example: memctl restore knowledge/auth/jwt --ttl 7d
    """
    from memctl.api.operations import restore

    seconds = None if ttl is None else parse_duration(ttl, "--ttl")
    result = restore(settings, target, ttl=seconds)
    if settings.json:
        settings.out.document(result.to_dict())
        return
    restored = result.memories
    for memory in restored:
        expiry = iso(memory.expires_at) or "never"
        settings.out.line(f"restored {memory.path} (id {memory.id}, expires {expiry})")
    settings.out.line(f"{_plural(len(restored))} restored in {result.duration_ms:.0f} ms")


@command(app, "compact")
def compact_cmd(
    settings: Settings,
    force: Annotated[
        bool, typer.Option("--force", help="Rebuild and VACUUM even if not fragmented.")
    ] = False,
) -> None:
    """Rebuild the vector index after heavy deletion and VACUUM the file, if worthwhile.

    On a PostgreSQL hub --force rebuilds the HNSW graph concurrently (searches and
    writes go on; minutes per 100k vectors): how a hub made before migration p006 gets
    its denser graph.

    Example: memctl compact --force
    """
    from memctl.lifecycle.compact import compact

    report = compact(settings.open(), force=force, now=settings.now())
    if settings.json:
        settings.out.document(report.to_dict())
        return
    mb = 1024 * 1024
    if not (report.rebuilt or report.vacuumed):
        settings.out.line(
            f"nothing to do: {report.dead_slots_before} dead vector slots, "
            f"{report.free_bytes_before / mb:.1f} MB free ({report.duration_ms:.0f} ms)"
        )
        return
    done = [
        f"rebuilt the vector index ({report.count} vectors, {report.chunks_before} -> "
        f"{report.chunks_after} chunks)"
        if report.rebuilt
        else "",
        "vacuumed" if report.vacuumed else "",
    ]
    settings.out.line(
        f"{', '.join(d for d in done if d)}: {report.bytes_before / mb:.1f} MB -> "
        f"{report.bytes_after / mb:.1f} MB in {report.duration_ms:.0f} ms"
    )
