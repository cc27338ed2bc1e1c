"""The real all-MiniLM-L6-v2: ONNX vectors equal sentence-transformers', and search by meaning."""

import os
from pathlib import Path

import numpy as np
import orjson
import pytest

from memctl.embeddings import DEFAULT_MODEL, get_embedder
from memctl.search.ranking import search
from memctl.store import open_database
from memctl.store.memories import Filters
from tests.conftest import FIXTURES, cli, run

pytestmark = pytest.mark.model

MEMORIES = {
    "knowledge/deploy/oom": (
        "Pods crash-looping after OOM kills: raise the memory limit in the chart"
    ),
    "knowledge/food/pasta": "Boil the spaghetti for nine minutes in salted water",
    "knowledge/auth/rotation": "Refresh tokens are rotated on every use and old ones revoked",
    "knowledge/ci/cache": "Cache the pip wheels between pipeline runs to speed up builds",
}


def test_onnx_vectors_equal_sentence_transformers() -> None:
    """Against vectors sentence-transformers made (scripts/reference_vectors.py writes
    them; importing torch here cost 5-9 s quiet, ~50 s loaded, for the same check)."""
    reference = orjson.loads((FIXTURES / "embeddings" / f"{DEFAULT_MODEL}.json").read_bytes())
    assert reference["model"] == DEFAULT_MODEL
    texts = reference["texts"]
    embedder = get_embedder(DEFAULT_MODEL)
    assert embedder is not None and embedder.dim == 384
    fast = np.stack([np.frombuffer(v, dtype=np.float32) for v in embedder.embed(texts)])
    ref = np.asarray(reference["vectors"], dtype=np.float32)
    assert ref.shape == (4, 384)
    cosine = (fast * ref).sum(axis=1)
    assert cosine.min() > 0.9999
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def seed() -> None:
    for path, text in MEMORIES.items():
        assert cli("store", path, text).exit_code == 0


def test_paraphrase_with_no_shared_words_finds_the_right_memory() -> None:
    seed()
    query = "container keeps restarting since it runs out of RAM"
    shared = set(query.lower().split()) & set(MEMORIES["knowledge/deploy/oom"].lower().split())
    assert not shared
    for mode in ("hybrid", "semantic"):
        hits = orjson.loads(cli("search", query, "--mode", mode, "--json").stdout)["hits"]
        assert hits[0]["path"] == "knowledge/deploy/oom", mode
    keyword = orjson.loads(cli("search", query, "--mode", "keyword", "--json").stdout)
    # keyword alone cannot find it (it only matches the unrelated "pipeline runs")
    assert "knowledge/deploy/oom" not in [h["path"] for h in keyword["hits"]]


def test_search_fills_the_backlog_and_reports_pending() -> None:
    seed()
    result = orjson.loads(cli("search", "token rotation", "--json").stdout)
    assert result["pending_embeddings"] == 0
    assert result["model"] == "all-MiniLM-L6-v2/384"
    assert result["hits"][0]["path"] == "knowledge/auth/rotation"
    assert result["hits"][0]["parts"]["keyword_rank"] == 1


def test_pending_memories_are_found_by_keyword_until_embedded() -> None:
    seed()
    cli("search", "warm up", "--json")  # embeds the seed
    cli("store", "knowledge/new/flaky", "Quarantine flaky integration tests in a nightly job")
    # semantic mode with no backlog filling: the new memory is pending, keyword covers it
    db = open_database(Path(os.environ["MEMCTL_DB"]), create=False)
    result = search(
        db,
        "flaky integration tests",
        Filters(tenant="default", now=2e9),
        mode="semantic",
        embedder=lambda: get_embedder(DEFAULT_MODEL),
        backlog_limit=0,
    )
    assert result.pending_embeddings == 1
    assert result.hits[0].memory.path == "knowledge/new/flaky"
    assert result.hits[0].parts["similarity"] is None


def test_filters_explain_min_score_and_tenant_isolation() -> None:
    seed()
    cli("store", "knowledge/deploy/oom", "tenant b's copy about memory limits", "--tenant", "b")
    hits = orjson.loads(cli("search", "memory limit", "--namespace", "knowledge", "--json").stdout)[
        "hits"
    ]
    assert all(h["tenant"] == "default" for h in hits)
    b_hits = orjson.loads(cli("search", "memory limit", "--tenant", "b", "--json").stdout)["hits"]
    assert [h["tenant"] for h in b_hits] == ["b"]
    strict = orjson.loads(
        cli("search", "pasta", "--mode", "semantic", "--min-score", "0.5", "--json").stdout
    )["hits"]
    assert [h["path"] for h in strict] == ["knowledge/food/pasta"]
    explained = cli("search", "pasta", "--explain")
    assert explained.stdout.split()[:4] == ["score", "similarity", "redundancy", "keyword"]
    # each part on the scale it is added on (0-1), never FTS5's raw negative bm25
    first = explained.stdout.splitlines()[1].split()
    assert all(0.0 <= float(part) <= 1.0 for part in first[1:4])


def test_archived_memories_are_searchable_with_archived_flag() -> None:
    seed()
    cli("search", "warm", "--json")
    cli("delete", "knowledge/food/pasta")
    active = orjson.loads(cli("search", "cooking noodles", "--json").stdout)["hits"]
    assert "knowledge/food/pasta" not in [h["path"] for h in active]
    archived = orjson.loads(cli("search", "cooking noodles", "--archived", "--json").stdout)
    assert archived["hits"][0]["path"] == "knowledge/food/pasta"


def test_reindex_all_reembeds_and_cold_search_process_works() -> None:
    seed()
    first = orjson.loads(cli("reindex", "--json").stdout)
    assert first == {"embedded": 4, "pending": 0, "model": "all-MiniLM-L6-v2/384", "graphed": 0}
    assert orjson.loads(cli("reindex", "--all", "--json").stdout)["embedded"] == 4
    proc = run("search", "speed up the build pipeline", "--json")
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)["hits"][0]["path"] == "knowledge/ci/cache"


def test_a_text_embedded_lately_is_remembered_by_its_tokens() -> None:
    """The session task log grows past the model's 256 tokens, where it is cut: from
    then on a long-lived server takes its vector from memory, the very same bits."""
    embedder = get_embedder(DEFAULT_MODEL)
    assert embedder is not None
    log = " ".join(f"task {n}: rotate the refresh tokens in the login flow" for n in range(60))
    first = embedder.embed(["started the login task", log])
    computed = embedder.computed  # type: ignore[attr-defined]
    again = embedder.embed([log + " task 61: and the logout flow", "a new note"])
    assert embedder.computed == computed + 1  # type: ignore[attr-defined]
    assert again[0] == first[1]
    fresh = get_embedder(DEFAULT_MODEL)  # a process of its own: the same batch, same bits
    assert fresh is not None and fresh.embed(["started the login task", log]) == first
    assert fresh.embed(["a new note"]) == again[1:]
    embedder.embed(["a new note"])  # short texts are not remembered: cheap, and queries
    assert embedder.computed == computed + 2  # type: ignore[attr-defined]
