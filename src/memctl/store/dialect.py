"""SQLite's spelling of the SQL that differs between engines, other than full-text search
and vectors (``keyword``, ``vectors``): globs, JSON functions, aggregates of JSON,
two-argument max/min, planner hints and row locks. Shared SQL asks for these fragments
(``backend_of(db).dialect``) instead of writing them; PostgreSQL's module with the same
names is ``postgres/dialect`` (``backend.Dialect``).

Every fragment takes column expressions written by memctl and returns SQL text; values
stay bound parameters.
"""

from collections.abc import Sequence

from memctl.store.batch import marks
from memctl.store.columns import sqlite_glob

NAME = "sqlite"
# Row locks: SQLite's ``BEGIN IMMEDIATE`` already makes a write transaction the only
# writer, so reading a row inside one is as good as locking it.
FOR_UPDATE = ""
SKIP_LOCKED = ""
NOT_INDEXED = " NOT INDEXED"  # after a table name: SQLite's planner hint
EVENTS_IN_ORDER = ""  # writers are one at a time already: event ids commit in order


def in_ids(column: str, ids: Sequence[int]) -> tuple[str, list[object]]:
    """``column`` is one of ``ids``: a mark each (SQLite binds at most 32,766)."""
    return f"{column} IN ({marks(ids)})", list(ids)


def plain(column: str) -> str:
    """``column`` in a form the planner will not answer from an index (SQLite's unary
    ``+``), where walking the index would be slower than the plan it has."""
    return f"+{column}"


def greatest(a: str, b: str) -> str:
    return f"max({a}, {b})"


def least(a: str, b: str) -> str:
    return f"min({a}, {b})"


def to_int(expression: str) -> str:
    """``expression`` rounded towards zero to an integer."""
    return f"CAST({expression} AS INTEGER)"


def glob_param(pattern: str) -> str:
    """A memctl glob (only ``*`` special) as the parameter of ``glob``'s ``?``."""
    return sqlite_glob(pattern)


def glob(expression: str, param: str = "?") -> str:
    """``expression`` matches the glob bound at ``param`` (case-sensitive, ``*`` spans
    ``/``)."""
    return f"{expression} GLOB {param}"


def has_tag(tags_column: str, param: str = "?") -> str:
    """The JSON array in ``tags_column`` holds the string bound at ``param``."""
    return f"EXISTS (SELECT 1 FROM json_each({tags_column}) WHERE json_each.value = {param})"


def json_number(column: str, path: tuple[str, ...], default: str, low: float, high: float) -> str:
    """The number at ``path`` in the JSON object ``column`` kept to [low, high], else
    ``default`` (an SQL expression) when it is missing or not a number. ``instr`` keeps
    the JSON functions off rows that cannot hold it (decay evaluates this per row)."""
    where = "'$." + ".".join(path) + "'"
    return f"""(CASE
        WHEN instr({column}, '"{path[0]}"') > 0
         AND json_type({column}, {where}) IN ('integer', 'real')
        THEN min({high}, max({low}, json_extract({column}, {where})))
        ELSE {default}
    END)"""


def json_text(column: str, *path: str) -> str:
    """The value at ``path`` in the JSON object ``column`` (NULL when missing)."""
    return f"json_extract({column}, '$." + ".".join(path) + "')"


def group_object(key: str, value: str) -> str:
    """An aggregate: the JSON object ``{key: value}`` of the group's rows."""
    return f"json_group_object({key}, {value})"
