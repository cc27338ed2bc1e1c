"""PostgreSQL's keywords (``backend.KeywordIndex``): each memory's ``tsvector`` (English
stemming, as SQLite's porter tokenizer) in ``keywords`` with a GIN index, scored as bm25
on FTS5's scale.

Why not ``ts_rank``: it has no inverse document frequency, and its values (0.06 for one
matching word, 0.1 for two) are on no scale the fusion in ``search/ranking.py`` knows.
The fusion reads FTS5's bm25 (negative, lower is better), so this module computes the
same formula in SQL (``store/bm25.py``), with ``tf`` the word's occurrences in D, ``|D|``
its words and ``avgdl`` their mean, as FTS5 has it. ``N`` comes from the table's
statistics (or a count on a small table that has none yet). How each part is found,
and what it costs at 1M memories (measured on the bench database of
``scripts/bench_postgres.py``, docs/storage.md):

- ``n(w)``, how many memories hold ``w``: counted exactly up to ``DF_CAP`` on a small
  table; on a large one (``STATS_ROWS`` rows or more) up to ``DF_EXACT``, and above
  that read from the column statistics (``_counts``): counting is reading every match.
- Candidates: every match when the query's words match at most ``CANDIDATES``
  memories in all, or when every word must match (up to ``CANDIDATES``). Otherwise only
  the memories that could reach the bm25 of a word found once: every match of a rare
  word, and the memories holding enough common words together (``keyword_search``).
  SQLite reads the same memories (``store/keyword.py``). Reading 5,000 matches of each
  common word instead took 100-600 ms at 1M, this 1-35 ms.
- A first cut of ``RERANK`` by which words each candidate holds (term presence, over
  distinct words), then bm25 with term counts, one pass over each one's lexemes.
- ``avgdl`` and the distinct-word mean from 10,000 rows, kept for ``STATS_SECONDS`` on
  a large table (``_Large``), as are the counts read from the statistics.

Words are split as FTS5's unicode61 splits them (``document``): PostgreSQL's parser
keeps hosts, paths, versions and e-mail addresses whole (``db.r6g.xlarge`` is one
token), which the query's words (``db``, ``r6g``, ``xlarge``) never match.
"""

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memctl.store.batch import chunks, marks
from memctl.store.bm25 import K1, B, alone, enough_together, idf, rare_word, words
from memctl.store.filters import Filters, where_clause
from memctl.store.postgres import dialect

if TYPE_CHECKING:
    from memctl.store.db import Database

CONFIG = "english"
MAX_TEXT_CHARS = 262_144  # a tsvector holds at most 1 MB
DF_CAP = 10_000
DF_EXACT = 1_000  # on a large table, counted exactly up to here (``_counts``)
CANDIDATES = 5_000
RERANK = 200  # candidates scored with term counts, after a first cut by term presence
STATS_ROWS = 10_000  # below this many rows, count exactly rather than trust statistics
STATS_SECONDS = 300.0  # how long a large table's sizes and word counts are reused


# What unicode61 (SQLite's FTS5 tokenizer) separates words with: every character that
# is not a letter or a digit, underscore included. Python's ``\w`` is Unicode letters
# and numbers plus ``_``. Checked against FTS5 itself over every code point (SQLite
# 3.40): the same, except combining marks and private-use characters, which unicode61
# keeps inside a word and PostgreSQL's parser splits on anyway, and characters newer
# than SQLite's Unicode tables. Done here in Python, not with ``regexp_replace`` in the
# SQL: PostgreSQL's ``[[:alnum:]]`` follows the database's locale (under "C" no
# non-ASCII letter is one, so ``café`` would lose its ``é``), and Python's is the same
# on every server. With the split, the parser sees only words and single spaces, so
# its special tokens (hosts, URLs, paths, numbers like ``3.14``, ``<tags>`` it drops)
# never form; English stemming and stop words apply to the words as before.
_SEPARATORS = re.compile(r"[\W_]+")


def _tsquery(count: int) -> list[str]:
    return [f"plainto_tsquery('{CONFIG}', ?)" for _ in range(count)]


def document(text: str) -> str:
    """A memory's search text as the ``tsvector`` is made from: its words, split as
    unicode61 splits them, one space between."""
    return _SEPARATORS.sub(" ", text)


def add(db: "Database", items: Sequence[tuple[int, str]]) -> None:
    """Index rows for new memories: (memory id, search text)."""
    if not items:
        return
    db.executemany(
        "INSERT INTO keywords (memory_id, terms) "
        f"VALUES (?, to_tsvector('{CONFIG}', left(?, {MAX_TEXT_CHARS})))",
        [(memory_id, document(text)) for memory_id, text in items],
    )


def drop(db: "Database", ids: Sequence[int]) -> None:
    for chunk in chunks(list(ids)):
        db.execute(f"DELETE FROM keywords WHERE memory_id IN ({marks(chunk)})", chunk)


# ------------------------------------------------------------------ table figures


