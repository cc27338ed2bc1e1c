"""Databases at every schema version with rows in every table, each written in the layout
of its version with plain SQL, the way the memctl of that version stored them; and a
dump of every row for comparing databases."""

import gzip
import random
import struct
from pathlib import Path
from typing import Any

from memctl.store.db import Database, connect
from memctl.store.migrations import migrate
from memctl.store.migrations.sqlite import plain_tables

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "migrations"
SCHEMA_SQL = Path(__file__).resolve().parents[2] / "src" / "memctl" / "store" / "schema.sql"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
OLD_MODEL = "old-model"
T0 = 1_800_000_000.0


def _memory(memory_id: int, tenant: str, namespace: str, key: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": memory_id,
        "tenant": tenant,
        "namespace": namespace,
        "key": key,
        "value": f'{{"n": {memory_id}, "text": "memory {memory_id} ✓"}}'.encode(),
        "compressed": 0,
        "size": 30,
        "type": "context",
        "agent_id": None,
        "session_id": None,
        "tags": "[]",
        "metadata": "{}",
        "importance": 5.0,
        "reward": None,
        "conflicts": None,
        "created_at": T0 + memory_id,
        "updated_at": T0 + memory_id + 0.5,
        "accessed_at": None,
        "expires_at": None,
        "last_decay_at": None,
        "promoted_at": None,
        "access_count": 0,
        "content_hash": f"hash-{memory_id}",
        "embedding_model": MODEL,
    }
    row.update(fields)
    return row


# Active memories of two tenants: every optional field set somewhere, compressed and
# unicode values, a memory waiting for its vector and one embedded by an older model.
ACTIVE = [
    _memory(
        1,
        "acme",
        "knowledge/auth",
        "jwt",
        type="learning",
        tags='["auth","jwt"]',
        importance=8.5,
        access_count=7,
        accessed_at=T0 + 100,
        agent_id="coder-1",
    ),
    _memory(2, "acme", "coordination", "lock", expires_at=T0 + 3600, session_id="s-1"),
    _memory(
        3,
        "acme",
        "session/s-1",
        "clé ünï",
        value=gzip.compress(b'"' + b"long text " * 20 + b'"'),
        compressed=1,
        size=240,
        metadata='{"source": "hook"}',
    ),
    _memory(
        4,
        "beta",
        "knowledge/auth",
        "jwt",
        reward=0.75,
        last_decay_at=T0 + 50,
        conflicts='[{"value": "x", "timestamp": 1800000001.0, "agent_id": "a"}]',
    ),
    _memory(5, "beta", "errors", "oom", type="error_pattern", promoted_at=T0 + 200),
    _memory(6, "beta", "knowledge/promoted/errors", "oom", type="error_pattern"),
    _memory(7, "acme", "knowledge/db", "pg", embedding_model=OLD_MODEL),
    _memory(8, "beta", "notes", "backlog", embedding_model=None),
]
ARCHIVED = [
    {
        **_memory(9, "acme", "coordination", "old-lock"),
        "archived_at": T0 + 500,
        "archive_reason": "expired",
    },
    {
        **_memory(10, "beta", "notes", "deleted", agent_id="a2"),
        "archived_at": T0 + 600,
        "archive_reason": "deleted",
    },
    {
        **_memory(11, "acme", "notes", "pruned", embedding_model=None),
        "archived_at": T0 + 700,
        "archive_reason": "pruned",
    },
]
LOG = [
    (1, "acme", "expired", T0 + 10, 1.5, 3, "ok", '{"ids": [9]}', None),
    (2, None, "decayed", T0 + 20, 2.25, 12, "ok", "{}", None),
    (3, "beta", "pruned", T0 + 30, 0.5, 0, "error", "{}", "database is locked"),
]
EVENTS = [  # version >= 5
    (1, "memory:stored", "acme", T0 + 5, 1, '{"ids": [1], "path": "knowledge/auth/jwt"}'),
    (2, "memory:expired", "acme", T0 + 10, 1, '{"ids": [9]}'),
    (3, "alert:job-failing", None, T0 + 30, 0, '{"job": "pruned", "failures": 3}'),
]
TOKENS = [  # version >= 5
    (1, "ci", "acme", "ab" * 32, 0, T0 + 1),
    (2, "dashboard", "beta", "cd" * 32, 1, T0 + 2),
]
SNAPSHOTS = [
    ("2027-01-15", "acme", "knowledge/auth", "", '{"learning": 1}', 1, 8.5, 7, 0, 0, 30),
    ("2027-01-15", "beta", "errors", "coder-1", '{"error_pattern": 2}', 2, 5.0, 0, 1, 1, 60),
]


# tables a step added, with rows from ``_fill`` only at versions that have them
ADDED_TABLES = {5: ("events", "tokens")}


