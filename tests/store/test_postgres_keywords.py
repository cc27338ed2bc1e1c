"""PostgreSQL's keyword ranking on large tables (store/postgres/keyword.py): which
matches are read when common words match more memories than it can score, and where a
common word's count comes from. The thresholds are lowered so that a few hundred rows
behave as a million do."""

from collections.abc import Iterator

import pytest

from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.paths import ServerUrl
from memctl.store import open_database
from memctl.store.db import Database
from memctl.store.memories import Filters
from memctl.store.postgres import keyword

pytestmark = pytest.mark.postgres

FILTERS = Filters(tenant="default", now=2000.0)


@pytest.fixture
def db(pg_database: ServerUrl, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setattr(keyword, "_LARGE", {})
    database = open_database(pg_database, create=True)
    yield database
    database.close()


def populate(db: Database, texts: dict[str, str]) -> dict[int, str]:
    """Store ``texts`` (key -> text) in namespace ``notes``; memory id -> key."""
    policies = load_policies(PACKAGED_POLICIES)
    with db.write():
        for key, text in texts.items():
            store(db, policies, 1000.0, StoreRequest("default", "notes", key, text))
    return {int(row[0]): str(row[1]) for row in db.all("SELECT id, key FROM memories")}


def test_past_the_cap_every_memory_that_could_have_evidence_is_ranked(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Common words matching more memories than CANDIDATES: the memories holding the rare
    word, and those holding both common words (enough together), are all read and
    ranked; a memory holding one common word alone (no evidence possible) is not."""
    texts = {f"a{n}": f"alpha filler{n}" for n in range(40)}
    texts |= {f"b{n}": f"beta filler{n}" for n in range(40)}
    texts |= {f"ab{n}": f"alpha beta filler{n}" for n in range(10)}
    texts |= {"z1": "zyzzyva report", "z2": "zyzzyva alpha"}
    texts |= {f"f{n}": f"unrelated words number{n}" for n in range(308)}
    keys = populate(db, texts)
    monkeypatch.setattr(keyword, "CANDIDATES", 20)  # alpha: 51 matches, beta: 50
    found = keyword.keyword_search(db, '"alpha" OR "beta" OR "zyzzyva"', FILTERS, 100)
    assert {keys[i] for i, _ in found} == {"z1", "z2"} | {f"ab{n}" for n in range(10)}
    assert keys[found[0][0]] == "z2"  # the rare word and a common one
    assert [bm25 for _, bm25 in found] == sorted(bm25 for _, bm25 in found)
    # the same query under the cap reads every match, and ranks these the same way
    monkeypatch.setattr(keyword, "CANDIDATES", 5_000)
    everything = keyword.keyword_search(db, '"alpha" OR "beta" OR "zyzzyva"', FILTERS, 100)
    assert everything[: len(found)] == found


def test_common_words_alone_past_the_cap_find_nothing_to_rank(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = {f"a{n}": f"alpha filler{n}" for n in range(60)}
    texts |= {f"f{n}": f"unrelated words number{n}" for n in range(140)}
    populate(db, texts)
    monkeypatch.setattr(keyword, "CANDIDATES", 20)
    assert keyword.keyword_search(db, '"alpha" OR "unknownword"', FILTERS, 100) == []
    # holding every word of the query is evidence whatever the words
    assert len(keyword.keyword_search(db, '"alpha"', FILTERS, 100)) == 20


def test_on_a_large_table_a_common_words_count_comes_from_the_statistics(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting a word is reading its matches, so above DF_EXACT the column statistics
    give the count: here as exact as a count (ANALYZE read every row), not capped."""
    texts = {f"g{n}": f"gamma filler{n}" for n in range(60)}
    texts |= {f"f{n}": f"unrelated words number{n}" for n in range(40)}
    populate(db, texts)
    db.execute("ANALYZE keywords")
    monkeypatch.setattr(keyword, "STATS_ROWS", 50)
    monkeypatch.setattr(keyword, "DF_EXACT", 5)
    monkeypatch.setattr(keyword, "DF_CAP", 20)  # a count would stop here
    found = keyword.keyword_search(db, '"gamma"', FILTERS, 100)
    assert len(found) == 60
    # held by 60 of 100: idf ln(40.5 / 60.5) < 0, floored at 1e-6 (at 20: 1.37)
    assert all(abs(bm25) < 1e-4 for _, bm25 in found)


def test_on_a_large_table_a_word_just_stored_is_found_at_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(db, {f"f{n}": f"unrelated words number{n}" for n in range(60)})
    db.execute("ANALYZE keywords")
    monkeypatch.setattr(keyword, "STATS_ROWS", 50)
    assert keyword.keyword_search(db, '"zebra"', FILTERS, 10) == []
    keys = populate(db, {"new": "zebra crossing"})
    found = keyword.keyword_search(db, '"zebra"', FILTERS, 10)
    assert [keys[i] for i, _ in found] == ["new"]


# ------------------------------------------------------------------ words as unicode61


def test_identifiers_are_found_by_their_parts(db: Database) -> None:
    """Hosts, paths, versions and snake_case are split as SQLite's unicode61 splits them
    (PostgreSQL's parser alone keeps ``db.r6g.xlarge`` as one token)."""
    keys = populate(
        db,
        {
            "hosts": "primary db.r6g.xlarge replica redis-cluster/node_3",
            "release": "pinned numpy 1.26.4 from pypi.org/simple, owner ops@example.com",
            "var": "set MAX_RETRIES in settings_local",
            "other": "nothing of the sort here",
        },
    )
    for word, key in [
        ("db", "hosts"),
        ("r6g", "hosts"),
        ("xlarge", "hosts"),
        ("redis", "hosts"),
        ("node", "hosts"),
        ("node_3", "hosts"),  # the query's word, as FTS5 reads it: node, then 3
        ("26", "release"),
        ("pypi", "release"),
        ("example", "release"),
        ("retries", "var"),
        ("local", "var"),
    ]:
        found = keyword.keyword_search(db, f'"{word}"', FILTERS, 10)
        assert [keys[i] for i, _ in found] == [key], word


def test_prose_is_indexed_as_the_english_parser_indexes_it(db: Database) -> None:
    """For ordinary prose the split changes nothing: the same lexemes (stemmed, stop words
    left out) at the same positions as ``to_tsvector`` of the text itself."""
    prose = "The deployments were failing because the workers kept running out of memory"
    keys = populate(db, {"incident": prose})
    (memory_id,) = keys
    assert db.scalar(
        "SELECT terms = to_tsvector('english', ?) FROM keywords WHERE memory_id = ?",
        ("incident: " + prose, memory_id),
    )
    for word in ("deploy", "deploying", "fail", "runs", "memories"):
        assert [i for i, _ in keyword.keyword_search(db, f'"{word}"', FILTERS, 10)] == [memory_id]
    assert keyword.keyword_search(db, '"the"', FILTERS, 10) == []  # a stop word


def test_the_document_split_is_unicode_aware() -> None:
    assert keyword.document("café_naïve—Straße/日本語.v2") == "café naïve Straße 日本語 v2"
