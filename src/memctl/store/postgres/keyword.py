"""PostgreSQL's keywords (``backend.KeywordIndex``): each memory's ``tsvector`` (English
stemming, as SQLite's porter tokenizer) in ``keywords`` with a GIN index, scored as bm25
on FTS5's scale.

Why not ``ts_rank``: it has no inverse document frequency, and its values (0.06 for one
matching word, 0.1 for two) are on no scale the fusion in ``search/ranking.py`` knows.
The fusion reads FTS5's bm25 (negative, lower is better), so this module computes the
same formula in SQL:

    bm25(D) = - sum over query words w present in D of
              idf(w) * (k1 + 1) / (1 + k1 * (1 - b + b * |D| / avgdl))
    idf(w)  = ln((N - n(w) + 0.5) / (n(w) + 0.5)), at least 1e-6     (k1 = 1.2, b = 0.75)

with two differences from FTS5, both from what a ``tsvector`` keeps: a word counts once
however often it occurs (term presence, not frequency), and ``|D|`` counts distinct
words. ``n(w)`` (how many memories hold ``w``) is counted exactly up to ``DF_CAP`` and
taken as ``DF_CAP`` above it (a word in more memories than that has an idf within
~ln(N / DF_CAP) of zero anyway); ``N`` and ``avgdl`` come from the table's statistics
(or a count on a small table that has none yet).

At most ``CANDIDATES`` matching memories per word are scored (a common word can match
most of a large table; FTS5 scores them all, 38 ms at 100k): every match of the rarer
words, and as many of a common word's as the cap allows.
"""

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from memctl.store.batch import chunks, marks
from memctl.store.filters import Filters, where_clause
from memctl.store.postgres import dialect

if TYPE_CHECKING:
    from memctl.store.db import Database

CONFIG = "english"
MAX_TEXT_CHARS = 262_144  # a tsvector holds at most 1 MB
DF_CAP = 10_000
CANDIDATES = 5_000
RERANK = 200  # candidates scored with term counts, after a first cut by term presence
K1, B = 1.2, 0.75
STATS_ROWS = 10_000  # below this many rows, count exactly rather than trust statistics


_QUOTED = re.compile(r'"(\w+)"', re.UNICODE)


def _tsquery(count: int) -> list[str]:
    return [f"plainto_tsquery('{CONFIG}', ?)" for _ in range(count)]


def words(match: str) -> tuple[list[str], bool]:
    """The quoted words of a query as search builds it (``search.ranking.fts_query``:
    quoted words joined by ``AND`` or ``OR``), and whether all must match."""
    return _QUOTED.findall(match), " OR " not in match


def add(db: "Database", items: Sequence[tuple[int, str]]) -> None:
    """Index rows for new memories: (memory id, search text)."""
    if not items:
        return
    db.executemany(
        "INSERT INTO keywords (memory_id, terms) "
        f"VALUES (?, to_tsvector('{CONFIG}', left(?, {MAX_TEXT_CHARS})))",
        items,
    )


def drop(db: "Database", ids: Sequence[int]) -> None:
    for chunk in chunks(list(ids)):
        db.execute(f"DELETE FROM keywords WHERE memory_id IN ({marks(chunk)})", chunk)


def indexed_count(db: "Database") -> int:
    estimate = db.scalar("SELECT reltuples FROM pg_class WHERE oid = 'keywords'::regclass")
    if estimate is not None and float(estimate) >= STATS_ROWS:
        return int(estimate)
    return int(db.scalar("SELECT count(*) FROM keywords"))


def _lengths(db: "Database") -> tuple[float, float]:
    """Mean distinct words and mean words per memory, from ``STATS_ROWS`` rows."""
    row = db.one(
        "SELECT avg(length(terms)), avg((SELECT coalesce(sum(array_length(u.positions, 1)), "
        "0) FROM unnest(terms) u)) FROM (SELECT terms FROM keywords LIMIT ?) s",
        (STATS_ROWS,),
    )
    return float(row[0] or 1.0), float(row[1] or 1.0)