def migrated_up(latest: dict[str, Any], version: int) -> dict[str, Any]:
    """``latest`` (the dump of a database filled at the latest version) as a database
    filled at ``version`` reads after migrating up: tables added later are empty."""
    out = dict(latest)
    for added, tables in ADDED_TABLES.items():
        if version < added:
            out.update({table: [] for table in tables})
    return out


def vectors() -> dict[int, tuple[str, bytes]]:
    """The float32 vector and its model of every memory that has one."""
    rng = random.Random(7)
    out = {}
    for row in ACTIVE + ARCHIVED:
        if row["embedding_model"] is not None:
            vector = struct.pack("384f", *(rng.uniform(-1, 1) for _ in range(384)))
            out[row["id"]] = (row["embedding_model"], vector)
    return out


def create(path: Path, version: int, rows: bool = True) -> Database:
    """A database at ``version`` (frozen steps), with ``rows`` in every table."""
    db = connect(path)
    if str(path) != ":memory:":
        db.execute("PRAGMA journal_mode = WAL")
    migrate(db, version)
    if rows and version > 0:
        with db.write():
            _fill(db, version)
    return db


def _insert(db: Database, table: str, row: dict[str, Any]) -> None:
    names = ", ".join(f'"{name}"' for name in row)
    db.execute(
        f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values())
    )


def _fill(db: Database, version: int) -> None:
    for row in ACTIVE:
        _insert(db, "memories", row)
    for row in ARCHIVED:
        _insert(db, "archive", row)
    # ids are never reused: the sequence is past every id that ever existed
    db.execute("UPDATE sqlite_sequence SET seq = 20 WHERE name = 'memories'")
    for row in ACTIVE + ARCHIVED:
        db.execute(
            "INSERT INTO memories_fts (rowid, text) VALUES (?, ?)",
            (row["id"], f"{row['namespace']} {row['key']} text of memory {row['id']}"),
        )
    db.executemany("INSERT INTO lifecycle_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", LOG)
    db.executemany("INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", SNAPSHOTS)
    if version >= 5:
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", EVENTS)
        db.executemany("INSERT INTO tokens VALUES (?, ?, ?, ?, ?, ?)", TOKENS)
    owners = {row["id"]: (row, "archived_at" in row) for row in ACTIVE + ARCHIVED}
    for memory_id, (model, vector) in vectors().items():
        row, archived = owners[memory_id]
        tenant, namespace = row["tenant"], row["namespace"]
        if version <= 2:  # floats in vec0, filters as text
            db.execute(
                "INSERT INTO vec_memories (memory_id, embedding, tenant, namespace, model, "
                "archived) VALUES (?, ?, ?, ?, ?, ?)",
                (memory_id, vector, tenant, namespace, model, int(archived)),
            )
            continue
        db.execute(
            "INSERT INTO embeddings (memory_id, model, vector) VALUES (?, ?, ?)",
            (memory_id, model, vector),
        )
        if version == 3:  # 1-bit copies in vec0, filters as text
            db.execute(
                "INSERT INTO vec_memories (memory_id, embedding, tenant, namespace, model, "
                "archived) VALUES (?, vec_quantize_binary(?), ?, ?, ?, ?)",
                (memory_id, vector, tenant, namespace, model, int(archived)),
            )
        else:  # 1-bit copies, filters on integer keys
            db.execute(
                "INSERT INTO vec_memories (memory_id, embedding, tenant_key, namespace_key, "
                "model_key, archived) VALUES (?, vec_quantize_binary(?), memctl_key(?), "
                "memctl_key(?), memctl_key(?), ?)",
                (memory_id, vector, tenant, namespace, model, int(archived)),
            )


def dump(db: Database) -> dict[str, Any]:
    """Every row of every table (virtual ones through their own SELECT, not their shadow
    tables), the id sequence and the version; not when each migration was applied."""
    out: dict[str, Any] = {"user_version": db.scalar("PRAGMA user_version")}
    out["sqlite_sequence"] = (
        [tuple(r) for r in db.all("SELECT name, seq FROM sqlite_sequence WHERE name = 'memories'")]
        if db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
        else []
    )
    for table in plain_tables(db):
        if table == "memctl_migrations":
            sql = "SELECT id, name FROM memctl_migrations ORDER BY id"
        else:
            sql = f'SELECT * FROM "{table}" ORDER BY rowid'
        out[table] = [tuple(r) for r in db.all(sql)]
    names = {r[0] for r in db.all("SELECT name FROM sqlite_master")}
    if "vec_memories" in names:
        out["vec_memories"] = [
            tuple(r) for r in db.all("SELECT * FROM vec_memories ORDER BY memory_id")
        ]
    if "memories_fts" in names:
        out["memories_fts"] = [
            tuple(r) for r in db.all("SELECT rowid, text FROM memories_fts ORDER BY rowid")
        ]
    return out
