"""Keyword search when the query's words match many memories (store/bm25.py): both
engines rank only the memories that could have keyword evidence, and those rank as
they would among every match. The thresholds are lowered so that a few hundred rows
behave as 100k do; the same query with the thresholds up ranks every match."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.paths import Location
from memctl.search.ranking import _keyword_hits
from memctl.search.scoring import keyword_evidence
from memctl.store import bm25, keyword, open_database
from memctl.store.backend import backend_of
from memctl.store.db import Database
from memctl.store.memories import Filters
from memctl.store.postgres import keyword as pg_keyword

FILTERS = Filters(tenant="default", now=2000.0)
QUERY = '"alpha" OR "beta" OR "gamma" OR "zyzzyva"'
# alpha, beta and gamma are common (22-23 of 209 memories: a word adds at most 2.2 x
# its idf ~2.1, under the 4.93 of a word found once), zyzzyva is rare; two common words
# together could reach it, so the candidates are z*, ab* and abg*
TEXTS = {f"a{n}": f"alpha filler{n}" for n in range(15)}
TEXTS |= {f"b{n}": f"beta filler{n}" for n in range(15)}
TEXTS |= {f"g{n}": f"gamma filler{n}" for n in range(20)}
TEXTS |= {f"ab{n}": f"alpha beta filler{n}" for n in range(4)}
TEXTS |= {f"abg{n}": "alpha beta gamma" for n in range(3)}  # evidence from common words
TEXTS |= {"z1": "zyzzyva report", "z2": "zyzzyva alpha"}
TEXTS |= {f"f{n}": f"unrelated words number{n}" for n in range(150)}
OTHER = {"ab3", "a0", "f0"}  # stored in namespace "other"
CANDIDATES = {"z1", "z2"} | {f"ab{n}" for n in range(4)} | {f"abg{n}" for n in range(3)}


@pytest.fixture
def db(backend: Location, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setattr(pg_keyword, "_LARGE", {})
    database = open_database(backend, create=True)
    policies = load_policies(PACKAGED_POLICIES)
    with database.write():
        for key, text in TEXTS.items():
            namespace = "other" if key in OTHER else "notes"
            store(database, policies, 1000.0, StoreRequest("default", namespace, key, text))
    yield database
    database.close()


def keys(db: Database) -> dict[int, str]:
    return {int(row[0]): str(row[1]) for row in db.all("SELECT id, key FROM memories")}


def restrict(db: Database, monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """Past the threshold (``on``: the query's 70 matches are many), or under it."""
    if backend_of(db).name == "sqlite":
        monkeypatch.setattr(keyword, "PLAIN_MATCHES", 50 if on else 10**9)
    else:
        monkeypatch.setattr(pg_keyword, "CANDIDATES", 50 if on else 5_000)


def search(db: Database, filters: Filters = FILTERS, limit: int = 100) -> list[tuple[int, float]]:
    result: list[tuple[int, float]] = backend_of(db).keywords.keyword_search(
        db, QUERY, filters, limit
    )
    return result


def with_evidence(db: Database, query: str) -> list[tuple[int, float, int, float]]:
    """(id, bm25, rank, keyword evidence) of the hits search would count, as it ranks them."""
    hits, indexed = _keyword_hits(db, query, FILTERS, 100)
    found = []
    for rank, (memory_id, score, every) in enumerate(hits, start=1):
        evidence = (
            keyword_evidence(rank, score, indexed)
            if every
            else keyword_evidence(None, score, indexed, partial_rank=rank)
        )
        if evidence > 0:
            found.append((memory_id, score, rank, evidence))
    return found


def test_many_matches_rank_only_the_memories_that_could_have_evidence(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    restrict(db, monkeypatch, on=False)
    everything = search(db)
    restrict(db, monkeypatch, on=True)
    found = search(db)
    named = keys(db)
    assert {named[i] for i, _ in found} == CANDIDATES
    assert len(everything) == 59
    # the same memories in the same order with the same bm25 (ties by id) as when
    # every match is ranked: the others all rank after them
    assert everything[: len(found)] == found


def test_the_hits_search_counts_are_the_same(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """What search reads of the keyword side: every hit with evidence, its bm25 and its
    rank among the keyword matches (its partial-match evidence depends on it)."""
    query = "alpha beta gamma zyzzyva"
    restrict(db, monkeypatch, on=False)
    expected = with_evidence(db, query)
    restrict(db, monkeypatch, on=True)
    named = keys(db)
    assert {named[i] for i, *_ in expected} >= {"z2", "abg0", "abg1", "abg2"}
    assert with_evidence(db, query) == expected


def test_filters_that_leave_few_of_the_best_rank_the_candidates_that_pass(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The best candidates are in another namespace: the ones that pass are ranked (ab3;
    a0 and f0 pass too, but a0 holds one common word only and f0 none)."""
    other = Filters(tenant="default", namespace="other", now=2000.0)
    restrict(db, monkeypatch, on=False)
    everything = search(db, other, limit=2)
    restrict(db, monkeypatch, on=True)
    found = search(db, other, limit=2)
    named = keys(db)
    assert [named[i] for i, _ in everything] == ["ab3", "a0"]
    assert [named[i] for i, _ in found] == ["ab3"]
    assert everything[:1] == found


def test_every_word_queries_and_few_matches_rank_every_match(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    restrict(db, monkeypatch, on=True)
    assert len(backend_of(db).keywords.keyword_search(db, '"alpha"', FILTERS, 100)) == 23
    assert len(backend_of(db).keywords.keyword_search(db, '"gamma" OR "beta"', FILTERS, 10)) == 10


def test_sets_of_common_words_that_together_could_reach_the_bound() -> None:
    common = [("a", 2.0), ("b", 1.5), ("c", 1.0), ("d", 0.5)]
    # (k1 + 1) = 2.2: a+b 7.7, a+c 6.6, a+d 5.5, b+c 5.5, b+d 4.4, c+d 3.3, b+c+d 6.6
    assert bm25.enough_together(common, 5.5) == [["a", "b"], ["a", "c"], ["a", "d"], ["b", "c"]]
    assert bm25.enough_together(common, 6.6) == [["a", "b"], ["a", "c"], ["b", "c", "d"]]
    assert bm25.enough_together(common, 100.0) == []
    assert bm25.alone(2.0, 4.4) and not bm25.alone(1.99, 4.4)
    assert bm25.words('"alpha" OR "beta"') == (["alpha", "beta"], False)
    assert bm25.words('"alpha" AND "beta"') == (["alpha", "beta"], True)


@pytest.mark.parametrize("limit", [("CANDIDATES", 8), ("SET_READS", 0)])
def test_sqlite_ranks_every_match_when_the_candidates_cost_more(
    memctl_env: Path, monkeypatch: pytest.MonkeyPatch, limit: tuple[str, int]
) -> None:
    """More candidates than CANDIDATES (there are 9), or sets of common words that would
    read more than SET_READS x the matches: every match is ranked, as under the
    threshold."""
    db = open_database(memctl_env / "memctl.db", create=True)
    try:
        policies = load_policies(PACKAGED_POLICIES)
        with db.write():
            for key, text in TEXTS.items():
                store(db, policies, 1000.0, StoreRequest("default", "notes", key, text))
        monkeypatch.setattr(keyword, "PLAIN_MATCHES", 50)
        assert len(search(db)) == 9
        monkeypatch.setattr(keyword, *limit)
        assert len(search(db)) == 59
    finally:
        db.close()
