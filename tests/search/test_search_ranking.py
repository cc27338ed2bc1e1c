"""Ranking logic with a fake embedder (unit level; the real model is tested in
embeddings/ and by tests/search/test_search_eval.py on the eval data)."""

import hashlib
import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.search.backlog import fill
from memctl.search.ranking import fts_query, search
from memctl.search.scoring import (
    KEYWORD_WEIGHT,
    PARTIAL_RANK,
    PENDING_STAND_IN,
    REDUNDANCY_WEIGHT,
    Ranked,
    keyword_evidence,
    redundancy_penalty,
    score,
)
from memctl.store import open_database
from memctl.store.db import Database
from memctl.store.memories import Filters


class FakeEmbedder:
    """Vectors from a table of known texts; anything else gets a hashed direction."""

    model_id = "fake/384"
    dim = 384

    def __init__(self, anchors: dict[str, int]) -> None:
        self.anchors = anchors  # word -> axis
        self.calls = 0

    def embed(self, texts: list[str]) -> list[bytes]:
        self.calls += 1
        out = []
        for text in texts:
            vec = np.zeros(self.dim, dtype=np.float32)
            for word, axis in self.anchors.items():
                if word in text.lower():
                    vec[axis] += 1.0
            seed = int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)
            vec += np.random.default_rng(seed).normal(0, 0.05, self.dim).astype(np.float32)
            out.append((vec / np.linalg.norm(vec)).tobytes())
        return out


def test_fts_query_quotes_every_token_so_no_operator_gets_through() -> None:
    assert fts_query('NEAR("x" OR b) AND c*') == '"near" OR "x" OR "b" OR "c"'
    assert fts_query("¿?!") is None


def test_stopwords_are_dropped_unless_nothing_else_is_left() -> None:
    assert fts_query("how do we rotate the tokens") == '"rotate" OR "tokens"'
    assert fts_query("what is it") == '"what" OR "is" OR "it"'


def test_scores_per_mode() -> None:
    both = Ranked(similarity=0.8, redundancy=0.5, semantic_rank=1, keyword=0.6, keyword_rank=1)
    assert score("semantic", both) == 0.8 - REDUNDANCY_WEIGHT * 0.5
    assert score("keyword", both) == 0.6
    assert score("hybrid", both) == 0.8 - REDUNDANCY_WEIGHT * 0.5 + KEYWORD_WEIGHT * 0.6
    pending = Ranked(keyword=0.6, keyword_rank=1)  # no vector yet: keyword stands in
    assert score("semantic", pending) == PENDING_STAND_IN * 0.6
    assert score("hybrid", pending) == PENDING_STAND_IN * 0.6 + KEYWORD_WEIGHT * 0.6


def test_near_copies_pay_more_than_the_linear_redundancy() -> None:
    """Redundancy beyond 0.4 and beyond the memory's own similarity (it is closer to its
    copies than to the query) costs more, at most 0.15 more."""
    assert redundancy_penalty(0.3, 0.2) == REDUNDANCY_WEIGHT * 0.3  # distinct enough
    assert abs(redundancy_penalty(0.5, 0.4) - (0.15 + 0.1)) < 1e-9
    assert abs(redundancy_penalty(0.7, 0.4) - (0.21 + 0.15)) < 1e-9  # capped
    assert redundancy_penalty(0.7, 0.9) == REDUNDANCY_WEIGHT * 0.7  # the query's own
    copy = Ranked(similarity=0.46, redundancy=0.65)
    distinct = Ranked(similarity=0.36, redundancy=0.35)
    assert score("semantic", distinct) > score("semantic", copy)
    assert 0.36 - 0.3 * 0.35 < 0.46 - 0.3 * 0.65  # the linear part alone ranks the copy first


def test_keyword_evidence_counts_every_word_matches_and_rare_words() -> None:
    rare = 2.0 * np.log((1000 - 0.5) / 1.5)  # bm25 of about two words found once each
    assert keyword_evidence(1, -0.1, 1000) == 1.0  # best memory holding every word
    assert keyword_evidence(4, -0.1, 1000) == 0.25
    assert keyword_evidence(None, -0.1, 1000) == 0.0  # one common word: no evidence
    assert keyword_evidence(None, -rare / 2, 1000) == 0.0  # one rare word: none either
    assert 0.6 < keyword_evidence(None, -rare, 1000) < 0.7
    assert keyword_evidence(None, -3 * rare, 1000) == 1.0
    assert keyword_evidence(5, -3 * rare, 1000) == 1.0  # the larger of the two


