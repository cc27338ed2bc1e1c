"""Hybrid search: sqlite-vec similarity with FTS5 keyword evidence, fused by
``search.scoring`` (what each part is and why, with the eval's figures).

Candidates: the query's ``POOL`` nearest memories by vector and its keyword matches
(memories holding every word first; any word only when few hold them all). Every
keyword match with a stored vector gets its real similarity (its vector is looked up),
and every candidate its redundancy among the nearest.

The ranking does not depend on how many results are asked for: both candidate lists
are 100 deep (deeper only for ``--limit`` above 100).
"""

import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from memctl.embeddings import Embedder
from memctl.models import Hit, SearchResult
from memctl.search.backlog import fill
from memctl.search.scoring import Ranked, keyword_evidence, parts, score, supported
from memctl.store.backend import backend_of
from memctl.store.db import Database
from memctl.store.memories import Filters, get_many

MODES = ("hybrid", "semantic", "keyword")
POOL = 100  # candidates from each side, whatever the limit
REDUNDANCY_NEIGHBOURS = 20
# Hamming candidates per neighbour kept (at least 256), re-ranked by exact cosine
# (SQLite; PostgreSQL's graph search ignores it). 2 while vec0's own KNN picked them, at
# a cost in proportion to their number (256: 33 ms at 100k memories, 512: 100 ms); read
# from vec0's chunks they cost the same at any depth (store/vectors.py), so 4 x 110 =
# 440 now: the eval's large store, hybrid recall@5 / MRR@10 0.897 / 0.813 -> 0.906 /
# 0.820 (holdout half 0.861 / 0.789 -> 0.871 / 0.794), semantic 0.844 -> 0.844 / 0.736
# -> 0.741; 6 (660) measured the same (0.906 / 0.821); the small stores hold fewer than
# 256 memories; pre-task as before (large: precision 0.90, answered 0.50).
KNN_OVERSAMPLE = 4
ALL_WORDS_ENOUGH = 10  # matches holding every word; fewer and any word counts too
_TOKEN = re.compile(r"\w+", re.UNICODE)


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


KeywordHit = tuple[int, float, bool]  # memory id, bm25, holds every word of the query
KeywordHits = tuple[list[KeywordHit], int]  # and how many memories the index holds


def _keyword_hits(db: Database, query: str, filters: Filters, pool: int) -> KeywordHits:
    """Memories holding every word first; then any word, when fewer than
    ``ALL_WORDS_ENOUGH`` hold them all. On common words an OR query matches most of the
    table, so it runs only when the AND query found little, and then ranks only the
    matches that could have keyword evidence (store/bm25.py: 9-37 ms for this whole
    function at 100k on the benchmark's queries, 55-76 ms when FTS5 scored every match)."""
    every = fts_query(query, "AND")
    if every is None:
        return [], 0
    keywords = backend_of(db).keywords
    hits = [(i, b, True) for i, b in keywords.keyword_search(db, every, filters, pool)]
    anyword = fts_query(query, "OR")
    if len(hits) < ALL_WORDS_ENOUGH and anyword is not None and anyword != every:
        seen = {memory_id for memory_id, _, _ in hits}
        more = keywords.keyword_search(db, anyword, filters, pool)
        hits += [(i, b, False) for i, b in more if i not in seen][: pool - len(hits)]
    return hits, keywords.indexed_count(db) if hits else 0


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
    pool = max(POOL, limit)
    ranked: dict[int, Ranked] = {}
    model: Embedder | None = None
    pending = unscanned = 0
    query_vector = b""
    # hybrid: the keyword query runs on a second connection while this thread embeds
    # the query and runs the KNN (SQLite releases the GIL): ~max(30, 30) ms, not the sum
    background = _keyword_in_background(db, query, filters, pool) if mode == "hybrid" else None
    try:
        if mode != "keyword":
            model = embedder()
            if model is not None:
                if not filters.archived:
                    fill(db, model, backlog_limit, filters.tenant)
                    pending = backend_of(db).vectors.pending_count(
                        db, model.model_id, filters.tenant
                    )
                query_vector = model.embed([query])[0]
                unscanned = _semantic(db, model, query_vector, filters, pool, ranked)
    finally:
        if background is not None:
            # never leave the worker on the sibling connection: if this thread raised,
            # the caller may close the database while the worker is still reading it
            # (a segfault inside SQLite, seen in CI)
            wait([background])
    semantic_only = mode == "semantic" and model is not None
    hits: list[KeywordHit] = []
    indexed = 0
    if background is not None:
        hits, indexed = background.result()
    elif not semantic_only or pending or filters.archived:
        hits, indexed = _keyword_hits(db, query, filters, pool)
        if semantic_only and model is not None:
            # keyword evidence only for memories that have no vector yet
            waiting = backend_of(db).vectors.pending_ids(
                db, [i for i, _, _ in hits], model.model_id
            )
            hits = [hit for hit in hits if hit[0] in waiting]
    for rank, (memory_id, bm25, every_word) in enumerate(hits, start=1):
        entry = ranked.setdefault(memory_id, Ranked())
        entry.bm25, entry.keyword_rank, entry.every_word = bm25, rank, every_word
        # every-word matches come first in ``hits``: their rank is their rank among them
        entry.keyword = (
            keyword_evidence(rank, bm25, indexed)
            if every_word
            else keyword_evidence(None, bm25, indexed, partial_rank=rank)
        )
    if model is not None:
        _similarities(db, model.model_id, query_vector, ranked)
    scored = sorted(
        ((score(mode, r), memory_id, r) for memory_id, r in ranked.items() if supported(mode, r)),
        key=lambda item: (-item[0], item[2].bm25 or 0.0, item[1]),
    )
    scored = [item for item in scored if item[0] >= min_score][:limit]
    memories = get_many(db, [memory_id for _, memory_id, _ in scored], filters.archived)
    hits_out = [
        Hit(memories[memory_id], round(value, 4), parts(r))
        for value, memory_id, r in scored
        if memory_id in memories
    ]
    model_id = model.model_id if model else None
    return SearchResult(query, mode, hits_out, pending, model_id, unscanned)


