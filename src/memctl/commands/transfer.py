"""export and import."""

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from memctl.api.operations import filters
from memctl.clock import parse_duration, parse_time
from memctl.commands.common import Settings, command
from memctl.errors import BadInput
from memctl.limits import OutOfRange
from memctl.paths import Location

app = typer.Typer()

FORMAT_HELP = "jsonl (default), json (one document) or sqlite (snapshot of the whole database)."
FROM_HELP = "Force the input format: memctl, claude-flow-v3, claude-flow-v3-json, claude-flow-v2."


def _since(text: str | None, now: float) -> float | None:
    """An absolute time (epoch or ISO 8601) or an age such as 7d (= now minus 7 days)."""
    if text is None:
        return None
    try:
        return parse_time(text, "--since")
    except OutOfRange:
        raise
    except BadInput:
        pass
    try:
        return now - parse_duration(text, "--since")
    except OutOfRange:
        raise
    except BadInput:
        raise BadInput(
            f"--since {text!r} is neither a time (ISO 8601, epoch) nor an age like 7d"
        ) from None


def _same_file(target: Path, db_path: Location) -> bool:
    """True if ``target`` is the (SQLite) database or one of its journal files."""
    if not isinstance(db_path, Path):
        return False
    resolved = target.expanduser().resolve()
    base = db_path.expanduser().resolve()
    return resolved in (base, Path(f"{base}-wal"), Path(f"{base}-shm"), Path(f"{base}-journal"))


def _to_stdout(write: Any) -> None:
    """Run ``write``; a reader that goes away (``| head``) ends the export quietly with
    the shell's SIGPIPE status, 141, rather than a traceback."""
    try:
        write()
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(141) from None


def _export_format(given: str | None, target: Path | None) -> str:
    from memctl.transfer.exporter import FORMATS

    if given is not None:
        if given not in FORMATS:
            raise BadInput(f"--format must be one of {', '.join(FORMATS)}")
        return given
    name = target.name.lower() if target else ""
    if name.endswith((".json", ".json.gz")):
        return "json"
    if name.endswith((".db", ".sqlite", ".sqlite3")):
        return "sqlite"
    return "jsonl"


@command(app, "export", all_tenants=True)
def export_cmd(
    settings: Settings,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="File to write ('.gz' compresses); default stdout."),
    ] = None,
    export_format: Annotated[str | None, typer.Option("--format", help=FORMAT_HELP)] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace or glob.")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's.")] = None,
    memory_type: Annotated[str | None, typer.Option("--type", help="Only this type.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Updated at or after this time (ISO 8601, epoch, or 7d)."),
    ] = None,
    include_archived: Annotated[
        bool, typer.Option("--include-archived", help="Archived memories too.")
    ] = False,
    include_expired: Annotated[
        bool, typer.Option("--include-expired", help="Expired (not yet cleaned) ones too.")
    ] = False,
    include_embeddings: Annotated[
        bool, typer.Option("--include-embeddings", help="Vectors too (base64 float32).")
    ] = False,
) -> None:
    """Stream memories to a file or stdout: JSON Lines with a header line, atomic, mode 0600.

    Example: memctl export -o backup.jsonl.gz --include-archived --include-embeddings
    """
    from memctl.transfer.exporter import ExportOptions, export_snapshot, export_stream
    from memctl.transfer.files import atomic_output
    from memctl.transfer.importer import current_model

    target = Path(output) if output not in (None, "-") else None
    if target is not None and _same_file(target, settings.db_path):
        raise BadInput(f"{target} is the database itself; choose another file")
    fmt = _export_format(export_format, target)
    now = settings.now()
    if fmt == "sqlite":
        if target is None:
            raise BadInput("--format sqlite needs -o FILE")
        if target.name.endswith(".gz"):
            raise BadInput("--format sqlite writes a plain database file; drop the .gz")
        chosen = [namespace, agent, memory_type, since]
        if any(chosen) or include_archived or include_expired or include_embeddings:
            raise BadInput("--format sqlite copies the whole database; filters do not apply")
        summary = export_snapshot(settings.open(), target, settings.scope)
    else:
        if target is None and settings.json:
            raise BadInput("--json needs -o FILE (the export itself goes to stdout)")
        options = ExportOptions(
            filters=filters(
                settings,
                namespace=namespace,
                agent_id=agent,
                type=memory_type,
                include_expired=include_expired,
            ),
            since=_since(since, now),
            include_archived=include_archived,
            include_embeddings=include_embeddings,
            format=fmt,
            model=current_model(settings.policies),
        )
        db = settings.open()
        with settings.out.progress() as bar:
            if target is None:
                _to_stdout(lambda: export_stream(db, sys.stdout.buffer, options, now, bar))
                return
            with atomic_output(target) as out:
                summary = export_stream(db, out, options, now, bar)
        summary.path = str(target)
    if settings.json:
        settings.out.document(summary.to_dict())
        return
    counts = summary.counts
    archived = f" ({counts['archived']} archived)" if counts.get("archived") else ""
    settings.out.line(f"exported {counts['total']} memories{archived} to {summary.path} ({fmt})")


