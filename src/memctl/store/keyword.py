"""Keyword search, SQLite's implementation (FTS5, bm25): the index rows of memories and
the ranked search over them. The only module that knows the FTS5 table; its functions
are ``backend.KeywordIndex``."""

import json
from collections.abc import Sequence
from typing import Any

from memctl.store import dialect
from memctl.store.batch import chunks, marks
from memctl.store.bm25 import COMBINED, alone, enough_together, idf, rare_word, words
from memctl.store.columns import FTS_TABLE
from memctl.store.db import Database
from memctl.store.filters import Filters, where_clause


def add(db: Database, items: Sequence[tuple[int, str]]) -> None:
    """Index rows for new memories: (memory id, search text)."""
    if items:
        db.executemany(f"INSERT INTO {FTS_TABLE} (rowid, text) VALUES (?, ?)", items)


def replace(db: Database, memory_id: int, text: str) -> None:
    """A memory's new search text (FTS5 has no upsert: delete, then insert)."""
    db.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = ?", (memory_id,))
    db.execute(f"INSERT INTO {FTS_TABLE} (rowid, text) VALUES (?, ?)", (memory_id, text))


def drop(db: Database, ids: Sequence[int]) -> None:
    """The index rows of memories deleted for good (at most ``batch.BATCH`` ids)."""
    if ids:
        db.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({marks(ids)})", list(ids))


# Every match is ranked when the words match few memories (at 100k, ranking all of 941
# matches of 5 words took 1.2 ms, 2,033 of 11 words 6.5 ms; counting them 0.1-0.3 ms),
# or when reading only those that could have keyword evidence would cost more
# (``_could_have_evidence``).
PLAIN_MATCHES = 2_000
CANDIDATES = 5_000
SET_READS = 15


def keyword_search(
    db: Database, match: str, filters: Filters, limit: int
) -> list[tuple[int, float]]:
    """(id, bm25) best first; bm25 is negative, lower is better. ``match`` is an FTS5
    query built from quoted tokens, never raw user text.

    When any word may match and the words match many memories, only the memories that
    could have keyword evidence are ranked (``_could_have_evidence``). The FTS top
    ``4 * limit`` is ranked without touching the memories table and then filtered by
    rowid (a join costs a lookup for every matching row: 45 ms against 27 ms for the
    44k matches of two common words at 100k memories). When the filters leave too few,
    the join ranks only the memories that pass them (or, among the candidates, the
    candidates that pass them).
    """
    only = _could_have_evidence(db, match)
    if only is not None and not only:
        return []
    fetched = _ranked(db, match, only, limit * 4)
    allowed = filter_ids(db, [memory_id for memory_id, _ in fetched], filters)
    hits = [(memory_id, bm25) for memory_id, bm25 in fetched if memory_id in allowed][:limit]
    if len(hits) == limit or len(fetched) < limit * 4:
        return hits
    if only is not None:
        passing = set().union(*(filter_ids(db, chunk, filters) for chunk in chunks(only)))
        return _ranked(db, match, sorted(passing), limit) if passing else []
    table = "archive" if filters.archived else "memories"
    where, params = where_clause(filters, dialect, alias="m")
    rows: list[Any] = db.all(
        f"SELECT m.id, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "
        f"JOIN {table} m NOT INDEXED ON m.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH ? AND {where} ORDER BY rank LIMIT ?",
        [match, *params, limit],
    )
    return [(int(row[0]), float(row[1])) for row in rows]


def _ranked(
    db: Database, match: str, only: list[int] | None, limit: int
) -> list[tuple[int, float]]:
    """The ``limit`` best matches of ``match`` by bm25, among the ids ``only`` (sorted)
    if given. Their bm25 is the whole query's: FTS5 evaluates it only for the rows that
    pass the WHERE clause, with each word's idf counted over the whole index. The ``+``
    keeps ``rowid IN`` from becoming one FTS5 lookup per id, each of which counts every
    word's matches again (100 ids: 330 ms); tested against the subquery's index instead,
    10-2,000 ids cost 15-25 ms at 100k on a busy machine. Ties in rowid order, as FTS5
    orders them when it ranks every match."""
    if only is None:
        rows = db.all(
            f"SELECT rowid, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "
            f"WHERE {FTS_TABLE} MATCH ? ORDER BY rank LIMIT ?",
            [match, limit],
        )
    else:
        rows = db.all(
            f"SELECT rowid, bm25({FTS_TABLE}) AS rank FROM {FTS_TABLE} "
            f"WHERE {FTS_TABLE} MATCH ? AND rowid BETWEEN ? AND ? "
            "AND +rowid IN (SELECT value FROM json_each(?)) ORDER BY rank, rowid LIMIT ?",
            [match, only[0], only[-1], json.dumps(only), limit],
        )
    return [(int(row[0]), float(row[1])) for row in rows]