def _keyword_in_background(
    db: Database, query: str, filters: Filters, pool: int
) -> "Future[KeywordHits] | None":
    """Run the keyword ranking on its own connection in a worker thread (None for an
    in-memory database, which a second connection cannot see)."""
    other = db.sibling()
    if other is None:
        return None

    def work() -> KeywordHits:
        assert other is not None
        return _keyword_hits(other, query, filters, pool)

    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(work)
    executor.shutdown(wait=False)
    return future


def _semantic(
    db: Database,
    model: Embedder,
    query_vector: bytes,
    filters: Filters,
    pool: int,
    ranked: dict[int, Ranked],
) -> int:
    """The ``pool`` nearest memories that pass the filters, with their ranks; returns how
    many vectors waiting outside a search graph the KNN could not scan."""
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
    engine = backend_of(db)
    k = min(engine.vectors.MAX_K, pool * (4 if post_filtered else 1) + 10)
    found = engine.vectors.knn(
        db,
        query_vector,
        k,
        model.model_id,
        filters.tenant,
        exact_namespace,
        filters.archived,
        oversample=KNN_OVERSAMPLE,
    )
    allowed = engine.keywords.filter_ids(db, [memory_id for memory_id, _ in found], filters)
    rank = 0
    for memory_id, distance in found:
        if memory_id not in allowed:
            continue
        rank += 1
        entry = ranked.setdefault(memory_id, Ranked())
        entry.similarity, entry.semantic_rank = 1.0 - distance, rank
        if rank >= pool:
            break
    return engine.vectors.unscanned_count(db, filters.tenant, exact_namespace, filters.archived)


def _similarities(
    db: Database, model_id: str, query_vector: bytes, ranked: dict[int, Ranked]
) -> None:
    """Real similarities for keyword matches outside the semantic candidates (their
    vectors are looked up: a few dozen rows), and every candidate's redundancy among the
    semantic candidates. Memories with no vector of this model stay without similarity."""
    import numpy as np

    loaded = backend_of(db).vectors.load(db, list(ranked))
    stored = {
        memory_id: vector
        for memory_id, (vector_model, vector) in loaded.items()
        if vector_model == model_id
    }
    if not stored:
        return
    ids = list(stored)
    matrix = np.frombuffer(b"".join(stored[i] for i in ids), dtype=np.float32).reshape(len(ids), -1)
    query = np.frombuffer(query_vector, dtype=np.float32)
    similarity = matrix @ query
    neighbours = [n for n, i in enumerate(ids) if ranked[i].semantic_rank is not None]
    redundancy = _redundancy(matrix, neighbours)
    for n, memory_id in enumerate(ids):
        entry = ranked[memory_id]
        if entry.similarity is None:
            entry.similarity = float(similarity[n])
        entry.redundancy = float(redundancy[n])


def _redundancy(matrix: Any, neighbours: list[int]) -> Any:
    """Each row's mean cosine to its ``REDUNDANCY_NEIGHBOURS`` most similar rows among
    ``neighbours`` (itself excluded); 0 when there are no others."""
    import numpy as np

    count = min(REDUNDANCY_NEIGHBOURS, len(neighbours) - 1)
    if count < 1:
        return np.zeros(len(matrix), dtype=np.float32)
    sims = matrix @ matrix[neighbours].T
    for column, row in enumerate(neighbours):
        sims[row, column] = -np.inf  # a memory is not its own neighbour
    top = -np.partition(-sims, count - 1, axis=1)[:, :count]
    return top.mean(axis=1)