def test_a_partial_match_ranked_high_with_more_than_one_rare_word_has_some_evidence() -> None:
    """When no memory holds every word, the best partial matches holding more than one
    rare word are evidence by their rank (two-part questions, a name and a topic)."""
    rare = np.log((1000 - 0.5) / 1.5)  # bm25 of one word found once
    by_words = keyword_evidence(None, -1.1 * rare, 1000)
    assert 0.05 < by_words < 0.1
    assert keyword_evidence(None, -1.1 * rare, 1000, partial_rank=1) == PARTIAL_RANK
    assert keyword_evidence(None, -1.1 * rare, 1000, partial_rank=2) == PARTIAL_RANK / 2
    assert keyword_evidence(None, -1.1 * rare, 1000, partial_rank=9) == by_words
    # one rare word, or common words only: first or not, no evidence
    assert keyword_evidence(None, -rare, 1000, partial_rank=1) == 0.0
    assert keyword_evidence(None, -0.1, 1000, partial_rank=1) == 0.0


def seeded(db_path: Path):
    db = open_database(db_path, create=True)
    policies = load_policies(PACKAGED_POLICIES)
    texts = {
        "notes/ocean": "whales and dolphins",
        "notes/space": "rockets and orbits",
        "notes/cook": "whisk the eggs",
    }
    for path, text in texts.items():
        ns, key = path.split("/")
        store(db, policies, 1000.0, StoreRequest("default", ns, key, text))
    return db


@pytest.mark.usefixtures("backend")
def test_semantic_ranking_and_filters_with_fake_embedder(db_path: Path) -> None:
    db = seeded(db_path)
    fake = FakeEmbedder({"sea": 0, "whales": 0, "dolphins": 0, "rocket": 1, "orbit": 1})
    result = search(
        db,
        "life in the sea",
        Filters(tenant="default", now=2000.0),
        mode="semantic",
        embedder=lambda: fake,
    )
    assert result.hits[0].memory.path == "notes/ocean"
    assert result.pending_embeddings == 0
    other = search(
        db,
        "life in the sea",
        Filters(tenant="other", now=2000.0),
        mode="semantic",
        embedder=lambda: fake,
    )
    assert other.hits == []
    limited = search(
        db,
        "rocket orbit",
        Filters(tenant="default", now=2000.0, pattern="notes/s*"),
        mode="hybrid",
        embedder=lambda: fake,
        limit=1,
    )
    assert [h.memory.path for h in limited.hits] == ["notes/space"]


@pytest.mark.usefixtures("backend")
def test_vectors_of_another_model_are_never_compared(db_path: Path) -> None:
    db = seeded(db_path)
    first = FakeEmbedder({"whales": 0})
    search(db, "x", Filters(tenant="default", now=2000.0), embedder=lambda: first)
    second = FakeEmbedder({"whales": 0})
    second.model_id = "other/384"
    result = search(
        db,
        "whales",
        Filters(tenant="default", now=2000.0),
        mode="semantic",
        embedder=lambda: second,
        backlog_limit=0,
    )
    # no vector of the second model exists yet: only keyword evidence for pending ones
    assert all(h.parts["similarity"] is None for h in result.hits)
    assert result.pending_embeddings == 3


def populate(db: Database, texts: dict[str, str]) -> None:
    policies = load_policies(PACKAGED_POLICIES)
    with db.write():
        for path, text in texts.items():
            namespace, key = path.split("/", 1)
            store(db, policies, 1000.0, StoreRequest("default", namespace, key, text))


