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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from memctl.embeddings import Embedder
from memctl.models import Hit, SearchResult
from memctl.search.backlog import fill
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


# Words that match nearly every memory and rank nothing: dropped from keyword queries
# unless the query has nothing else.
STOPWORDS = frozenset(
    "a about an and are as at be but by can could did do does for from had has have how i "
    "if in into is it its me my no not of on or our should so than that the their them then "
    "there these they this those to us was we were what when where which who why will with "
    "would you your".split()
)


def fts_query(text: str, operator: str = "OR") -> str | None:
    """User text to an FTS5 query: each word quoted (no operators get through), joined by
    ``OR`` (any word may match) or ``AND`` (all must)."""
    tokens = list(dict.fromkeys(_TOKEN.findall(text.lower())))
    if not tokens:
        return None
    meaningful = [token for token in tokens if token not in STOPWORDS] or tokens
    return f" {operator} ".join(f'"{token}"' for token in meaningful)


def _keyword_hits(
    db: Database, query: str, filters: Filters, pool: int, enough: int
) -> list[tuple[int, float]]:
    """Memories matching every word first; any word only if that finds fewer than
    ``enough`` (the results asked for). On common words an OR query makes FTS5 score
    most of the table (38 ms at 100k)."""
    every = fts_query(query, "AND")
    if every is None:
        return []
    hits = keyword.keyword_search(db, every, filters, pool)
    anyword = fts_query(query, "OR")
    if len(hits) < enough and anyword is not None and anyword != every:
        seen = {memory_id for memory_id, _ in hits}
        more = keyword.keyword_search(db, anyword, filters, pool)
        hits += [hit for hit in more if hit[0] not in seen][: pool - len(hits)]
    return hits


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
    # hybrid: the keyword query runs on a second connection while this thread embeds
    # the query and runs the KNN (SQLite releases the GIL): ~max(30, 30) ms, not the sum
    background = (
        _keyword_in_background(db, query, filters, pool, limit) if mode == "hybrid" else None
    )
    if mode != "keyword":
        model = embedder()
        if model is not None:
            model_id = model.model_id
            if not filters.archived:
                fill(db, model, backlog_limit, filters.tenant)
                pending = vectors.pending_count(db, model_id, filters.tenant)
            _semantic(db, model, query, filters, pool, ranked)
    semantic_only = mode == "semantic" and model_id is not None
    hits: list[tuple[int, float]] = []
    if background is not None:
        hits = background.result()
    elif not semantic_only or pending or filters.archived:
        hits = _keyword_hits(db, query, filters, pool, limit)
        if semantic_only and model_id is not None:
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


def _keyword_in_background(
    db: Database, query: str, filters: Filters, pool: int, enough: int
) -> "Future[list[tuple[int, float]]] | None":
    """Run the keyword ranking on its own connection in a worker thread (None for an
    in-memory database, which a second connection cannot see)."""
    other = db.sibling()
    if other is None:
        return None

    def work() -> list[tuple[int, float]]:
        assert other is not None
        return _keyword_hits(other, query, filters, pool, enough)

    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(work)
    executor.shutdown(wait=False)
    return future


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
    # Filters vec0 cannot push down (globs, agent, type, tags) are applied after the
    # KNN, so then ask for more neighbours; the margin covers expired memories.
    post_filtered = bool(
        filters.agent_id
        or filters.type
        or filters.tags
        or filters.pattern
        or (filters.namespace and exact_namespace is None)
    )
    k = pool * (4 if post_filtered else 1) + 10
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
