"""Which memories: ``Filters`` and ``where_clause`` are the one description that ``list``,
``search``, export and the lifecycle commands share; expired memories are left out
unless asked for. Globs and tags are written by the engine's dialect (``backend``)."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memctl.store.backend import Dialect


@dataclass
class Filters:
    """What ``list``/``search``/``delete`` select on. ``pattern`` is a memctl glob on the path."""

    tenant: str | None  # None: all tenants (--all-tenants)
    pattern: str | None = None
    namespace: str | None = None
    agent_id: str | None = None
    type: str | None = None
    tags: list[str] = field(default_factory=list)
    expired: str = "exclude"  # exclude | only | include
    now: float = 0.0
    archived: bool = False


def where_clause(filters: Filters, dialect: "Dialect", alias: str = "") -> tuple[str, list[Any]]:
    """The WHERE text and parameters for ``filters`` in ``dialect``'s SQL (the engine's:
    ``backend_of(db).dialect``); every input is a bound parameter."""
    p = f"{alias}." if alias else ""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.tenant is not None:
        clauses.append(f"{p}tenant = ?")
        params.append(filters.tenant)
    if filters.pattern is not None:
        clauses.append(dialect.glob(f"({p}namespace || '/' || {p}key)"))
        params.append(dialect.glob_param(filters.pattern))
    if filters.namespace is not None:
        if "*" in filters.namespace:
            clauses.append(dialect.glob(f"{p}namespace"))
            params.append(dialect.glob_param(filters.namespace))
        else:
            clauses.append(f"{p}namespace = ?")
            params.append(filters.namespace)
    if filters.agent_id is not None:
        clauses.append(f"{p}agent_id = ?")
        params.append(filters.agent_id)
    if filters.type is not None:
        clauses.append(f"{p}type = ?")
        params.append(filters.type)
    for tag in filters.tags:
        clauses.append(dialect.has_tag(f"{p}tags"))
        params.append(tag)
    if not filters.archived:
        if filters.expired == "exclude":
            clauses.append(f"({p}expires_at IS NULL OR {p}expires_at > ?)")
            params.append(filters.now)
        elif filters.expired == "only":
            clauses.append(f"({p}expires_at IS NOT NULL AND {p}expires_at <= ?)")
            params.append(filters.now)
    return (" AND ".join(clauses) or "TRUE"), params
