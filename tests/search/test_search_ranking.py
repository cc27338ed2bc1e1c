"""Ranking logic with a fake embedder (unit level; the real model is tested in embeddings/)."""

import hashlib
from pathlib import Path

import numpy as np

from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.search.ranking import Ranked, fts_query, score, search
from memctl.store import open_database
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
    both = Ranked(similarity=0.8, semantic_rank=1, bm25=-3.0, keyword_rank=1)
    assert score("semantic", both) == 0.8
    assert score("keyword", both) == 0.75
    assert score("hybrid", both) == 0.75 * 0.8 + 0.25 * 0.75
    pending = Ranked(bm25=-1.0, keyword_rank=1)
    assert score("semantic", pending) == 0.5 == score("hybrid", pending)


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
