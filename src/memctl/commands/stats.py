"""stats: what the store holds, how it is kept, and the daily analytics history."""

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from memctl import limits
from memctl.clock import iso
from memctl.commands.common import Settings, command
from memctl.errors import BadInput
from memctl.stats.figures import FALLBACK_DAYS, Breakdown, Stats
from memctl.stats.snapshots import SnapshotReport, SnapshotRow, history, snapshot

app = typer.Typer()
TOP_ROWS = 15  # rows per breakdown table in human output (--json has them all)
# jsonl and tsv list the daily snapshot rows (--history); the full report is several
# tables of different shapes, which --json carries as one document. No paths: no memories.
STATS_FORMATS = ("table", "json", "jsonl", "tsv")


@command(app, "stats", all_tenants=True, formats=STATS_FORMATS)
def stats_cmd(
    settings: Settings,
    take_snapshot: Annotated[
        bool, typer.Option("--snapshot", help="Record today's analytics row(s).")
    ] = False,
    show_history: Annotated[
        bool, typer.Option("--history", help="Show the recorded daily snapshots.")
    ] = False,
    days: Annotated[int, typer.Option("--days", help="Days of --history to show.")] = 7,
) -> None:
    """Totals, sizes, distributions, backlogs and lifecycle runs of the memory store.

    Example: memctl stats --all-tenants; memctl stats --snapshot; memctl stats --history --days 30
    """
    limits.check(days, "--days", limits.POSITIVE_COUNT)
    listed = settings.format in ("jsonl", "tsv")
    if listed and not show_history:
        raise BadInput(
            f"--format {settings.format} lists the daily snapshots: add --history "
            "(the full report is one --json document)"
        )
    now = settings.now()
    if take_snapshot or show_history:
        db = settings.open()
        document: dict[str, Any] = {}
        if take_snapshot:
            report = snapshot(db, now, settings.scope)
            document["snapshot"] = report.to_dict()
            if settings.format == "table":
                _print_snapshot(settings, report)
        if show_history:
            rows = history(db, settings.scope, days, now)
            document["history"] = [row.to_dict() for row in rows]
            if not settings.json:
                _print_history(settings, rows, days)
        if settings.json:
            settings.out.document(document)
        return
    from memctl.api.operations import stats as collect
    from memctl.warm import probe

    stats = collect(settings)
    server = probe(settings.db_path)  # the warm server (docs/serve.md): up or not
    if settings.json:
        settings.out.document({**stats.to_dict(), "server": server})
    else:
        _print_stats(settings, stats)
        settings.out.line()
        settings.out.line(f"server     {server['detail']} ({server['socket']})")


# ---------------------------------------------------------------- human output


def short_time(ts: float) -> str:
    """Epoch seconds as ``YYYY-MM-DD HH:MM`` (UTC) for a table cell."""
    from memctl.clock import utc

    return utc(ts).strftime("%Y-%m-%d %H:%M")


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"  # pragma: no cover - the loop always returns


def _breakdown_table(settings: Settings, title: str, items: Sequence[Breakdown]) -> None:
    if not items:
        return
    rows: list[list[Any]] = [
        [
            "(none)" if b.name is None else b.name,
            b.active,
            b.expired,
            b.archived,
            human_bytes(b.bytes + b.archived_bytes),
        ]
        for b in items[:TOP_ROWS]
    ]
    if len(items) > TOP_ROWS:
        rest = items[TOP_ROWS:]
        rows.append(
            [
                f"… {len(rest)} more",
                sum(b.active for b in rest),
                sum(b.expired for b in rest),
                sum(b.archived for b in rest),
                human_bytes(sum(b.bytes + b.archived_bytes for b in rest)),
            ]
        )
    right = {c: "right" for c in ("active", "expired", "archived", "bytes")}
    settings.out.table(title, [title.split()[-1], *right], rows, right)