@dataclass
class _Large:
    """What the searches of a large table (``STATS_ROWS`` rows or more) reuse for
    ``STATS_SECONDS``: its size, its mean lengths (from 10,000 rows: 70-180 ms at 1M on
    a busy machine, and every hybrid search computed them twice), the column
    statistics' frequent lexemes, and the counts of the words held by more than
    ``DF_EXACT`` memories."""

    at: float
    indexed: int
    lengths: tuple[float, float] | None = None
    frequent: dict[str, float] | None = None  # lexeme -> fraction of rows holding it
    counts: dict[str, tuple[int, list[str]]] = field(default_factory=dict)


# by database URL: a hybrid search's two connections (and a server's) share them
_LARGE: dict[str, _Large] = {}


def _large(db: "Database") -> _Large | None:
    """The figures a large table's searches reuse; None for a small table, whose
    figures every search computes afresh (exact, and cheap there)."""
    key = str(db.location)
    cached = _LARGE.get(key)
    if cached is not None and time.monotonic() - cached.at < STATS_SECONDS:
        return cached
    estimate = db.scalar("SELECT reltuples FROM pg_class WHERE oid = 'keywords'::regclass")
    if estimate is None or float(estimate) < STATS_ROWS:
        _LARGE.pop(key, None)
        return None
    _LARGE[key] = _Large(time.monotonic(), int(estimate))
    return _LARGE[key]


def indexed_count(db: "Database") -> int:
    large = _large(db)
    if large is not None:
        return large.indexed
    return int(db.scalar("SELECT count(*) FROM keywords"))


def _lengths(db: "Database") -> tuple[float, float]:
    """Mean distinct words and mean words per memory, from ``STATS_ROWS`` rows."""
    large = _large(db)
    if large is not None and large.lengths is not None:
        return large.lengths
    row = db.one(
        "SELECT avg(length(terms)), avg((SELECT coalesce(sum(array_length(u.positions, 1)), "
        "0) FROM unnest(terms) u)) FROM (SELECT terms FROM keywords LIMIT ?) s",
        (STATS_ROWS,),
    )
    lengths = float(row[0] or 1.0), float(row[1] or 1.0)
    if large is not None:
        large.lengths = lengths
    return lengths


def _frequent(db: "Database", large: _Large) -> dict[str, float]:
    """The column statistics' most common lexemes (``ANALYZE``: the ~500-1,000 most
    frequent of a sample of 30,000 rows) with the fraction of rows holding each."""
    if large.frequent is None:
        row = db.one(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'keywords' "
            "AND attname = 'terms'"
        )
        large.frequent = (
            dict(zip(row[0], row[1], strict=False)) if row is not None and row[0] else {}
        )
    return large.frequent


def _counts(db: "Database", found: list[str]) -> dict[str, tuple[int, list[str]]]:
    """Per word: how many memories hold it, or -1 for a word the English configuration
    drops (a stop word: it constrains nothing, as in PostgreSQL); and its lexemes (what
    the tsvector keeps of it).

    Counting is reading every matching row (a bitmap heap scan: ~1.5 us a row, 15 ms
    for a word held by 10,000 of 1M memories), so on a large table a word is counted
    only up to ``DF_EXACT``; above, its count is the column statistics' frequency of its
    lexeme times the table's rows (sampled: within a few per cent, and exact enough for
    an idf), or, without statistics, counted on up to ``DF_CAP``."""
    large = _large(db)
    cached = large.counts if large is not None else {}
    wanted = [word for word in dict.fromkeys(found) if word not in cached]
    counts = {word: cached[word] for word in found if word in cached}
    if wanted:
        cap = DF_EXACT if large is not None else DF_CAP
        row = db.one(
            "SELECT "
            + ", ".join(
                f"(CASE WHEN numnode({q}) = 0 THEN -1 ELSE {_holding(q)} END), "
                f"tsvector_to_array(to_tsvector('{CONFIG}', ?))"
                for q in _tsquery(len(wanted))
            ),
            [value for word in wanted for value in (word, word, cap + 1, word)],
        )
        fresh = {
            word: (min(int(row[2 * i]), DF_CAP), list(row[2 * i + 1] or []))
            for i, word in enumerate(wanted)
        }
        if large is not None:
            over = [word for word, (n, _) in fresh.items() if n > DF_EXACT]
            frequent = _frequent(db, large) if over else {}
            for word in over:
                lexemes = fresh[word][1]
                share = frequent.get(lexemes[0]) if len(lexemes) == 1 else None
                if share is not None:
                    fresh[word] = (max(DF_EXACT + 1, round(share * large.indexed)), lexemes)
                else:
                    fresh[word] = (_count(db, word), lexemes)
                # only these are reused: a smaller count is cheap to take again, and a
                # word just stored must be found at once
                large.counts[word] = fresh[word]
        counts.update(fresh)
    return counts


def _holding(query: str) -> str:
    """SQL for how many memories match ``query``, counted up to a bound (the next
    parameter, after the query's own): counting is reading every match."""
    return f"(SELECT count(*) FROM (SELECT 1 FROM keywords WHERE terms @@ {query} LIMIT ?) s)"


