"""How ``search.ranking`` scores a candidate from the two sides' evidence (every part
is shown by ``search --explain``; the figures come from ``scripts/eval_search.py``, see
docs/search.md):

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
"""

from dataclasses import dataclass
from typing import Any

from memctl.store.bm25 import rare_word

REDUNDANCY_WEIGHT = 0.3
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


def keyword_evidence(
    every_word_rank: int | None, bm25: float, indexed: int, partial_rank: int | None = None
) -> float:
    """Keyword evidence (0-1) of a match: ``1/r`` for the r-th memory holding every word
    of the query, and a measure of the distinctive words it holds, whichever is larger;
    a partial match (``partial_rank``: its rank among all keyword matches) holding more
    than one rare word's worth gets at least ``PARTIAL_RANK / partial_rank``."""
    # the bm25 of a word found once; the backends rank only the matches that could
    # reach it when their words match many memories (store/bm25.py)
    shared = -bm25 / max(0.5, rare_word(indexed))
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