def _print_stats(settings: Settings, stats: Stats) -> None:
    out = settings.out
    db = stats.database
    size = human_bytes(db["size_bytes"] + db["wal_bytes"]) if db["exists"] else "not created yet"
    out.line(f"database   {db['path']} ({size}, schema {db['schema_version']})")
    out.line(f"policies   {stats.policies}")
    out.line(f"tenant     {stats.tenant or 'all tenants'}")
    states = stats.states
    out.line(
        f"memories   {stats.count}: {states['active']} active, {states['expired']} expired "
        f"(awaiting cleanup), {states['archived']} archived"
    )
    out.line()
    _breakdown_table(settings, "by namespace", stats.by_namespace)
    _breakdown_table(settings, "by agent", stats.by_agent)
    _breakdown_table(settings, "by type", stats.by_type)
    out.line()
    storage_rows = [
        [
            name,
            s.count,
            human_bytes(s.stored_bytes),
            human_bytes(s.uncompressed_bytes),
            f"{s.ratio:.2f}x",
            s.compressed_count,
        ]
        for name, s in stats.storage.items()
    ]
    columns = ["where", "memories", "stored", "uncompressed", "ratio", "compressed"]
    out.table("storage", columns, storage_rows, {c: "right" for c in columns[1:]})
    out.line()
    out.bars("importance (active memories)", stats.importance)
    out.bars("age since creation (active memories)", stats.age)
    out.line()
    oldest = f", oldest expired {iso(stats.oldest_expiry)}" if stats.oldest_expiry else ""
    out.line(f"expiry backlog      {stats.expiry_backlog} expired, not yet moved out{oldest}")
    if stats.expiry_backlog_by_namespace:
        parts = [f"{ns} {n}" for ns, n in stats.expiry_backlog_by_namespace.items()]
        shown = ", ".join(parts[:TOP_ROWS]) + (" …" if len(parts) > TOP_ROWS else "")
        out.line(f"                    ({shown})")
    if stats.embedding_backlog is None:
        out.line("embedding backlog   embeddings are off (embedding.model: none)")
    else:
        waiting = (
            f"; {stats.graph_waiting} imported, waiting for the search graph (the daemon's "
            "embed job or memctl reindex)"
            if stats.graph_waiting
            else ""
        )
        out.line(
            f"embedding backlog   {stats.embedding_backlog} without a vector "
            f"for {stats.embedding_model}{waiting}"
        )
    if stats.model_prepared is not None:
        state = "ready" if stats.model_prepared else "not prepared (run: memctl model prepare)"
        out.line(f"model on this host  {state}")
    fallbacks = stats.keyword_fallbacks
    if fallbacks.count:
        out.line(
            f"keyword fallbacks   {fallbacks.count} hook call(s) in {FALLBACK_DAYS} days matched "
            "by keyword "
            f"only (last {iso(fallbacks.last_at)}, {fallbacks.hook}: {fallbacks.reason})"
        )
    out.line()
    if not stats.jobs:
        out.line("lifecycle runs      none recorded yet")
        return
    job_rows = [
        [
            job.action,
            short_time(job.last_run_at),
            f"{job.duration_ms:.0f} ms",
            job.count,
            job.outcome,
            job.runs,
            job.failures,
        ]
        for job in stats.jobs
    ]
    columns = ["action", "last run (UTC)", "took", "count", "outcome", "runs", "failed"]
    right = {c: "right" for c in ("took", "count", "runs", "failed")}
    out.table("lifecycle runs", columns, job_rows, right)
    for job in stats.jobs:
        if job.outcome != "ok":
            streak = f" ({job.failing_since_ok} in a row)" if job.failing_since_ok > 1 else ""
            out.line(f"{job.action} failed{streak}: {job.error or 'no message'}")


def _print_snapshot(settings: Settings, report: SnapshotReport) -> None:
    scope = report.tenant or "all tenants"
    settings.out.line(
        f"recorded {report.count} snapshot row(s) for {report.day} ({scope}, "
        f"{report.duration_ms:.0f} ms)"
    )


def _print_history(settings: Settings, rows: Sequence[SnapshotRow], days: int) -> None:
    out = settings.out
    if settings.format == "table":
        if not rows:
            out.line(
                f"no snapshots in the last {days} day(s); record one with: memctl stats --snapshot"
            )
            return
        _print_daily_totals(settings, rows)
        out.line()
    show_tenant = len({r.tenant for r in rows}) > 1
    columns = [
        "day",
        "namespace",
        "agent",
        "memories",
        "avg imp.",
        "accessed",
        "expired",
        "archived",
        "bytes",
        "by type",
    ]
    if show_tenant:
        columns.insert(1, "tenant")

    def cells(r: SnapshotRow) -> list[Any]:
        types = ", ".join(f"{k} {v}" for k, v in sorted(r.counts_by_type.items()))
        line: list[Any] = [
            r.day,
            r.namespace,
            r.agent_id or "-",
            r.total,
            f"{r.avg_importance:.2f}",
            r.accesses,
            r.expirations,
            r.archives,
            human_bytes(r.bytes),
            types,
        ]
        if show_tenant:
            line.insert(1, r.tenant)
        return line

    numeric = ("memories", "avg imp.", "accessed", "expired", "archived", "bytes")
    out.listing(
        rows,
        title="per namespace and agent",
        columns=columns,
        cells=cells,
        record=SnapshotRow.to_dict,
        document=lambda: {"history": [row.to_dict() for row in rows]},
        justify={c: "right" for c in numeric},
    )


def _print_daily_totals(settings: Settings, rows: Sequence[SnapshotRow]) -> None:
    per_day: dict[str, list[SnapshotRow]] = {}
    for row in rows:
        per_day.setdefault(row.day, []).append(row)
    summary = []
    for day, items in per_day.items():
        total = sum(r.total for r in items)
        weighted = sum(r.avg_importance * r.total for r in items)
        summary.append(
            [
                day,
                total,
                f"{weighted / total:.2f}" if total else "-",
                sum(r.accesses for r in items),
                sum(r.expirations for r in items),
                sum(r.archives for r in items),
                human_bytes(sum(r.bytes for r in items)),
            ]
        )
    columns = ["day", "memories", "avg importance", "accessed", "expired", "archived", "bytes"]
    right = {c: "right" for c in columns[1:]}
    settings.out.table("daily totals", columns, summary, right)