def _could_have_evidence(db: Database, match: str) -> list[int] | None:
    """For an any-word query whose words match more than ``PLAIN_MATCHES`` memories in
    all: the memories that could have keyword evidence (sorted ids), or None to rank
    every match.

    FTS5 computes bm25 for every match before it sorts: common words matching ~24k of
    100k memories each cost 55-95 ms for ~100k matches, where no match reached keyword
    evidence; ranking only these, 6-33 ms (docs/search.md, "The keyword list at
    scale"). A memory has evidence only from the bm25 of a word found once
    (``bm25.rare_word``), and a word adds less than (k1 + 1) x its idf: so only the
    matches of a rare word (one that alone could) and the memories holding a set of
    common words that together could are ranked. Every other match would rank after
    all of them and has no evidence; the ranks of those that have some are the same.
    Each word's count is of its quoted token through MATCH, as FTS5 stems it. Every
    match is ranked when the sets would cost more than that: more than ``COMBINED``
    common words, sets reading more than ``SET_READS`` x the matches (7 common words
    needing 5 together, 21 sets: 64 ms against 81 ms for every match; 8 words, 56
    sets: 135 against 95 ms; busy machine), or more than ``CANDIDATES`` of them."""
    found, every = words(match)
    quoted = [f'"{word}"' for word in dict.fromkeys(found)]
    if every or len(quoted) < 2:
        return None
    one = f"(SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)"
    counts = db.one("SELECT " + ", ".join([one] * len(quoted)), quoted)
    if sum(int(n) for n in counts) <= PLAIN_MATCHES:
        return None
    total = indexed_count(db)
    bound = rare_word(total)
    holding = {word: int(n) for word, n in zip(quoted, counts, strict=True)}
    present = [(word, idf(total, n)) for word, n in holding.items() if n]
    rare = [word for word, weight in present if alone(weight, bound)]
    common = [(word, weight) for word, weight in present if not alone(weight, bound)]
    if not common or len(common) > COMBINED:
        return None  # every match could have evidence, or sets of more words are not looked for
    groups = enough_together(common, bound)
    if sum(holding[word] for group in groups for word in group) > SET_READS * sum(holding.values()):
        return None
    sets = [f"({' AND '.join(group)})" for group in groups]
    if not rare and not sets:
        return []
    rows = db.all(
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ? LIMIT ?",
        [" OR ".join(rare + sets), CANDIDATES + 1],
    )
    if len(rows) > CANDIDATES:
        return None
    return sorted(int(row[0]) for row in rows)


def filter_ids(db: Database, ids: list[int], filters: Filters) -> set[int]:
    """The subset of ``ids`` that satisfy ``filters`` (rowid lookups: NOT INDEXED keeps
    the planner from scanning a tenant index instead, 8 ms against 0.05 ms for 60 ids)."""
    if not ids:
        return set()
    table = "archive" if filters.archived else "memories"
    where, params = where_clause(filters, dialect)
    marks = ",".join("?" * len(ids))
    rows = db.all(
        f"SELECT id FROM {table} NOT INDEXED WHERE id IN ({marks}) AND {where}", [*ids, *params]
    )
    return {row[0] for row in rows}


def indexed_count(db: Database) -> int:
    """How many rows the FTS5 index holds (the N of its bm25): counted in its docsize
    table, 0.1 ms at 100k where ``count(*)`` on the index itself takes 16 ms."""
    return int(db.scalar(f"SELECT count(*) FROM {FTS_TABLE}_docsize"))