def test_a_paraphrase_beats_many_memories_sharing_one_common_word(db_path: Path) -> None:
    """The stand-in bug: a keyword match outside the semantic candidates used its keyword
    score as its similarity, so one common word shared by many memories outranked the
    true paraphrase (which shares no word with the query)."""
    rng = random.Random(3)
    texts = {f"ci/run-{n}": f"pipeline runs {n}" for n in range(110)}  # short: high bm25
    filler = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()
    texts |= {f"notes/n{n}": " ".join(rng.choices(filler, k=30)) for n in range(490)}
    texts["ops/oom"] = "pod restarts once RAM is exhausted"
    db = open_database(db_path, create=True)
    populate(db, texts)
    fake = FakeEmbedder({"memory": 0, "ram": 0})
    fill(db, fake, len(texts))
    query = "why does the service crash when it runs out of memory"
    assert not set(fts_query(query, "OR").replace('"', "").split(" OR ")) & set(
        texts["ops/oom"].lower().split()
    )
    filters = Filters(tenant="default", now=2000.0)
    found = search(db, query, filters, mode="hybrid", embedder=lambda: fake, limit=5)
    assert found.hits[0].memory.path == "ops/oom"
    assert found.hits[0].parts["similarity"] > 0.3
    # the common-word matches are there on their merits: real similarity, no stand-in
    keyword = search(db, query, filters, mode="keyword", limit=5)
    assert all(h.memory.path.startswith("ci/") for h in keyword.hits)
    for hit in search(db, query, filters, mode="hybrid", embedder=lambda: fake, limit=50).hits:
        assert hit.parts["similarity"] is not None


def property_store(db_path: Path) -> tuple[Database, "FakeEmbedder", list[str]]:
    rng = random.Random(11)
    words = [f"w{n}" for n in range(40)]
    db = open_database(db_path, create=True)
    texts = {f"k/m{n}": " ".join(rng.sample(words, rng.randint(2, 6))) for n in range(250)}
    populate(db, texts)
    fake = FakeEmbedder({word: n % 24 for n, word in enumerate(words)})
    fill(db, fake, len(texts))
    queries = [" ".join(rng.sample(words, rng.randint(1, 4))) for _ in range(40)]
    return db, fake, queries


def test_hybrid_carries_the_evidence_of_both_modes(db_path: Path) -> None:
    db, fake, queries = property_store(db_path)
    filters = Filters(tenant="default", now=2000.0)
    for query in queries:
        hybrid = search(db, query, filters, embedder=lambda: fake, limit=20).hits
        semantic = {
            h.memory.id: h
            for h in search(db, query, filters, mode="semantic", embedder=lambda: fake).hits
        }
        keyword = {h.memory.id: h for h in search(db, query, filters, mode="keyword").hits}
        assert hybrid, query
        for hit in hybrid:
            parts = hit.parts
            assert parts["similarity"] is not None  # every memory here has its vector
            if hit.memory.id in semantic:
                other = semantic[hit.memory.id]
                assert parts["similarity"] == other.parts["similarity"]
                assert parts["semantic"] == other.score
            if hit.memory.id in keyword:
                assert parts["keyword_rank"] is not None
                assert parts["keyword"] == keyword[hit.memory.id].score
            expected = parts["semantic"] + KEYWORD_WEIGHT * parts["keyword"]
            assert abs(hit.score - expected) < 1e-3
        # a memory first in both modes is first in hybrid
        best_semantic = max(semantic.values(), key=lambda h: h.score)
        best_keyword = max(keyword.values(), key=lambda h: h.score, default=None)
        if best_keyword is not None and best_keyword.memory.id == best_semantic.memory.id:
            assert hybrid[0].memory.id == best_semantic.memory.id


def test_ranking_does_not_depend_on_the_limit(db_path: Path) -> None:
    db, fake, queries = property_store(db_path)
    filters = Filters(tenant="default", now=2000.0)
    for mode in ("hybrid", "semantic", "keyword"):
        for query in queries:
            few = search(db, query, filters, mode=mode, embedder=lambda: fake, limit=3)
            many = search(db, query, filters, mode=mode, embedder=lambda: fake, limit=60)
            assert [h.memory.id for h in few.hits] == [h.memory.id for h in many.hits[:3]]


def test_near_copies_rank_below_a_distinct_memory_as_close_to_the_query(db_path: Path) -> None:
    """Redundancy: of two memories equally close to the query, the one with many near
    copies (status notes written by the same code) ranks lower."""
    db = open_database(db_path, create=True)
    texts = {f"status/s{n}": f"deploy status note {n}" for n in range(30)}
    texts["knowledge/deploy"] = "deploy checklist"
    populate(db, texts)

    class Controlled(FakeEmbedder):
        def embed(self, texts: list[str]) -> list[bytes]:
            out = []
            for text in texts:
                vec = np.zeros(self.dim, dtype=np.float32)
                vec[0] = 1.0  # every text as close to the query ...
                if "status" in text:
                    vec[1] = 1.0  # ... but the status notes also close to each other
                elif "checklist" in text:
                    vec[2] = 1.0
                else:
                    vec[3] = 1.0  # the query
                out.append((vec / np.linalg.norm(vec)).tobytes())
            return out

    fake = Controlled({})
    fill(db, fake, len(texts))
    found = search(
        db, "what to check", Filters(tenant="default", now=2000.0), embedder=lambda: fake
    )
    first = found.hits[0]
    assert first.memory.path == "knowledge/deploy"
    assert first.parts["similarity"] == found.hits[1].parts["similarity"]
    assert first.parts["redundancy"] < found.hits[1].parts["redundancy"]


