"""promote: copy proven memories into the knowledge namespace."""

from typing import Annotated

import typer

from memctl.commands.common import Settings, command
from memctl.lifecycle.promote import PromoteItem, PromoteReport, promote
from memctl.output import FORMATS

app = typer.Typer()
TABLE_ROWS = 50  # memories in the table; --json, jsonl, tsv and paths list every one


@command(app, "promote", all_tenants=True, formats=FORMATS)
def promote_cmd(
    settings: Settings,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be promoted; change nothing.")
    ] = False,
) -> None:
    """Copy memories meeting the promotion rules into the target namespace.

    The original stays, marked as promoted; the copy lives at
    <target_namespace>/<namespace>/<key>.

    Example: memctl promote --dry-run --format paths
    """
    policies = settings.policies
    db = settings.open()
    report = promote(db, policies, settings.now(), settings.scope, dry_run=dry_run)
    if settings.json:
        settings.out.document(report.to_dict())
        return
    _print(settings, report)


def _print(settings: Settings, report: PromoteReport) -> None:
    out = settings.out
    show_tenant = report.tenant is None
    columns = ["path", "type", "importance", "accesses", "age (d)"]
    if not report.dry_run:
        columns.append("result")
    if show_tenant:
        columns.insert(0, "tenant")

    def cells(item: PromoteItem) -> list[object]:
        row: list[object] = [
            item.path,
            item.type,
            f"{item.importance:.1f}",
            item.access_count,
            f"{item.age_days:.1f}",
        ]
        if not report.dry_run:
            row.append(item.action)
        if show_tenant:
            row.insert(0, item.tenant)
        return row

    table = settings.format == "table"
    items = report.items[:TABLE_ROWS] if table else report.items
    if items or not table:
        justify = {"importance": "right", "accesses": "right", "age (d)": "right"}
        out.listing(
            items,
            columns=columns,
            cells=cells,
            record=PromoteItem.to_dict,
            path=lambda item: item.path,
            document=report.to_dict,
            justify=justify,
        )
    if not table:
        return
    if len(report.items) > TABLE_ROWS:
        out.line(f"… and {len(report.items) - TABLE_ROWS} more (--format tsv lists them all)")
    for skip in report.skipped:
        out.note(f"skipped {skip['path']}: {skip['reason']}")
    verb = "would promote" if report.dry_run else "promoted"
    out.line(
        f"{verb} {report.count} memor{'y' if report.count == 1 else 'ies'} "
        f"into {report.target_namespace}/ ({report.duration_ms:.0f} ms)"
    )
