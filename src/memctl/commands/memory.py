"""store, recall, list, delete."""

import sys
from typing import Annotated, Any

import orjson
import typer

from memctl.api import operations as api
from memctl.clock import parse_duration, parse_time
from memctl.commands.common import Settings, command
from memctl.errors import BadInput
from memctl.lifecycle.values import check_text, decode_utf8, parse_value
from memctl.models import Memory
from memctl.output import FORMATS, when
from memctl.store.memories import SORTS

app = typer.Typer()

KeyOption = Annotated[str | None, typer.Option("--key", "-k", help="Key (claude-flow style).")]
NamespaceOption = Annotated[
    str | None, typer.Option("--namespace", "-n", help="Namespace (claude-flow style).")
]


def read_stdin() -> str:
    """A value piped on stdin; one trailing newline is dropped (``echo`` adds it)."""
    text = decode_utf8(sys.stdin.buffer.read(), "value on stdin")
    return text[:-1] if text.endswith("\n") else text


def parse_tags(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [tag.strip() for tag in check_text(text, "tags").split(",") if tag.strip()]


def parse_metadata(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = orjson.loads(check_text(text, "metadata"))
    except orjson.JSONDecodeError:
        raise BadInput('--metadata must be a JSON object, e.g. \'{"source": "ci"}\'') from None
    if not isinstance(data, dict):
        raise BadInput("--metadata must be a JSON object")
    return data


@command(app, "store")
def store_cmd(
    settings: Settings,
    path: Annotated[
        str | None,
        typer.Argument(help="namespace/key, e.g. knowledge/auth/jwt.", show_default=False),
    ] = None,
    value: Annotated[
        str | None, typer.Argument(help="JSON or text; '-' reads stdin.", show_default=False)
    ] = None,
    key: KeyOption = None,
    namespace: NamespaceOption = None,
    value_option: Annotated[str | None, typer.Option("--value", help="The value (or '-').")] = None,
    string: Annotated[
        bool, typer.Option("--string", help="Store the value as text, not JSON.")
    ] = False,
    ttl: Annotated[
        str | None, typer.Option("--ttl", help="Seconds (or 15m, 2h, 7d); 0 = never.")
    ] = None,
    importance: Annotated[
        float | None, typer.Option("--importance", help="1-10 (default 5).")
    ] = None,
    memory_type: Annotated[
        str | None, typer.Option("--type", help="context, learning, episode, ...")
    ] = None,
    tags: Annotated[str | None, typer.Option("--tags", help="Comma-separated tags.")] = None,
    metadata: Annotated[str | None, typer.Option("--metadata", help="JSON object.")] = None,
    agent: Annotated[str | None, typer.Option("--agent", help="Agent id.")] = None,
    session: Annotated[str | None, typer.Option("--session", help="Session id.")] = None,
    reward: Annotated[float | None, typer.Option("--reward", help="0-1, for episodes.")] = None,
    timestamp: Annotated[
        str | None, typer.Option("--timestamp", help="Write time (epoch or ISO 8601).")
    ] = None,
) -> None:
    """Write a memory, applying the path's conflict strategy.

    Example: memctl store knowledge/auth/jwt '{"algo": "RS256"}' --type learning
    """
    if key is not None and path is not None and value is None:
        path, value = None, path  # `store -k KEY VALUE`
    raw = value_option if value_option is not None else value
    if value_option is not None and value is not None:
        raise BadInput("give the value once: as an argument or with --value")
    if raw is None:
        raise BadInput("a value is required: an argument, --value, or '-' to read stdin")
    text = read_stdin() if raw == "-" else raw
    result = api.store(
        settings,
        value=parse_value(text, string),
        path=path,
        namespace=namespace,
        key=key,
        ttl=None if ttl is None else parse_duration(ttl, "--ttl"),
        importance=importance,
        type=memory_type,
        tags=parse_tags(tags),
        metadata=parse_metadata(metadata),
        agent_id=agent,
        session_id=session,
        reward=reward,
        timestamp=None if timestamp is None else parse_time(timestamp, "--timestamp"),
    )
    if settings.json:
        settings.out.document(result.to_dict())
        return
    detail = f" ({result.detail})" if result.detail else ""
    settings.out.line(f"{result.action} {result.memory.path}{detail}")


@command(app, "recall")
def recall_cmd(
    settings: Settings,
    path: Annotated[str | None, typer.Argument(help="namespace/key.", show_default=False)] = None,
    key: KeyOption = None,
    namespace: NamespaceOption = None,
    full: Annotated[bool, typer.Option("--full", help="Every field, not just the value.")] = False,
    include_expired: Annotated[bool, typer.Option("--include-expired")] = False,
) -> None:
    """Print one memory's value (exit 1 if absent or expired).

    Example: memctl recall knowledge/auth/jwt --full
    """
    memory = api.recall(
        settings, path=path, namespace=namespace, key=key, include_expired=include_expired
    )
    if settings.json:
        settings.out.document(memory.to_dict())
    elif full:
        for name, field_value in memory.to_dict().items():
            shown = (
                field_value if isinstance(field_value, str) else orjson.dumps(field_value).decode()
            )
            settings.out.line(f"{name}: {shown}")
    else:
        settings.out.value(memory.value)


@command(app, "list", all_tenants=True, formats=FORMATS)
def list_cmd(
    settings: Settings,
    pattern: Annotated[
        str | None,
        typer.Argument(help="Glob on the path; '*' matches '/' too.", show_default=False),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace or glob.")
    ] = None,
    agent: Annotated[str | None, typer.Option("--agent")] = None,
    memory_type: Annotated[str | None, typer.Option("--type")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Has this tag (repeatable).")
    ] = None,
    archived: Annotated[bool, typer.Option("--archived", help="List the archive instead.")] = False,
    expired: Annotated[bool, typer.Option("--expired", help="Only expired memories.")] = False,
    include_expired: Annotated[bool, typer.Option("--include-expired")] = False,
    sort: Annotated[str, typer.Option("--sort", help=f"One of: {', '.join(SORTS)}.")] = "updated",
    limit: Annotated[int, typer.Option("--limit", help="At most this many; 0 = all.")] = 100,
) -> None:
    """List memories matching a glob and filters.

    Example: memctl list 'coordination/*' --sort importance --limit 20 --format tsv
    """
    listing = api.list_memories(
        settings,
        pattern=pattern,
        namespace=namespace,
        agent_id=agent,
        type=memory_type,
        tags=tag,
        archived=archived,
        expired=expired,
        include_expired=include_expired,
        sort=sort,
        limit=limit,
    )
    rows = listing.memories
    columns = ["path", "type", "imp", "updated", "expires", "value"]
    if archived:
        columns[3:5] = ["archived", "reason"]
    if settings.all_tenants:
        columns.insert(0, "tenant")

    def cells(m: Memory) -> list[Any]:
        row = [
            m.path,
            m.type,
            f"{m.importance:.1f}",
            when(m.archived_at) if archived else when(m.updated_at),
            m.archive_reason if archived else (when(m.expires_at) or "never"),
            m.value,
        ]
        return [m.tenant, *row] if settings.all_tenants else row

    settings.out.listing(
        rows,
        columns=columns,
        cells=cells,
        record=Memory.to_dict,
        path=lambda m: m.path,
        document=listing.to_dict,
        justify={"imp": "right"},
    )
    if listing.total > len(rows):
        settings.out.note(f"showing {len(rows)} of {listing.total}; use --limit 0 for all")


@command(app, "delete")
def delete_cmd(
    settings: Settings,
    target: Annotated[
        str | None,
        typer.Argument(help="A path, or a glob such as 'scratch/*'.", show_default=False),
    ] = None,
    key: KeyOption = None,
    namespace: NamespaceOption = None,
    hard: Annotated[
        bool, typer.Option("--hard", help="Delete for good instead of archiving.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would go; change nothing.")
    ] = False,
) -> None:
    """Archive (default) or --hard delete memories by path or glob (exit 1 if none match).

    Example: memctl delete 'coordination/swarm-42/*' --dry-run
    """
    if key is None and target is None:
        raise BadInput("a PATH, a glob, or -k/--key is required")
    result = api.forget(
        settings, path=target, namespace=namespace, key=key, hard=hard, dry_run=dry_run
    )
    if settings.json:
        settings.out.document(result.to_dict())
        return
    prefix = "would be " if dry_run else ""
    for path in result.paths:
        settings.out.line(f"{prefix}{result.action} {path}")
    done = result.count
    settings.out.line(f"{done} memor{'y' if done == 1 else 'ies'} {prefix}{result.action}")