@command(app, "import", all_tenants=True)
def import_cmd(
    settings: Settings,
    file: Annotated[
        str,
        typer.Argument(
            help="memctl export (.jsonl/.json, .gz), claude-flow memory.db, export or "
            "memory-store.json.",
            show_default=False,
        ),
    ],
    source_format: Annotated[str | None, typer.Option("--from", help=FROM_HELP)] = None,
    on_conflict: Annotated[
        str,
        typer.Option(
            "--on-conflict",
            help="When a path exists: skip, overwrite, or merge (the policy's strategy).",
        ),
    ] = "skip",
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid records, report the rest.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; change nothing.")
    ] = False,
) -> None:
    """Import memories (all or nothing, one transaction) after validating every record.

    Example: memctl import .swarm/memory.db --on-conflict merge --dry-run
    """
    from memctl.transfer.detect import open_source
    from memctl.transfer.importer import ON_CONFLICT, ImportOptions, import_source

    if on_conflict not in ON_CONFLICT:
        raise BadInput(f"--on-conflict must be one of {', '.join(ON_CONFLICT)}")
    source = open_source(Path(file), source_format)
    try:
        options = ImportOptions(
            tenant=settings.tenant,
            all_tenants=settings.all_tenants,
            on_conflict=on_conflict,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
        )
        db = settings.open(missing="empty" if dry_run else "create")
        with settings.out.progress() as bar:
            report = import_source(db, settings.policies, settings.now(), source, options, bar)
    finally:
        source.close()
    if settings.json:
        settings.out.document(report.to_dict())
        return
    for item in report.invalid_records[:10]:
        settings.out.note(f"skipped invalid record: {item['location']}: {item['error']}")
    if report.invalid > 10:
        settings.out.note(f"... and {report.invalid - 10} more invalid records (see --json)")
    parts = [
        f"{count} {label}"
        for label, count in (
            ("created", report.created),
            ("archived", report.archived),
            ("overwritten", report.overwritten),
            ("merged", report.merged),
            ("unchanged", report.unchanged),
            ("skipped (path exists)", report.skipped),
            ("skipped (expired in the file)", report.skipped_expired),
            ("invalid", report.invalid),
        )
        if count
    ]
    parts += [f"{count} {label.replace('_', ' ')}" for label, count in report.left_out.items()]
    verb = "would import" if dry_run else "imported"
    settings.out.line(
        f"{verb} {report.written} of {report.read} memories from {report.file} "
        f"({report.format}): {', '.join(parts) or 'nothing to do'}"
    )
    if report.expired_on_arrival:
        settings.out.note(f"{report.expired_on_arrival} were already expired (kept as expired)")
    if report.backlog and not dry_run:
        settings.out.note(
            f"{report.backlog} wait for embeddings (search, the daemon or memctl reindex fill them)"
        )
    if report.graph_waiting:
        settings.out.note(
            f"{report.graph_waiting} vectors wait for the search graph; until the daemon's "
            "embed job or memctl reindex puts them in, a search of a large namespace may find "
            "their memories by keyword only"
        )
