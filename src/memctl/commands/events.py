"""``memctl events``: the lifecycle events recorded in the database (docs/serve.md)."""

import sys
import time
from typing import Annotated, Any

import typer

from memctl import limits
from memctl.commands.common import Settings, command
from memctl.output import dumps

app = typer.Typer()
EVENT_FORMATS = ("table", "json", "jsonl", "tsv")
POLL_S = 0.5  # --follow: how often the database is asked for new events (one indexed read)
COLUMNS = ["id", "time", "event", "tenant", "count", "details"]
SHOWN_IDS = 5


def _details(data: dict[str, Any]) -> str:
    """The event's ids and details on one line: ``ids 4,5 (+3) trigger=cleanup``."""
    parts = []
    for key, value in data.items():
        if key == "ids":
            more = f" (+{len(value) - SHOWN_IDS})" if len(value) > SHOWN_IDS else ""
            parts.append("ids " + ",".join(str(i) for i in value[:SHOWN_IDS]) + more)
        elif key == "id_ranges":
            more = f" (+{len(value) - SHOWN_IDS} ranges)" if len(value) > SHOWN_IDS else ""
            runs = (f"{a}-{b}" if a != b else str(a) for a, b in value[:SHOWN_IDS])
            parts.append("ids " + ",".join(runs) + more)
        elif value is not None and value != {}:
            parts.append(f"{key}={value if isinstance(value, str) else dumps(value, indent=False)}")
    return " ".join(parts)


def _cells(event: dict[str, Any]) -> list[Any]:
    rest = {k: v for k, v in event.items() if k not in ("id", "time", "event", "tenant", "count")}
    return [
        event["id"],
        event["time"],
        event["event"],
        event["tenant"] or "",
        event["count"],
        _details(rest),
    ]


@command(app, "events", all_tenants=True, formats=EVENT_FORMATS)
def events_cmd(
    settings: Settings,
    since: Annotated[
        int, typer.Option("--since", help="Only events after this id (0: from the oldest kept).")
    ] = 0,
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing new events as they are recorded."),
    ] = False,
    max_events: Annotated[
        int, typer.Option("--max-events", help="Stop after this many events (0: no limit).")
    ] = 0,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="--follow: stop after this many seconds (0: never)."),
    ] = 0.0,
) -> None:
    """Print the lifecycle events recorded in the database after --since (memory:stored,
    memory:expired, ..., alert:growth), oldest first; --follow keeps polling for new ones
    (with --json, one JSON object per line). Read from the database: no server needed.

    Example: memctl events --since 120 --follow --json
    """
    from memctl.lifecycle.events import PAGE, read

    limits.check(since, "--since", limits.COUNT)
    limits.check(max_events, "--max-events", limits.COUNT)
    limits.check(timeout, "--timeout", limits.DURATION)
    db = settings.open()
    streamed = follow or settings.format == "jsonl"
    fmt = "jsonl" if follow and settings.format == "json" else settings.format
    collected: list[dict[str, Any]] = []
    printed = 0
    cursor = since
    deadline = time.monotonic() + timeout if timeout else None
    if fmt == "tsv":
        settings.out.tsv(COLUMNS, [])
    while True:
        with db.read():
            page = read(db, cursor, settings.scope, PAGE)
        for event in page:
            cursor = event.id
            document = event.to_dict()
            if streamed or fmt == "tsv":
                _print_one(settings, fmt, document)
            else:
                collected.append(document)
            printed += 1
            if max_events and printed >= max_events:
                break
        if max_events and printed >= max_events:
            break
        if len(page) == PAGE:
            continue
        if not follow or (deadline is not None and time.monotonic() >= deadline):
            break
        wait = POLL_S if deadline is None else min(POLL_S, max(0.0, deadline - time.monotonic()))
        time.sleep(wait)
    if streamed or fmt == "tsv":
        return
    if fmt == "json":  # last_id: where to resume (--since), the last event shown
        settings.out.document({"events": collected, "last_id": cursor})
        return
    if not collected:
        settings.out.note(f"no events after id {since}")
        return
    settings.out.table(
        None, COLUMNS, [_cells(e) for e in collected], {"id": "right", "count": "right"}
    )


def _print_one(settings: Settings, fmt: str, event: dict[str, Any]) -> None:
    """One event as soon as it is read (--follow, jsonl, tsv)."""
    if fmt == "jsonl":
        sys.stdout.write(dumps(event, indent=False) + "\n")
    elif fmt == "tsv":
        from memctl.output import tsv_cell

        sys.stdout.write("\t".join(tsv_cell(c) for c in _cells(event)) + "\n")
    else:
        settings.out.line("  ".join(str(c) for c in _cells(event)))
    sys.stdout.flush()
