"""PostgreSQL's spelling of the SQL fragments that differ from SQLite's (``store.dialect``;
both are ``backend.Dialect``).

- Globs: memctl globs have only ``*`` special; ``LIKE`` has ``%`` and ``_`` (and its
  escape character), so those are escaped and ``*`` becomes ``%``. ``LIKE`` is
  case-sensitive like SQLite's ``GLOB``, and the text columns are ``COLLATE "C"``.
- JSON: tags, metadata and log details are stored as JSON text, exactly as on SQLite (one
  row format for both engines, byte-identical round trips); queries cast to ``jsonb``
  where they look inside.
- Row locks: ``FOR UPDATE`` where a write reads what it will change, ``FOR UPDATE SKIP
  LOCKED`` where a lifecycle batch re-checks its rows (a row a concurrent store holds
  is left for the next run, as a refreshed row is on SQLite).
- No planner hints: PostgreSQL's planner has statistics and needs none of SQLite's.
"""

from collections.abc import Sequence

NAME = "postgresql"
FOR_UPDATE = " FOR UPDATE"
SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
NOT_INDEXED = ""
# Before inserting an event (store/events.py): identity values are handed out at insert,
# not at commit, so without this a transaction committing later could make a smaller
# event id visible after a larger one, and a stream resuming "after id N" would skip it.
# Held until the writer commits: event writers commit one at a time (as every writer
# does on SQLite).
EVENTS_IN_ORDER = "SELECT pg_advisory_xact_lock(1835365750, hashtext(current_schema()))"
LIKE_ESCAPE = "\\"


def in_ids(column: str, ids: Sequence[int]) -> tuple[str, list[object]]:
    """``column`` is one of ``ids``: one array parameter, however many ids. (5,000 marks
    cost the server a parse and the driver a bind of each; a lifecycle batch's re-check
    took 80 ms that way at 1M, under 4 writers.)"""
    return f"{column} = ANY(?)", [list(ids)]


def glob_param(pattern: str) -> str:
    """A memctl glob as a ``LIKE`` pattern with ``\\`` as escape character."""
    escaped = (
        pattern.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return escaped.replace("*", "%")


def glob(expression: str, param: str = "?") -> str:
    return f"{expression} LIKE {param} ESCAPE '{LIKE_ESCAPE}'"


def has_tag(tags_column: str, param: str = "?") -> str:
    return f"({tags_column})::jsonb @> jsonb_build_array({param}::text)"


def json_number(column: str, path: tuple[str, ...], default: str, low: float, high: float) -> str:
    """As SQLite's: ``strpos`` keeps the ``jsonb`` cast off rows that cannot hold it."""
    where = "'{" + ",".join(path) + "}'"
    return f"""(CASE
        WHEN strpos({column}, '"{path[0]}"') > 0
         AND jsonb_typeof(({column})::jsonb #> {where}) = 'number'
        THEN least({high}, greatest({low}, (({column})::jsonb #>> {where})::float8))
        ELSE {default}
    END)"""


def json_text(column: str, *path: str) -> str:
    return f"(({column})::jsonb #>> '{{" + ",".join(path) + "}')"


def group_object(key: str, value: str) -> str:
    """``json_object_agg``: its value comes back as JSON text, as SQLite's does (the
    connection loads ``json`` as text)."""
    return f"json_object_agg({key}, {value})"


def plain(column: str) -> str:
    return column


def greatest(a: str, b: str) -> str:
    return f"greatest({a}, {b})"


def least(a: str, b: str) -> str:
    return f"least({a}, {b})"


def to_int(expression: str) -> str:
    return f"trunc({expression})::integer"
