"""SQL pieces the lifecycle jobs share: which policy rule a row falls under, and the
tenant and namespace filters.

Policies apply per path (``namespace/key``) with first-match-wins globs. In memctl globs
only ``*`` is special; SQLite's ``GLOB`` is case-sensitive with ``*`` matching any run
of characters, ``/`` included, and ``columns.sqlite_glob`` makes its ``?`` and ``[``
literal, so the rule of every row is computed inside SQL by ``rule_case`` and equals
``Policies.for_path``.
Patterns are always bound parameters, never spliced into the SQL text.
"""

from collections.abc import Sequence
from typing import Any

from memctl.store.columns import sqlite_glob

PATH = "(namespace || '/' || key)"


def rule_case(patterns: Sequence[str], prefix: str = "p") -> tuple[str, dict[str, Any]]:
    """An SQL expression giving the index of the first pattern matching the row's path,
    or ``len(patterns)`` (the defaults) when none does; with named parameters."""
    if not patterns:
        return "0", {}
    whens = "\n".join(f"    WHEN {PATH} GLOB :{prefix}{i} THEN {i}" for i in range(len(patterns)))
    params = {f"{prefix}{i}": sqlite_glob(pattern) for i, pattern in enumerate(patterns)}
    return f"(CASE\n{whens}\n    ELSE {len(patterns)}\n END)", params


def tenant_clause(tenant: str | None, params: dict[str, Any], by_id: bool = False) -> str:
    """The tenant filter; ``by_id`` (work over id ranges) writes ``+tenant`` so the
    planner walks the rowid range instead of a (tenant, ...) index."""
    if tenant is None:
        return "1"
    params["tenant"] = tenant
    return "+tenant = :tenant" if by_id else "tenant = :tenant"


def namespace_clause(namespace: str | None, params: dict[str, Any]) -> str:
    """An exact namespace, or a glob when it holds ``*``."""
    if namespace is None:
        return "1"
    if "*" in namespace:
        params["ns_glob"] = sqlite_glob(namespace)
        return "namespace GLOB :ns_glob"
    params["ns_glob"] = namespace
    return "namespace = :ns_glob"