def keyword_search(
    db: "Database", match: str, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """(id, bm25) best first, bm25 on FTS5's scale (negative, lower is better)."""
    found, every = words(match)
    if not found:
        return []
    # per word: how many memories hold it (up to DF_CAP), or -1 for a word the English
    # configuration drops (a stop word: it constrains nothing, as in PostgreSQL); and
    # its lexemes (what the tsvector keeps of it)
    stats = db.one(
        "SELECT "
        + ", ".join(
            f"(CASE WHEN numnode({q}) = 0 THEN -1 ELSE (SELECT count(*) FROM "
            f"(SELECT 1 FROM keywords WHERE terms @@ {q} LIMIT ?) s{i}) END), "
            f"tsvector_to_array(to_tsvector('{CONFIG}', ?))"
            for i, q in enumerate(_tsquery(len(found)))
        ),
        [value for word in found for value in (word, word, DF_CAP, word)],
    )
    held = [
        (word, int(stats[2 * i]), list(stats[2 * i + 1] or []))
        for i, word in enumerate(found)
        if int(stats[2 * i]) != -1
    ]
    present = sorted((item for item in held if item[1] > 0), key=lambda item: item[1])
    if not present or (every and len(present) < len(held)):
        return []  # a word no memory holds: none holds them all
    total = max(indexed_count(db), 1)
    idf = [max(1e-6, math.log((total - n + 0.5) / (n + 0.5))) for _, n, _ in present]
    distinct, tokens = _lengths(db)
    table = "archive" if filters.archived else "memories"
    where, where_params = where_clause(filters, dialect, alias="m")
    one = _tsquery(1)[0]
    sql: list[str] = []
    params: list[Any] = []

    def source(query: str, words: list[str]) -> None:
        sql.append(
            f"(SELECT k.memory_id, k.terms FROM keywords k JOIN {table} m "
            f"ON m.id = k.memory_id WHERE k.terms @@ {query} AND {where} LIMIT ?)"
        )
        params.extend([*words, *where_params, CANDIDATES])

    # candidates: every match, up to CANDIDATES per word (all of the rarer words')
    sql.append("WITH c AS (SELECT DISTINCT ON (memory_id) memory_id, terms FROM (")
    if every or sum(n for _, n, _ in present) <= CANDIDATES:
        source(
            "(" + (" && " if every else " || ").join(_tsquery(len(present))) + ")",
            [word for word, _, _ in present],
        )
    else:
        for index, (word, _, _) in enumerate(present):
            if index:
                sql.append(" UNION ALL ")
            source(one, [word])
    # a first cut by which words each holds (cheap), then bm25 with term counts
    presence = " + ".join(
        f"(CASE WHEN terms @@ {one} THEN {weight!r} ELSE 0 END)" for weight in idf
    )
    sql.append(
        f") u), pre AS (SELECT memory_id, terms FROM c ORDER BY ({presence}) / "
        f"(1 + {K1} * (1 - {B} + {B} * length(terms) / {distinct!r})) DESC, memory_id "
        "LIMIT ?), counted AS (SELECT memory_id, "
        "(SELECT coalesce(sum(array_length(u.positions, 1)), 0) FROM unnest(terms) u) AS dl"
    )
    params.extend([word for word, _, _ in present])
    params.append(RERANK)
    for index, (_, _, lexemes) in enumerate(present):
        sql.append(
            ", (SELECT coalesce(sum(array_length(u.positions, 1)), 0) FROM unnest(terms) u "
            f"WHERE u.lexeme = ANY(?)) AS tf{index}"
        )
        params.append(lexemes)
    norm = f"{K1} * (1 - {B} + {B} * dl / {tokens!r})"
    score = " + ".join(
        f"{weight * (K1 + 1)!r} * tf{index} / (tf{index} + {norm})"
        for index, weight in enumerate(idf)
    )
    sql.append(f" FROM pre) SELECT memory_id, -({score}) AS bm25 FROM counted ")
    sql.append("ORDER BY bm25, memory_id LIMIT ?")
    params.append(limit)
    rows = db.all("".join(sql), params)
    return [(int(row[0]), float(row[1])) for row in rows]


def replace(db: "Database", memory_id: int, text: str) -> None:
    """A memory's new search text."""
    drop(db, [memory_id])
    add(db, [(memory_id, text)])


def filter_ids(db: "Database", ids: list[int], filters: Filters) -> set[int]:
    """The subset of ``ids`` that satisfy ``filters``."""
    if not ids:
        return set()
    table = "archive" if filters.archived else "memories"
    where, params = where_clause(filters, dialect)
    rows = db.all(f"SELECT id FROM {table} WHERE id IN ({marks(ids)}) AND {where}", [*ids, *params])
    return {int(row[0]) for row in rows}
