"""What both keyword backends know of bm25 (FTS5's, which PostgreSQL's computes in SQL):
its constants, its idf, and which memories of a many-word query could have keyword
evidence at all, so that a backend reads only those when the words match too many
memories to score them all (``store/keyword.py``, ``store/postgres/keyword.py``).

    bm25(D) = - sum over query words w present in D of
              idf(w) * (k1 + 1) * tf / (tf + k1 * (1 - b + b * |D| / avgdl))
    idf(w)  = ln((N - n(w) + 0.5) / (n(w) + 0.5)), at least 1e-6     (k1 = 1.2, b = 0.75)

A word adds less than (k1 + 1) x its idf whatever its count ``tf`` and the memory's
length. A memory holding a word found once scores about that word's idf,
ln((N - 0.5) / 1.5) (``rare_word``), and keyword evidence (``search/scoring.py``) starts
there: a memory whose words' (k1 + 1) x idf add up to less has none, and ranks below
every memory that has some (matches are ranked by bm25).
"""

import math
import re
from collections.abc import Sequence
from itertools import combinations
from typing import TypeVar

K1, B = 1.2, 0.75
COMBINED = 10  # common words of a query combined (2^10 sets at most)

T = TypeVar("T")

_QUOTED = re.compile(r'"(\w+)"', re.UNICODE)


def words(match: str) -> tuple[list[str], bool]:
    """The quoted words of a query as search builds it (``search.ranking.fts_query``:
    quoted words joined by ``AND`` or ``OR``), and whether all must match."""
    return _QUOTED.findall(match), " OR " not in match


def idf(indexed: int, holding: int) -> float:
    """FTS5's idf of a word ``holding`` of ``indexed`` memories hold."""
    return max(1e-6, math.log((indexed - holding + 0.5) / (holding + 0.5)))


def rare_word(indexed: int) -> float:
    """The bm25 of a word found once, about its idf (not floored: negative below two
    memories): where keyword evidence starts."""
    return math.log((indexed - 0.5) / 1.5)


def alone(weight: float, bound: float) -> bool:
    """Whether a word of idf ``weight`` could reach ``bound`` by itself."""
    return (K1 + 1) * weight >= bound


def enough_together(common: Sequence[tuple[T, float]], bound: float) -> list[list[T]]:
    """The smallest sets of the (item, idf) ``common`` whose bm25 together could reach
    ``bound`` ((k1 + 1) x the sum of their idf), among the ``COMBINED`` rarest."""
    rarest = sorted(common, key=lambda item: -item[1])[:COMBINED]
    found: list[tuple[int, ...]] = []
    for size in range(2, len(rarest) + 1):
        for group in combinations(range(len(rarest)), size):
            if any(set(smaller) <= set(group) for smaller in found):
                continue
            if (K1 + 1) * sum(rarest[i][1] for i in group) >= bound:
                found.append(group)
    return [[rarest[i][0] for i in group] for group in found]
