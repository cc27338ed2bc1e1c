"""SQL pieces the lifecycle jobs share: which policy rule a row falls under, and the
tenant and namespace filters.

Policies apply per path (``namespace/key``) with first-match-wins globs. In memctl globs
only ``*`` is special, case-sensitive, matching any run of characters, ``/`` included;
the engine's dialect says it in its terms (SQLite ``GLOB`` with ``?`` and ``[`` made
literal, PostgreSQL ``LIKE`` with ``%`` and ``_`` escaped), so the rule of every row is
computed inside SQL by ``rule_case`` and equals ``Policies.for_path``.
Patterns are always bound parameters, never spliced into the SQL text.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from memctl.store.db import Database

if TYPE_CHECKING:
    from memctl.store.backend import Dialect

PATH = "(namespace || '/' || key)"


def rule_case(
    patterns: Sequence[str | None], dialect: "Dialect", prefix: str = "p"
) -> tuple[str, dict[str, Any]]:
    """An SQL expression giving the index of the first pattern matching the row's path,
    or ``len(patterns)`` (the defaults) when none does; with named parameters. A None
    pattern (a rule no stored path can reach: ``Policies.patterns``) is left out."""
    live = [(i, pattern) for i, pattern in enumerate(patterns) if pattern is not None]
    if not live:
        return str(len(patterns)), {}
    whens = "\n".join(f"    WHEN {dialect.glob(PATH, f':{prefix}{i}')} THEN {i}" for i, _ in live)
    params = {f"{prefix}{i}": dialect.glob_param(pattern) for i, pattern in live}
    return f"(CASE\n{whens}\n    ELSE {len(patterns)}\n END)", params


def namespaces(db: Database, tenant: str | None) -> set[str]:
    """The distinct namespaces of the active and archived memories of ``tenant`` (None:
    every tenant): one index seek per namespace rather than a scan of every memory."""
    found: set[str] = set()
    for table in ("memories", "archive"):
        if tenant is not None:
            sql = (
                f"SELECT namespace FROM {table} WHERE tenant = ? AND namespace > ? "
                "ORDER BY namespace LIMIT 1"
            )
            last = ""
            while (row := db.one(sql, (tenant, last))) is not None:
                last = str(row[0])
                found.add(last)
        else:
            sql = (
                f"SELECT tenant, namespace FROM {table} WHERE (tenant, namespace) > (?, ?) "
                "ORDER BY tenant, namespace LIMIT 1"
            )
            key = ("", "")
            while (row := db.one(sql, key)) is not None:
                key = (str(row[0]), str(row[1]))
                found.add(key[1])
    return found


def tenant_clause(
    tenant: str | None, params: dict[str, Any], dialect: "Dialect", by_id: bool = False
) -> str:
    """The tenant filter; ``by_id`` (work over id ranges) keeps SQLite's planner on the
    id range instead of a (tenant, ...) index (``dialect.plain``: ``+tenant``)."""
    if tenant is None:
        return "TRUE"
    params["tenant"] = tenant
    return f"{dialect.plain('tenant')} = :tenant" if by_id else "tenant = :tenant"


def namespace_clause(namespace: str | None, params: dict[str, Any], dialect: "Dialect") -> str:
    """An exact namespace, or a glob when it holds ``*``."""
    if namespace is None:
        return "TRUE"
    if "*" in namespace:
        params["ns_glob"] = dialect.glob_param(namespace)
        return dialect.glob("namespace", ":ns_glob")
    params["ns_glob"] = namespace
    return "namespace = :ns_glob"
