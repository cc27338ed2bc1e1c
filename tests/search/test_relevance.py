"""The context rule of the hooks (search.relevance): threshold, margin, limits, and
never echoing what this session just stored. Vectors are set by hand so each memory's
closeness to the query is known; the calibration itself is measured on the real model
by scripts/eval_search.py (tests/search/test_search_eval.py keeps a floor)."""

import zlib
from pathlib import Path

import numpy as np

from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies
from memctl.models import Hit
from memctl.search.backlog import fill
from memctl.search.relevance import (
    FRESH_SECONDS,
    MARGIN,
    MEMORY_CHARS,
    RELEVANCE,
    memory_text,
    relevant_context,
)
from memctl.store import open_database
from memctl.store.db import Database
from memctl.store.memories import Filters

NOW = 10_000.0
QUERY = "the query"


class Closeness:
    """Each memory text starts with its cosine to the query ("0.90 ..."); every vector
    also has a direction of its own, so memories are not close to each other."""

    model_id = "closeness/384"
    dim = 384

    def embed(self, texts: list[str]) -> list[bytes]:
        out = []
        for text in texts:
            vec = np.zeros(self.dim, dtype=np.float32)
            if QUERY in text:
                vec[0] = 1.0
            else:
                closeness = float(text.split(": ", 1)[-1].split()[0])
                vec[0] = closeness
                vec[1 + zlib.crc32(text.encode()) % (self.dim - 1)] = np.sqrt(1 - closeness**2)
            out.append(vec.tobytes())
        return out


def stored(db_path: Path, memories: dict[str, str], session: str | None = None) -> Database:
    db = open_database(db_path, create=True)
    policies = load_policies(PACKAGED_POLICIES)
    for path, text in memories.items():
        namespace, key = path.split("/", 1)
        store(db, policies, NOW - 3600, StoreRequest("default", namespace, key, text))
    fill(db, Closeness(), 1000)
    return db


def hits(db: Database, **options: object) -> list[Hit]:
    return relevant_context(
        db,
        QUERY,
        Filters(tenant="default", now=NOW),
        now=NOW,
        embedder=Closeness,
        **options,  # type: ignore[arg-type]
    ).hits


def context(db: Database, **options: object) -> list[str]:
    return [hit.memory.path for hit in hits(db, **options)]


def test_nothing_is_injected_when_nothing_is_relevant(db_path: Path) -> None:
    db = stored(db_path, {f"k/m{n}": f"0.{20 + n} unrelated note {n}" for n in range(10)})
    assert context(db) == []
    assert context(db, min_score=0.1) != []  # they are there, only below the bar


def test_relevant_memories_within_the_margin_of_the_best(db_path: Path) -> None:
    db = stored(
        db_path,
        {
            "k/best": "0.95 the answer",
            "k/close": "0.90 nearly the answer",
            "k/far": "0.75 related, above the bar but far below the best",
            "k/weak": "0.30 weak",
        },
    )
    assert context(db) == ["k/best", "k/close"]
    far = relevant_context(
        db, QUERY, Filters(tenant="default", now=NOW), now=NOW, embedder=Closeness, limit=1
    )
    assert far.hits[0].score - MARGIN > RELEVANCE  # "far" is out by the margin alone


def test_at_most_limit_memories_and_max_chars_of_text(db_path: Path) -> None:
    db = stored(db_path, {f"k/m{n}": f"0.9{n} answer {'x' * 100 * n}" for n in range(6)})
    assert len(context(db, limit=3)) == 3
    every = context(db, limit=10)
    assert len(every) == 6
    assert every[0] == "k/m5"  # the best, and the longest (~500 characters)
    budget = hits(db, limit=10, max_chars=300)
    assert budget and "k/m5" not in [h.memory.path for h in budget]  # smaller ones fit
    assert sum(len(memory_text(h.memory.value)) for h in budget) <= 300
    assert len(memory_text("y" * 5 * MEMORY_CHARS)) == MEMORY_CHARS  # a huge one is cut


def test_never_what_this_session_stored_in_the_last_minute(db_path: Path) -> None:
    db = stored(db_path, {"k/old": "0.80 an older answer"})
    policies = load_policies(PACKAGED_POLICIES)
    for key, age, session, closeness in (
        ("fresh", 10, "s1", "0.99"),  # this session, 10 s ago: never
        ("stale", FRESH_SECONDS + 5, "s1", "0.80"),  # this session, over a minute ago
        ("other", 10, "s2", "0.80"),  # another session's, just now
    ):
        request = StoreRequest("default", "k", key, f"{closeness} answer", session_id=session)
        store(db, policies, NOW - age, request)
    fill(db, Closeness(), 100)
    assert "k/fresh" in context(db)  # no session given: nothing to hold back
    assert sorted(context(db, session_id="s1")) == ["k/old", "k/other", "k/stale"]
    # the margin counts from the best memory that may be injected, not from one held back
    assert "k/old" in context(db, session_id="s1")


def test_exclude_drops_what_the_caller_knows_is_noise(db_path: Path) -> None:
    db = stored(db_path, {"k/a": "0.95 answer", "k/b": "0.92 answer"})
    assert context(db, exclude=lambda hit: hit.memory.key == "a") == ["k/b"]


def test_keyword_only_needs_strong_keyword_evidence(db_path: Path) -> None:
    db = open_database(db_path, create=True)
    policies = load_policies(PACKAGED_POLICIES)
    texts = {
        "k/exact": "rotate the signing keys of the gateway",
        "k/common": "the gateway is up",
        **{f"k/n{n}": f"gateway note {n}" for n in range(20)},
    }
    for path, text in texts.items():
        namespace, key = path.split("/", 1)
        store(db, policies, NOW, StoreRequest("default", namespace, key, text))
    found = relevant_context(
        db,
        "rotate gateway signing keys",
        Filters(tenant="default", now=NOW),
        now=NOW,
        mode="keyword",
    )
    assert found.model is None
    assert [hit.memory.path for hit in found.hits] == ["k/exact"]
