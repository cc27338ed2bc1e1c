"""Hybrid search: sqlite-vec similarity with FTS5 keyword evidence.

How a memory's score is built (all parts are shown by ``search --explain``; the figures
come from ``scripts/eval_search.py``, see docs/search.md):

- ``similarity``: the cosine of the query's and the memory's vectors.
- ``redundancy``: the memory's mean cosine to its 20 most similar memories among the
  query's 100 nearest. Agent stores hold many near-copies (status updates and progress
  notes written by the same code); such a memory sits close to every query about its
  topic and answers none. Subtracting 0.3 × redundancy lifted semantic recall@5 on
  paraphrased questions from 0.59 to 0.74 in the eval's 2,600-memory store and left the
  ~80-memory stores where they were (0.86 to 0.87).
- ``semantic`` = similarity − 0.3 × redundancy − min(0.15, redundancy above both 0.4 and
  the similarity) (the score of ``--mode semantic``): near-copies cost more.
- ``keyword`` (0-1): 1/r for the r-th best memory holding every word of the query;
  for any memory, how many distinctive query words it holds, mapping 1 word to 0 and
  2.5 or more to 1: bm25 divided by the idf of a word found in one memory only
  (ln((N - 0.5) / 1.5) for N memories indexed) is about that count. The larger of the
  two; a partial match holding more than one rare word's worth, at least 0.2/r as the
  r-th keyword match. ``--mode keyword`` ranks
  by it (ties by bm25: the plain FTS5 order).
- ``hybrid`` = semantic + 0.25 × keyword, over the semantic candidates and the keyword
  matches that have keyword evidence (``supported``).

Why this fusion: the first version used the keyword score (bm25 squashed to 0-1) as the
similarity of every keyword match outside the semantic candidates, so one common word
shared with hundreds of memories outranked every paraphrase (eval: hybrid recall@5
0.28, semantic 0.75). Every keyword match with a stored vector now gets its real
similarity, and keyword evidence is a bonus on a rank scale: bm25's magnitude grows
with the store and with the number of words matched, so on a squashed scale any weight
that helped identifier queries in a 2,600-memory store drowned paraphrases (0.2 ×
squashed bm25: paraphrase recall@5 0.34). Reciprocal rank fusion (1/(k + rank) on both
sides) lost to semantic on paraphrases for every k tried (10-60): a rank says nothing
about how close the best paraphrase is. A memory sharing one word with the query is no
evidence (paraphrases share only such words with wrong memories); one holding all the
query's words, or several rare ones, is (identifiers, names, questions that quote two
memories). The weights were chosen on the eval's calibration half of the queries and
hold on the other half (docs/search.md).

A memory whose embedding is still pending has no similarity: half its keyword evidence
stands in for its semantic part, so pending memories are found by keyword in every
mode, below the memories that have both kinds of evidence.

The ranking does not depend on how many results are asked for: both candidate lists
are 100 deep (deeper only for ``--limit`` above 100).
"""

import math
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from memctl.embeddings import Embedder
from memctl.models import Hit, SearchResult
from memctl.search.backlog import fill
from memctl.store.backend import backend_of
from memctl.store.db import Database
from memctl.store.memories import Filters, get_many

MODES = ("hybrid", "semantic", "keyword")
POOL = 100  # candidates from each side, whatever the limit
REDUNDANCY_WEIGHT = 0.3
REDUNDANCY_NEIGHBOURS = 20
# Near-copies: a memory more similar to its neighbours than to the query (redundancy
# above its similarity) and redundant beyond NEAR_COPY pays NEAR_COPY_WEIGHT more for
# each unit of redundancy above max(NEAR_COPY, similarity). The eval's hand-written
# memories sit at 0.2-0.45 (mean cosine to their 20 nearest candidates), its templated
# near-copies (status notes, progress logs) at 0.5-0.75 with similarities ~0.4, which a
# linear weight cannot push below distinct answers without costing the small stores
# (0.4 x redundancy: large 0.883 -> 0.892, small 0.947 -> 0.938). With the hinge:
# large store hybrid recall@5 0.883 -> 0.901, MRR 0.800 -> 0.813 (paraphrases 0.726 ->
# 0.774), small stores 0.947 as before; pre-task as before (large: precision 0.90,
# the same 109 questions answered). Chosen on the calibration half of the queries
# (hinge 0.2-1.0, knee 0.35-0.5; large 0.919 -> 0.936); holdout half: large 0.842 ->
# 0.861, small 0.916 both. Without "above its similarity", memories very close to the
# query and so to each other (the same fact stored six times) were pushed under the
# pre-task bar together, and weight 1.0 cost pre-task three right memories. The extra
# is capped at NEAR_COPY_CAP (0.15 measures the same as no cap) so that no memory drops
# below 0 and out of the results only for having copies.
NEAR_COPY = 0.4
NEAR_COPY_WEIGHT = 1.0
NEAR_COPY_CAP = 0.15
KEYWORD_WEIGHT = 0.25
SHARED_WORDS = (1.0, 2.5)  # distinctive query words held: keyword evidence 0 and 1
# A match holding only part of the query's words but more than one rare word's worth
# (1.05: bm25's length normalisation puts a lone rare word at 0.9-1.05) gets at least
# PARTIAL_RANK / r as the r-th keyword match: the keyword side's best guesses when no
# memory holds every word (two-part questions, a name plus a topic). Eval, large store:
# hybrid recall@5 0.876 -> 0.883 (keyword queries 0.976 -> 0.988, two-memory questions
# 0.954 -> 0.963), the small stores unchanged; 0.2-0.5 measure the same, and 1.0 instead
# of 1.05 let one-word matches lift paraphrase distractors (paraphrase MRR 0.525 -> 0.519).
PARTIAL_RANK = 0.2
PARTIAL_WORDS = 1.05
PENDING_STAND_IN = 0.5  # × keyword evidence, for a memory with no vector yet
# Hamming candidates per neighbour kept (at least 256, as before the 100-deep pool):
# vec0's binary KNN costs about in proportion to them at 100k memories (256: ~95 ms,
# 440: ~180 ms on a busy 2-core machine; 37 ms for 256 measured quiet), which the 50 ms
# budget cannot take. 4 x 110 = 440 would find 2 more of the 82 paraphrases in the
# eval's large store (hybrid recall@5 0.881 against 0.872, before the partial-match
# rule); 620 candidates 0.890 against 0.883 with it, the exact 100 nearest 0.888 (both
# before the near-copy rule).
KNN_OVERSAMPLE = 2
ALL_WORDS_ENOUGH = 10  # matches holding every word; fewer and any word counts too
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass
class Ranked:
    """One candidate's evidence from each side."""

    similarity: float | None = None
    redundancy: float = 0.0
    semantic_rank: int | None = None
    keyword: float = 0.0
    keyword_rank: int | None = None
    every_word: bool = False  # holds every word of the query
    bm25: float | None = None

    @property
    def semantic(self) -> float:
        if self.similarity is None:
            return PENDING_STAND_IN * self.keyword
        return self.similarity - redundancy_penalty(self.redundancy, self.similarity)


