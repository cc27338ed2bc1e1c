"""Shared helpers of the lifecycle-engine tests (cleanup, decay, prune, archive, compact)."""

import random
import struct
from pathlib import Path
from typing import Any

import orjson

from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, Policies, load_policies, parse_policies
from memctl.store import open_database
from memctl.store.backend import backend_of
from memctl.store.db import Database

T0 = 1_800_000_000.0
DAY = 86400.0
HOUR = 3600.0
MODEL = "test-model"


def doc(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return orjson.loads(result.stdout)


def packaged() -> Policies:
    return load_policies(PACKAGED_POLICIES)


def policies_from(text: str) -> Policies:
    return parse_policies(text, "test-policies.yaml")


def open_db(path: Path) -> Database:
    return open_database(path, create=True)


def put(
    db: Database,
    policies: Policies,
    now: float,
    path: str,
    value: Any = "v",
    tenant: str = "default",
    **fields: Any,
) -> int:
    namespace, key = policies.split_path(path)
    req = StoreRequest(tenant=tenant, namespace=namespace, key=key, value=value, **fields)
    return store(db, policies, now, req).memory.id


def random_vector(rng: random.Random) -> bytes:
    return struct.pack("384f", *(rng.uniform(-1, 1) for _ in range(384)))


def add_vectors(db: Database, seed: int = 1) -> int:
    """Give every active memory a random vector (as if embedded by ``MODEL``)."""
    rng = random.Random(seed)
    rows = backend_of(db).vectors.pending(db, MODEL, 10**9)
    items = [(r.id, r.tenant, r.namespace, r.content_hash, random_vector(rng)) for r in rows]
    with db.write():
        return backend_of(db).vectors.put(db, items, MODEL)


def keyword_rows(db: Database, memory_id: int) -> int:
    """How many keyword-index rows a memory has (test-only SQL, per engine)."""
    if db.engine == "postgresql":
        return int(db.scalar("SELECT count(*) FROM keywords WHERE memory_id = ?", (memory_id,)))
    return int(db.scalar("SELECT count(*) FROM memories_fts WHERE rowid = ?", (memory_id,)))


def invariants(db: Database) -> dict[str, int]:
    """Counts that must agree after any lifecycle run, killed or not (test-only SQL)."""
    both = db.scalar("SELECT count(*) FROM memories m JOIN archive a ON a.id = m.id")
    assert both == 0, f"{both} ids are both active and archived"
    if db.engine == "postgresql":
        return _postgres_invariants(db)
    with_vec = db.scalar("SELECT count(*) FROM memories WHERE embedding_model IS NOT NULL")
    arch_vec = db.scalar("SELECT count(*) FROM archive WHERE embedding_model IS NOT NULL")
    vec_active = db.scalar("SELECT count(*) FROM vec_memories WHERE archived = 0")
    vec_archived = db.scalar("SELECT count(*) FROM vec_memories WHERE archived = 1")
    assert vec_active == with_vec, (vec_active, with_vec)
    assert vec_archived == arch_vec, (vec_archived, arch_vec)
    active = db.scalar("SELECT count(*) FROM memories")
    archived = db.scalar("SELECT count(*) FROM archive")
    fts = db.scalar("SELECT count(*) FROM memories_fts")
    assert fts == active + archived, (fts, active, archived)
    orphans = db.scalar(
        "SELECT count(*) FROM vec_memories v WHERE v.memory_id NOT IN "
        "(SELECT id FROM memories UNION ALL SELECT id FROM archive)"
    )
    assert orphans == 0
    # "marked embedded" means "has a vector of that model", row by row, active or archived
    for table in ("memories", "archive"):
        unbacked = db.scalar(
            f"SELECT count(*) FROM {table} t WHERE t.embedding_model IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.memory_id = t.id AND e.model = t.embedding_model)"
        )
        assert unbacked == 0, f"{unbacked} {table} rows are marked embedded but have no vector"
    unmarked = db.scalar(
        "SELECT count(*) FROM embeddings e WHERE NOT EXISTS (SELECT 1 FROM memories m "
        "WHERE m.id = e.memory_id AND m.embedding_model = e.model) AND NOT EXISTS "
        "(SELECT 1 FROM archive a WHERE a.id = e.memory_id AND a.embedding_model = e.model)"
    )
    assert unmarked == 0, f"{unmarked} vectors belong to no memory marked with their model"
    floats = db.scalar("SELECT count(*) FROM embeddings")
    assert floats == vec_active + vec_archived, (floats, vec_active, vec_archived)
    return {"active": active, "archived": archived, "vectors": vec_active + vec_archived}


def _postgres_invariants(db: Database) -> dict[str, int]:
    """PostgreSQL's: one ``embeddings`` row per memory marked embedded (active or archived,
    with its model), none for anything else; one ``keywords`` row per memory."""
    active = int(db.scalar("SELECT count(*) FROM memories"))
    archived = int(db.scalar("SELECT count(*) FROM archive"))
    keywords = int(db.scalar("SELECT count(*) FROM keywords"))
    assert keywords == active + archived, (keywords, active, archived)
    orphans = db.scalar(
        "SELECT count(*) FROM keywords k WHERE k.memory_id NOT IN "
        "(SELECT id FROM memories UNION ALL SELECT id FROM archive)"
    )
    assert orphans == 0
    for table in ("memories", "archive"):
        unbacked = db.scalar(
            f"SELECT count(*) FROM {table} t WHERE t.embedding_model IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM embeddings e WHERE e.memory_id = t.id AND e.model = t.embedding_model)"
        )
        assert unbacked == 0, f"{unbacked} {table} rows are marked embedded but have no vector"
    unmarked = db.scalar(
        "SELECT count(*) FROM embeddings e WHERE NOT EXISTS (SELECT 1 FROM memories m "
        "WHERE m.id = e.memory_id AND m.embedding_model = e.model) AND NOT EXISTS "
        "(SELECT 1 FROM archive a WHERE a.id = e.memory_id AND a.embedding_model = e.model)"
    )
    assert unmarked == 0, f"{unmarked} vectors belong to no memory marked with their model"
    vectors = int(db.scalar("SELECT count(*) FROM embeddings"))
    return {"active": active, "archived": archived, "vectors": vectors}