def test_a_pending_memory_is_found_by_keyword_with_half_its_evidence(db_path: Path) -> None:
    db = seeded(db_path)
    fake = FakeEmbedder({"whales": 0})
    fill(db, fake, 100)
    populate(db, {"notes/late": "whales sing at dawn"})  # stored after: no vector yet
    for mode in ("hybrid", "semantic"):
        found = search(
            db,
            "whales sing",
            Filters(tenant="default", now=2000.0),
            mode=mode,
            embedder=lambda: fake,
            backlog_limit=0,
        )
        late = next(h for h in found.hits if h.memory.path == "notes/late")
        assert late.parts["similarity"] is None and late.parts["keyword"] == 1.0
        assert late.parts["semantic"] == PENDING_STAND_IN
        assert found.pending_embeddings == 1


def test_a_failing_embedder_leaves_no_worker_on_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hybrid search reads keywords on a second connection in a worker thread. If the
    embedder raises, the caller may close the database at once: the worker must have
    finished first (closing SQLite under a running statement crashed the process)."""
    import memctl.search.ranking as ranking

    db = open_database(tmp_path / "m.db", create=True)
    release = threading.Event()
    finished: list[bool] = []
    real = ranking._keyword_hits

    def slow_keyword_hits(*args: Any) -> Any:
        release.wait(timeout=5)
        hits = real(*args)
        finished.append(True)
        return hits

    def failing_embedder() -> Any:
        threading.Timer(0.05, release.set).start()  # the worker is still waiting now
        raise RuntimeError("model broke")

    monkeypatch.setattr(ranking, "_keyword_hits", slow_keyword_hits)
    with pytest.raises(RuntimeError):
        search(db, "anything", Filters(tenant="default"), embedder=failing_embedder)
    assert finished == [True]
    db.close()


def test_a_keyword_match_without_evidence_outside_the_semantic_candidates_is_dropped(
    db_path: Path,
) -> None:
    """A memory that only shares a common word with the query and is not among its 100
    nearest has no evidence for hybrid: it is not listed, though its redundancy (measured
    against neighbours it is no part of) is low enough to lift it over the candidates."""
    db = open_database(db_path, create=True)
    texts = {f"status/s{n}": f"deploy status note {n}" for n in range(110)}
    texts["misc/far"] = "the rollout of the thing"
    texts |= {f"misc/other{n}": f"rollout misc {n}" for n in range(5)}
    populate(db, texts)

    class Controlled(FakeEmbedder):
        def embed(self, texts: list[str]) -> list[bytes]:
            out = []
            for text in texts:
                vec = np.zeros(self.dim, dtype=np.float32)
                if "status" in text:
                    vec[0], vec[1] = 1.0, 1.0  # cosine 0.71 to the query, all alike
                elif "thing" in text:
                    vec[0], vec[2] = 1.0, 1.5  # cosine 0.55: outside the 100 nearest
                elif "misc" in text:
                    vec[3] = 1.0
                else:
                    vec[0] = 1.0  # the query
                out.append((vec / np.linalg.norm(vec)).tobytes())
            return out

    fake = Controlled({})
    fill(db, fake, len(texts))
    filters = Filters(tenant="default", now=2000.0)
    keyword = search(db, "rollout plan", filters, mode="keyword", limit=20).hits
    far = next(h for h in keyword if h.memory.path == "misc/far")
    assert far.score == 0.0  # one word shared with six memories: no evidence
    hybrid = search(db, "rollout plan", filters, embedder=lambda: fake, limit=100).hits
    assert [h for h in hybrid if h.memory.path.startswith("misc/")] == []
    assert hybrid[0].memory.path.startswith("status/")
    assert len(hybrid) == 100  # the semantic candidates