def _count(db: "Database", word: str) -> int:
    """Memories holding ``word``, counted up to ``DF_CAP``."""
    return int(db.scalar(f"SELECT {_holding(_tsquery(1)[0])}", (word, DF_CAP)))


def _lexeme(text: str) -> str:
    """One lexeme as ``tsquery`` input (quoted; quotes and backslashes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _holds(lexemes: list[str]) -> str:
    """``tsquery`` input matching what ``plainto_tsquery`` of the word matches: every
    lexeme the word gives."""
    return "(" + " & ".join(_lexeme(lexeme) for lexeme in lexemes) + ")"


# ------------------------------------------------------------------ ranking


def keyword_search(
    db: "Database", match: str, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """(id, bm25) best first, bm25 on FTS5's scale (negative, lower is better)."""
    found, every = words(match)
    if not found:
        return []
    counts = _counts(db, found)
    held = [(word, *counts[word]) for word in found if counts[word][0] != -1]
    present = sorted((item for item in held if item[1] > 0), key=lambda item: item[1])
    if not present or (every and len(present) < len(held)):
        return []  # a word no memory holds: none holds them all
    total = max(indexed_count(db), 1)
    weights = [idf(total, n) for _, n, _ in present]
    distinct, tokens = _lengths(db)
    table = "archive" if filters.archived else "memories"
    where, where_params = where_clause(filters, dialect, alias="m")
    one = _tsquery(1)[0]
    sql: list[str] = []
    params: list[Any] = []

    def source(query: str, values: list[str]) -> None:
        if len(sql) > 1:
            sql.append(" UNION ALL ")
        sql.append(
            f"(SELECT k.memory_id, k.terms FROM keywords k JOIN {table} m "
            f"ON m.id = k.memory_id WHERE k.terms @@ {query} AND {where} LIMIT ?)"
        )
        params.extend([*values, *where_params, CANDIDATES])

    sql.append("WITH c AS (SELECT DISTINCT ON (memory_id) memory_id, terms FROM (")
    if every or sum(n for _, n, _ in present) <= CANDIDATES:
        # every match
        source(
            "(" + (" && " if every else " || ").join(_tsquery(len(present))) + ")",
            [word for word, _, _ in present],
        )
    else:
        # Too many matches to read them all (a common word can match most of a large
        # table; reading up to 5,000 matches of each word took 100-600 ms at 1M). So
        # only the memories that could score at least the bm25 of a word found once
        # (ln((N - 0.5) / 1.5)): a word contributes at most (k1 + 1) x its idf, so
        # these hold a rare word (one that alone could), up to CANDIDATES per word, or
        # a set of common words that together could, up to CANDIDATES in all. The rest
        # rank below every memory of average length holding a word found once, and
        # have no keyword evidence (search/scoring.py: less than one rare word's worth).
        bound = rare_word(total)
        rare = [
            word
            for (word, _, _), weight in zip(present, weights, strict=True)
            if alone(weight, bound)
        ]
        common = [
            (lexemes, weight)
            for (_, _, lexemes), weight in zip(present, weights, strict=True)
            if not alone(weight, bound)
        ]
        for word in rare:
            source(one, [word])
        sets = enough_together(common, bound)
        if sets:
            query = " | ".join("(" + " & ".join(_holds(x) for x in group) + ")" for group in sets)
            if rare:  # their memories are in already
                query = f"({query}) & !({' | '.join(_holds(counts[w][1]) for w in rare)})"
            source("?::tsquery", [query])
        if len(sql) == 1:
            return []  # no memory could have keyword evidence
    # a first cut by which words each holds (cheap), then bm25 with term counts
    presence = " + ".join(
        f"(CASE WHEN terms @@ {one} THEN {weight!r} ELSE 0 END)" for weight in weights
    )
    sql.append(
        f") u), pre AS (SELECT memory_id, terms FROM c ORDER BY ({presence}) / "
        f"(1 + {K1} * (1 - {B} + {B} * length(terms) / {distinct!r})) DESC, memory_id "
        "LIMIT ?), counted AS (SELECT p.memory_id, "
        "coalesce(sum(array_length(u.positions, 1)), 0) AS dl"
    )
    params.extend([word for word, _, _ in present])
    params.append(RERANK)
    # one pass over each candidate's lexemes for its length and every word's count
    for index, (_, _, lexemes) in enumerate(present):
        sql.append(
            ", coalesce(sum(array_length(u.positions, 1)) FILTER (WHERE u.lexeme = ANY(?)), "
            f"0) AS tf{index}"
        )
        params.append(lexemes)
    norm = f"{K1} * (1 - {B} + {B} * dl / {tokens!r})"
    score = " + ".join(
        f"{weight * (K1 + 1)!r} * tf{index} / (tf{index} + {norm})"
        for index, weight in enumerate(weights)
    )
    sql.append(" FROM pre p, unnest(p.terms) u GROUP BY p.memory_id) ")
    sql.append(f"SELECT memory_id, -({score}) AS bm25 FROM counted ")
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
