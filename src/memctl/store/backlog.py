"""The embedding backlog, the same SQL on both engines: the active memories with no
vector of the current model, marking a memory embedded when its vector is stored, and
putting memories back (reindex). Each engine's vector module (``vectors``,
``postgres/vectors``) offers these with its own dialect, next to where its vectors live.

A memory is "embedded" when its ``embedding_model`` names the model of the vector stored
for it; the mark is set only if the memory's content is still the one that was embedded
(``content_hash``), in the write transaction that stores the vector.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from memctl.store.batch import marks

if TYPE_CHECKING:
    from memctl.store.backend import Dialect
    from memctl.store.db import Database

# "No vector, or one of another model", written so that SQLite answers it with three
# range scans of ix_memories_embedding (MULTI-INDEX OR); ``+tenant`` (``dialect.plain``)
# keeps SQLite's planner off the tenant indexes, which would mean scanning every memory
# of the tenant.
_BACKLOG = "(embedding_model IS NULL OR embedding_model < ? OR embedding_model > ?)"


class Pending(NamedTuple):
    """A memory waiting for its vector: what embedding and storing it needs."""

    id: int
    tenant: str
    namespace: str
    key: str
    value: bytes  # as stored (see ``compressed``)
    compressed: int
    content_hash: str


def _where(dialect: "Dialect", model_id: str, tenant: str | None) -> tuple[str, list[Any]]:
    if tenant is None:
        return _BACKLOG, [model_id, model_id]
    return f"{_BACKLOG} AND {dialect.plain('tenant')} = ?", [model_id, model_id, tenant]


def pending(
    db: "Database", dialect: "Dialect", model_id: str, limit: int, tenant: str | None
) -> list[Pending]:
    """Active memories whose vector is missing or from another model (any order)."""
    where, params = _where(dialect, model_id, tenant)
    rows = db.all(
        "SELECT id, tenant, namespace, key, value, compressed, content_hash FROM memories "
        f"WHERE {where} LIMIT ?",
        [*params, limit],
    )
    return [Pending._make(row) for row in rows]


def pending_count(db: "Database", dialect: "Dialect", model_id: str, tenant: str | None) -> int:
    where, params = _where(dialect, model_id, tenant)
    return int(db.scalar(f"SELECT count(*) FROM memories WHERE {where}", params))


def pending_ids(db: "Database", ids: list[int], model_id: str) -> set[int]:
    if not ids:
        return set()
    rows = db.all(
        f"SELECT id FROM memories WHERE id IN ({marks(ids)}) AND {_BACKLOG}",
        [*ids, model_id, model_id],
    )
    return {row[0] for row in rows}


Item = tuple[int, str, str, str, bytes]  # id, tenant, namespace, content_hash, vector


def mark_embedded(db: "Database", items: Sequence[Item], model_id: str) -> list[Item]:
    """Mark the memories whose content is still the one embedded; the items marked (the
    others changed or went since they were read: they stay in the backlog). Inside the
    write that stores their vectors."""
    kept = []
    for item in items:
        memory_id, _, _, digest, _ = item
        marked = db.execute(
            "UPDATE memories SET embedding_model = ? WHERE id = ? AND content_hash = ?",
            (model_id, memory_id, digest),
        ).rowcount
        if marked:
            kept.append(item)
    return kept


def unmark_some(db: "Database", dialect: "Dialect", tenant: str | None, limit: int) -> list[int]:
    """Put up to ``limit`` embedded active memories of ``tenant`` (None: every tenant)
    back in the backlog; their ids (the caller drops their vectors in the same write).
    Archived memories keep theirs: a restored memory with an old model's vector rejoins
    the backlog by itself. On PostgreSQL rows another writer holds are left for later."""
    sql = "SELECT id FROM memories WHERE embedding_model IS NOT NULL"
    params: list[Any] = []
    if tenant is not None:
        sql += " AND tenant = ?"
        params.append(tenant)
    rows = db.all(f"{sql} LIMIT ?{dialect.SKIP_LOCKED}", [*params, limit])
    ids = [int(row[0]) for row in rows]
    if ids:
        db.execute(f"UPDATE memories SET embedding_model = NULL WHERE id IN ({marks(ids)})", ids)
    return ids