def redundancy_penalty(redundancy: float, similarity: float) -> float:
    """What a memory's redundancy costs its semantic score: linear, and steeper for a
    near-copy (redundant beyond ``NEAR_COPY`` and beyond its similarity to the query)."""
    near_copy = max(0.0, redundancy - max(NEAR_COPY, similarity))
    return REDUNDANCY_WEIGHT * redundancy + min(NEAR_COPY_CAP, NEAR_COPY_WEIGHT * near_copy)


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
    ``ALL_WORDS_ENOUGH`` hold them all. On common words an OR query makes FTS5 score most
    of the table (38 ms at 100k), so it runs only when the AND query found little."""
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


def keyword_evidence(
    every_word_rank: int | None, bm25: float, indexed: int, partial_rank: int | None = None
) -> float:
    """Keyword evidence (0-1) of a match: ``1/r`` for the r-th memory holding every word
    of the query, and a measure of the distinctive words it holds, whichever is larger;
    a partial match (``partial_rank``: its rank among all keyword matches) holding more
    than one rare word's worth gets at least ``PARTIAL_RANK / partial_rank``."""
    rare_word = max(0.5, math.log((indexed - 0.5) / 1.5))  # FTS5's idf, df = 1
    shared = -bm25 / rare_word
    low, high = SHARED_WORDS
    evidence = min(1.0, max(0.0, (shared - low) / (high - low)))
    if every_word_rank is not None:
        evidence = max(evidence, 1.0 / every_word_rank)
    elif partial_rank is not None and shared >= PARTIAL_WORDS:
        evidence = max(evidence, PARTIAL_RANK / partial_rank)
    return evidence


def supported(mode: str, r: Ranked) -> bool:
    """Whether a candidate has evidence to be ranked at all. In hybrid mode a memory with
    a vector that is not among the query's semantic candidates is there only for its
    keyword match: without keyword evidence (it shares one common word with the query)
    it is dropped. Its redundancy is measured against a neighbourhood it is no part of,
    so it comes out low and lifted such a memory over true candidates: in the eval's
    2,600-memory store one paraphrase lost its answer to one (hybrid recall@5 on
    paraphrases 0.713, against 0.726 for semantic; 0.726 with this rule)."""
    return not (
        mode == "hybrid"
        and r.semantic_rank is None
        and r.similarity is not None
        and r.keyword <= 0.0
    )


def score(mode: str, r: Ranked) -> float:
    if mode == "keyword":
        return r.keyword
    if mode == "semantic":
        return r.semantic
    return r.semantic + KEYWORD_WEIGHT * r.keyword


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
    pending = 0
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
                _semantic(db, model, query_vector, filters, pool, ranked)
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
    return SearchResult(query, mode, hits_out, pending, model.model_id if model else None)


def parts(r: Ranked) -> dict[str, Any]:
    """A hit's evidence, each part on the scale it is fused on (``bm25`` is FTS5's raw
    value, lower is better, kept for the curious; it is not fused as such)."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {
        "similarity": rounded(r.similarity),
        "redundancy": rounded(r.redundancy) if r.similarity is not None else None,
        "semantic": round(r.semantic, 4),
        "keyword": round(r.keyword, 4),
        "semantic_rank": r.semantic_rank,
        "keyword_rank": r.keyword_rank,
        "every_word": r.every_word,
        "bm25": rounded(r.bm25),
    }


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
) -> None:
    """The ``pool`` nearest memories that pass the filters, with their ranks."""
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
