"""The embedding backlog: memories stored without waiting for the model get their vectors
here, in batches, with no write transaction held while the model runs; and vectors
written in bulk on PostgreSQL, waiting outside the HNSW graph (store/postgres/vectors.py),
are put into it here."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memctl.embeddings import Embedder
from memctl.lifecycle.graph import graph_waiting
from memctl.lifecycle.values import search_text
from memctl.progress import Progress
from memctl.store.backend import backend_of
from memctl.store.db import Database
from memctl.store.memories import decode_value

BATCH = 64


def fill(
    db: Database,
    embedder: Embedder,
    limit: int,
    tenant: str | None = None,
    progress: Progress | None = None,
) -> int:
    """Embed up to ``limit`` pending memories; returns how many got a vector.
    ``progress`` hears of each batch."""
    done = 0
    while done < limit:
        rows = backend_of(db).vectors.pending(
            db, embedder.model_id, min(BATCH, limit - done), tenant
        )
        if not rows:
            break
        texts = [
            search_text(row.key, decode_value(row.value, bool(row.compressed))) for row in rows
        ]
        embedded = embedder.embed(texts)  # outside any transaction
        items = [
            (row.id, row.tenant, row.namespace, row.content_hash, vector)
            for row, vector in zip(rows, embedded, strict=True)
        ]
        with db.write():
            stored = backend_of(db).vectors.put(db, items, embedder.model_id)
        done += len(rows)
        if progress is not None:
            progress.advance(len(rows))
        if stored == 0:
            break  # everything changed under us; leave the rest for the next run
    return done


FORGET_BATCH = 500  # memories per write transaction: short writes under contention


def forget(db: Database, tenant: str | None) -> int:
    """Put every embedded active memory of ``tenant`` (None: all tenants) back in the
    backlog, in short write transactions; each leaves every memory either marked and
    with its vector, or unmarked without one. Returns how many."""
    total = 0
    while True:
        with db.write():
            done = backend_of(db).vectors.forget_some(db, tenant, FORGET_BATCH)
        if done == 0:
            return total
        total += done


@dataclass
class EmbedReport:
    count: int = 0
    model: str | None = None
    graphed: int = 0  # waiting vectors put into the search graph

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "model": self.model, "graphed": self.graphed}


def embed_pending(
    db: Database,
    model: str,
    limit: int,
    tenant: str | None,
    on_prepare: Callable[[str], None] | None = None,
) -> EmbedReport:
    """Fill the backlog of the policies' ``embedding.model`` with at most ``limit``
    memories (the daemon's ``embed`` job), then put every vector waiting outside the
    search graph into it (all tenants': the graph is one); the model is prepared first
    if this machine has none (``on_prepare`` is told)."""
    report = EmbedReport()
    if model != "none":
        report.count, report.model = _embed(db, model, limit, tenant, on_prepare)
    report.graphed = graph_waiting(db)
    return report


def _embed(
    db: Database,
    model: str,
    limit: int,
    tenant: str | None,
    on_prepare: Callable[[str], None] | None,
) -> tuple[int, str | None]:
    from memctl.embeddings.model_files import model_id

    # Loading the model costs ~0.4 s: skip it when nothing is pending. (The id assumes
    # 384 dimensions; for another model the guess finds everything pending and loads it.)
    if not backend_of(db).vectors.pending(db, model_id(model, 384), 1, tenant):
        return 0, None
    from memctl.embeddings import get_embedder

    embedder = get_embedder(model, on_prepare)
    if embedder is None:
        return 0, None
    return fill(db, embedder, limit, tenant), embedder.model_id
