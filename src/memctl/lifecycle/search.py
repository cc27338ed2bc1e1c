"""Hybrid search: FTS5 keyword ranking fused with sqlite-vec similarity.

Scores are all on 0-1 (what ``--min-score`` compares against):
- ``semantic``: cosine similarity of query and memory;
- ``keyword``: the bm25 score squashed to 0-1 (``b / (1 + b)``);
- ``hybrid``: ``0.75 * similarity + 0.25 * keyword``.

Why not reciprocal rank fusion: RRF rewards mere presence in the keyword list, so on
small namespaces one shared common word ("runs") lifted an unrelated memory above a
true paraphrase with no shared words. A weighted sum of calibrated scores keeps the
paraphrase on top and keeps ``--min-score`` meaningful.

A memory whose embedding is still pending has no similarity; its keyword score stands
in for it, so pending memories are found by keyword in every mode.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from memctl.embeddings import Embedder
from memctl.embeddings.backlog import fill
from memctl.models import Hit, SearchResult
from memctl.store import keyword, vectors
from memctl.store.db import Database
from memctl.store.memories import Filters, get_many

SEMANTIC_WEIGHT = 0.75
MODES = ("hybrid", "semantic", "keyword")
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass
class Ranked:
    """One candidate's evidence from each list."""

    similarity: float | None = None
    semantic_rank: int | None = None
    bm25: float | None = None
    keyword_rank: int | None = None


def fts_query(text: str) -> str | None:
    """User text to an FTS5 query: each word quoted (no operators), any word may match."""
    tokens = _TOKEN.findall(text.lower())
    if not tokens:
        return None
    return " OR ".join(f'"{token}"' for token in dict.fromkeys(tokens))


def _keyword_score(bm25: float) -> float:
    b = max(0.0, -bm25)  # FTS5's bm25() is negative: lower is better
    return b / (1.0 + b)


def score(mode: str, r: Ranked) -> float:
    keyword_score = _keyword_score(r.bm25) if r.bm25 is not None else 0.0
    if mode == "keyword":
        return keyword_score
    similarity = r.similarity if r.similarity is not None else keyword_score
    if mode == "semantic":
        return similarity
    return SEMANTIC_WEIGHT * similarity + (1 - SEMANTIC_WEIGHT) * keyword_score


def search(
    db: Database,
    query: str,
    filters: Filters,
    *,
    limit: int = 10,
    mode: str = "hybrid",
    min_score: float = 0.0,
    embedder: Callable[[], Embedder | None] = lambda: None,
    backlog_limit: int = 256,
) -> SearchResult:
    """Rank memories for ``query`` within ``filters`` (tenant, namespace, agent, ...)."""
    pool = max(limit * 5, 50)
    ranked: dict[int, Ranked] = {}
    model_id = None
    pending = 0
    if mode != "keyword":
        model = embedder()
        if model is not None:
            model_id = model.model_id
            if not filters.archived:
                fill(db, model, backlog_limit, filters.tenant)
                pending = vectors.pending_count(db, model_id, filters.tenant)
            _semantic(db, model, query, filters, pool, ranked)
    match = fts_query(query)
    if match is not None:
        hits = keyword.keyword_search(db, match, filters, pool)
        if mode == "semantic" and model_id is not None:
            # keyword evidence only for memories that have no vector yet
            waiting = vectors.pending_ids(db, [i for i, _ in hits], model_id)
            hits = [(i, b) for i, b in hits if i in waiting]
        for rank, (memory_id, bm25) in enumerate(hits, start=1):
            entry = ranked.setdefault(memory_id, Ranked())
            entry.bm25, entry.keyword_rank = bm25, rank
    scored = sorted(
        ((score(mode, r), memory_id, r) for memory_id, r in ranked.items()),
        key=lambda item: (-item[0], item[1]),
    )
    scored = [item for item in scored if item[0] >= min_score][:limit]
    memories = get_many(db, [memory_id for _, memory_id, _ in scored], filters.archived)
    hits_out = [
        Hit(
            memories[memory_id],
            round(value, 4),
            {
                "similarity": None if r.similarity is None else round(r.similarity, 4),
                "semantic_rank": r.semantic_rank,
                "bm25": None if r.bm25 is None else round(r.bm25, 4),
                "keyword_rank": r.keyword_rank,
            },
        )
        for value, memory_id, r in scored
        if memory_id in memories
    ]
    return SearchResult(query, mode, hits_out, pending, model_id)


def _semantic(
    db: Database,
    model: Embedder,
    query: str,
    filters: Filters,
    pool: int,
    ranked: dict[int, Ranked],
) -> None:
    vector = model.embed([query])[0]
    exact_namespace = (
        filters.namespace if filters.namespace and "*" not in filters.namespace else None
    )
    # Filters vec0 cannot push down (globs, agent, type, tags, expiry) are applied after
    # the KNN, so ask for more neighbours than needed.
    k = pool * 4
    found = vectors.knn(
        db, vector, k, model.model_id, filters.tenant, exact_namespace, filters.archived
    )
    allowed = keyword.filter_ids(db, [memory_id for memory_id, _ in found], filters)
    rank = 0
    for memory_id, distance in found:
        if memory_id not in allowed:
            continue
        rank += 1
        entry = ranked.setdefault(memory_id, Ranked())
        entry.similarity, entry.semantic_rank = 1.0 - distance, rank
        if rank >= pool:
            break
