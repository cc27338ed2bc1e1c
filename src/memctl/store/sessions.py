"""SQL for the hooks: find memories by exact path or path prefix, using the path index.

A path ``namespace/key`` can be split several ways (a namespace may contain ``/``), so an
exact path is looked up as each of its splits, and a prefix as each split of the prefix
plus namespaces that start with it. Prefixes are compared as byte ranges, never as globs:
a session id full of ``*`` or ``[`` is just text here.
"""

from typing import Any

from memctl.store.db import Database


def _splits(path: str) -> list[tuple[str, str]]:
    """Every (namespace, key) whose ``namespace/key`` is ``path``."""
    return [
        (path[:index], path[index + 1 :])
        for index, char in enumerate(path)
        if char == "/" and 0 < index < len(path) - 1
    ]


def _upper(prefix: str) -> str:
    """The smallest string above every string that starts with ``prefix`` (which ends in
    ``/``): the same text with the last ``/`` turned into ``0``."""
    return prefix[:-1] + "0"


def ids_at_path(db: Database, tenant: str, path: str) -> list[int]:
    """Ids of the active memories whose path is exactly ``path``."""
    out: list[int] = []
    for namespace, key in _splits(path):
        rows = db.all(
            "SELECT id FROM memories WHERE tenant = ? AND namespace = ? AND key = ?",
            (tenant, namespace, key),
        )
        out.extend(row[0] for row in rows)
    return out


def ids_under(db: Database, tenant: str, prefix: str) -> list[int]:
    """Ids of the active memories whose path starts with ``prefix`` (ending in ``/``)."""
    if not prefix.endswith("/"):
        raise ValueError("prefix must end with '/'")
    queries: list[tuple[str, list[Any]]] = []
    for index, char in enumerate(prefix):
        if char != "/" or index == 0:
            continue
        namespace, rest = prefix[:index], prefix[index + 1 :]
        if rest:
            queries.append(
                ("namespace = ? AND key >= ? AND key < ?", [namespace, rest, _upper(rest)])
            )
        else:
            queries.append(("namespace = ?", [namespace]))
    queries.append(("namespace >= ? AND namespace < ?", [prefix, _upper(prefix)]))
    found: set[int] = set()
    for where, params in queries:  # one indexed query each (an OR would scan the table)
        rows = db.all(f"SELECT id FROM memories WHERE tenant = ? AND {where}", [tenant, *params])
        found.update(row[0] for row in rows)
    return sorted(found)
