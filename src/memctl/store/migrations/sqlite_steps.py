"""SQLite's migration steps, frozen: each is the SQL it ran when it landed, written out
here. Nothing refers to a module that may change later (``schema.py``, ``columns.py``,
``vectors.py``), so a database made today and one upgraded from an old release get the
same schema (tests/fixtures/migrations/schema-vN.sql records each). The SQL function
``memctl_key`` used by step 4 is registered by ``db.connect`` (``columns.text_key``):
changing it would need a step that rewrites the vec0 keys.

Add a step at the end, never edit one above (docs/migrations.md).
"""

import itertools
from typing import TYPE_CHECKING

from memctl.errors import StorageError
from memctl.store.migrations.runner import Step

if TYPE_CHECKING:
    from memctl.store.db import Database

# The layouts of the vector index, as each step left it.
_VEC_FLOAT_TEXT = (
    "CREATE VIRTUAL TABLE vec_memories USING vec0("
    "memory_id INTEGER PRIMARY KEY, "
    "embedding float[384] distance_metric=cosine, "
    "tenant TEXT, namespace TEXT, model TEXT, archived INTEGER)"
)
_VEC_BIT_TEXT = (
    "CREATE VIRTUAL TABLE vec_memories USING vec0("
    "memory_id INTEGER PRIMARY KEY, "
    "embedding bit[384], "
    "tenant TEXT, namespace TEXT, model TEXT, archived INTEGER)"
)
_VEC_BIT_KEYS = (
    "CREATE VIRTUAL TABLE vec_memories USING vec0("
    "memory_id INTEGER PRIMARY KEY, "
    "embedding bit[384], "
    "tenant_key INTEGER, namespace_key INTEGER, model_key INTEGER, archived INTEGER)"
)
# Every memory that can own a vector, active (archived = 0) or archived (1).
_OWNERS = (
    "SELECT id, tenant, namespace, 0 AS archived FROM memories UNION ALL "
    "SELECT id, tenant, namespace, 1 FROM archive"
)

M001_INITIAL = Step(
    version=1,
    name="m001_initial",
    description="memories, archive, lifecycle log, snapshots; float vectors in vec0; FTS5",
    up=(
        """CREATE TABLE archive (
            id INTEGER NOT NULL,
            tenant TEXT NOT NULL,
            namespace TEXT NOT NULL,
            "key" TEXT NOT NULL,
            value BLOB NOT NULL,
            compressed INTEGER DEFAULT '0' NOT NULL,
            size INTEGER NOT NULL,
            type TEXT DEFAULT 'context' NOT NULL,
            agent_id TEXT,
            session_id TEXT,
            tags TEXT DEFAULT '[]' NOT NULL,
            metadata TEXT DEFAULT '{}' NOT NULL,
            importance FLOAT DEFAULT '5' NOT NULL,
            reward FLOAT,
            conflicts TEXT,
            created_at FLOAT NOT NULL,
            updated_at FLOAT NOT NULL,
            accessed_at FLOAT,
            expires_at FLOAT,
            last_decay_at FLOAT,
            promoted_at FLOAT,
            access_count INTEGER DEFAULT '0' NOT NULL,
            content_hash TEXT NOT NULL,
            embedding_model TEXT,
            archived_at FLOAT NOT NULL,
            archive_reason TEXT NOT NULL,
            PRIMARY KEY (id)
        )""",
        'CREATE INDEX ix_archive_path ON archive (tenant, namespace, "key")',
        "CREATE INDEX ix_archive_time ON archive (tenant, archived_at)",
        """CREATE TABLE lifecycle_log (
            id INTEGER NOT NULL,
            tenant TEXT,
            action TEXT NOT NULL,
            started_at FLOAT NOT NULL,
            duration_ms FLOAT NOT NULL,
            count INTEGER DEFAULT '0' NOT NULL,
            outcome TEXT DEFAULT 'ok' NOT NULL,
            details TEXT DEFAULT '{}' NOT NULL,
            error TEXT,
            PRIMARY KEY (id)
        )""",
        "CREATE INDEX ix_lifecycle_log_action ON lifecycle_log (action, started_at)",
        """CREATE TABLE memctl_migrations (
            id INTEGER NOT NULL,
            name TEXT NOT NULL,
            applied_at FLOAT NOT NULL,
            PRIMARY KEY (id),
            UNIQUE (name)
        )""",
        """CREATE TABLE memories (
            id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
            tenant TEXT NOT NULL,
            namespace TEXT NOT NULL,
            "key" TEXT NOT NULL,
            value BLOB NOT NULL,
            compressed INTEGER DEFAULT '0' NOT NULL,
            size INTEGER NOT NULL,
            type TEXT DEFAULT 'context' NOT NULL,
            agent_id TEXT,
            session_id TEXT,
            tags TEXT DEFAULT '[]' NOT NULL,
            metadata TEXT DEFAULT '{}' NOT NULL,
            importance FLOAT DEFAULT '5' NOT NULL,
            reward FLOAT,
            conflicts TEXT,
            created_at FLOAT NOT NULL,
            updated_at FLOAT NOT NULL,
            accessed_at FLOAT,
            expires_at FLOAT,
            last_decay_at FLOAT,
            promoted_at FLOAT,
            access_count INTEGER DEFAULT '0' NOT NULL,
            content_hash TEXT NOT NULL,
            embedding_model TEXT,
            CONSTRAINT uq_memories_path UNIQUE (tenant, namespace, "key")
        )""",
        "CREATE INDEX ix_memories_backlog ON memories (id) WHERE embedding_model IS NULL",
        "CREATE INDEX ix_memories_expiry ON memories (tenant, expires_at)",
        "CREATE INDEX ix_memories_updated ON memories (tenant, updated_at)",
        """CREATE TABLE snapshots (
            day TEXT NOT NULL,
            tenant TEXT NOT NULL,
            namespace TEXT NOT NULL,
            agent_id TEXT DEFAULT '' NOT NULL,
            counts_by_type TEXT NOT NULL,
            total INTEGER NOT NULL,
            avg_importance FLOAT NOT NULL,
            accesses INTEGER NOT NULL,
            expirations INTEGER NOT NULL,
            archives INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            CONSTRAINT uq_snapshots UNIQUE (day, tenant, namespace, agent_id)
        )""",
        _VEC_FLOAT_TEXT,
        "CREATE VIRTUAL TABLE memories_fts USING fts5(text, tokenize='porter unicode61')",
    ),
    down_description="drops every memctl table: an empty database",
    down=(
        "DROP TABLE memories_fts",
        "DROP TABLE vec_memories",
        "DROP TABLE snapshots",
        "DROP TABLE memories",
        "DROP TABLE memctl_migrations",
        "DROP TABLE lifecycle_log",
        "DROP TABLE archive",
    ),
    down_rewrites=True,
    down_drops=(
        ("memories", "SELECT count(*) FROM memories"),
        ("archived memories", "SELECT count(*) FROM archive"),
        ("vectors", "SELECT count(*) FROM vec_memories"),
        ("lifecycle log rows", "SELECT count(*) FROM lifecycle_log"),
        ("snapshot rows", "SELECT count(*) FROM snapshots"),
    ),
)

# The backlog is 'no vector, or a vector of another model': an index on the model lets
# both halves be index range scans instead of a table scan on every search.
M002_EMBEDDING_BACKLOG_INDEX = Step(
    version=2,
    name="m002_embedding_backlog_index",
    description="index on (embedding_model, tenant) for the embedding backlog",
    up=("CREATE INDEX ix_memories_embedding ON memories (embedding_model, tenant)",),
    down_description="drops that index",
    down=("DROP INDEX ix_memories_embedding",),
)


def _copy_float_vectors(db: "Database") -> None:
    """``INSERT INTO embeddings (memory_id, model, vector) SELECT memory_id, model,
    embedding FROM vec_memories``, as step 3 ran it when it landed, but reading each
    vec0 chunk (1024 vectors, 1.5 MB) once instead of once per vector: vec0 reaches a
    vector by walking its chunk's overflow pages, 0.4 ms a row, 4 s at 10k memories and
    ~40 s at 100k under the write lock (a waiting hook gives up after 30 s); this way
    0.1 s at 10k. The layout read is sqlite-vec 0.1.9's (pinned since migration 1, so
    every database at version 2 has it): ``_rowids`` maps each id to its chunk and slot,
    ``_vector_chunks00`` holds the chunks. Any disagreement aborts the migration."""
    models = db.conn.execute("SELECT memory_id, model FROM vec_memories ORDER BY memory_id")
    slots = db.conn.execute(
        "SELECT rowid, chunk_id, chunk_offset FROM vec_memories_rowids ORDER BY rowid"
    )
    unexpected = StorageError(f"vec0 of {db.path} is not laid out as sqlite-vec 0.1.9 does")
    chunks: dict[int, bytes] = {}  # the last few chunks read (ids come in chunk order)
    batch: list[tuple[int, str, bytes]] = []
    for pair in itertools.zip_longest(models, slots):
        if pair[0] is None or pair[1] is None or pair[0][0] != pair[1][0]:
            raise unexpected
        (memory_id, model), (_, chunk_id, offset) = pair
        if chunk_id not in chunks:
            if len(chunks) >= 4:
                del chunks[next(iter(chunks))]
            blob = db.scalar(
                "SELECT vectors FROM vec_memories_vector_chunks00 WHERE rowid = ?", (chunk_id,)
            )
            chunks[chunk_id] = bytes(blob)
        vector = chunks[chunk_id][offset * 1536 : (offset + 1) * 1536]
        if len(vector) != 1536:
            raise unexpected
        batch.append((memory_id, model, vector))
        if len(batch) == 1000:
            db.executemany(
                "INSERT INTO embeddings (memory_id, model, vector) VALUES (?, ?, ?)", batch
            )
            batch = []
    db.executemany("INSERT INTO embeddings (memory_id, model, vector) VALUES (?, ?, ?)", batch)


# A float KNN in vec0 took ~100 ms at 100k memories (no SIMD in the PyPI build); a
# Hamming KNN over bit vectors ~25 ms, and re-ranking its candidates by exact cosine
# from the plain table ~1 ms (docs/budgets.md: search <= 50 ms).
M003_BINARY_QUANTIZED_INDEX = Step(
    version=3,
    name="m003_binary_quantized_index",
    description="float vectors move to the embeddings table; vec0 keeps 1-bit copies",
    up=(
        "CREATE TABLE embeddings (memory_id INTEGER PRIMARY KEY, "
        "model TEXT NOT NULL, vector BLOB NOT NULL)",
        _copy_float_vectors,
        "DROP TABLE vec_memories",
        _VEC_BIT_TEXT,
        "INSERT INTO vec_memories (memory_id, embedding, tenant, namespace, model, archived) "
        "SELECT e.memory_id, vec_quantize_binary(e.vector), m.tenant, m.namespace, e.model, "
        f"m.archived FROM embeddings e JOIN ({_OWNERS}) m ON m.id = e.memory_id",
    ),
    rewrites=True,
    down_description="float vectors move back into vec0; drops the embeddings table",
    down=(
        "DROP TABLE vec_memories",
        _VEC_FLOAT_TEXT,
        "INSERT INTO vec_memories (memory_id, embedding, tenant, namespace, model, archived) "
        "SELECT e.memory_id, e.vector, m.tenant, m.namespace, e.model, m.archived "
        f"FROM embeddings e JOIN ({_OWNERS}) m ON m.id = e.memory_id "
        "WHERE length(e.vector) = 1536 ORDER BY e.memory_id",
        "DROP TABLE embeddings",
    ),
    down_rewrites=True,
    down_drops=(
        (
            "vectors of memories that no longer exist",
            "SELECT count(*) FROM embeddings e WHERE NOT EXISTS "
            "(SELECT 1 FROM memories WHERE id = e.memory_id) AND NOT EXISTS "
            "(SELECT 1 FROM archive WHERE id = e.memory_id)",
        ),
        (
            "vectors that are not 384 float32 values",
            "SELECT count(*) FROM embeddings WHERE length(vector) != 1536",
        ),
    ),
)

# vec0 keeps text over 12 bytes out of line: a KNN filtered on such a column took
# 115 ms instead of 29 ms at 100k rows. Integer keys (crc32, ``memctl_key``) fix that.
M004_INTEGER_KEYS_IN_VEC0 = Step(
    version=4,
    name="m004_integer_keys_in_vec0",
    description="vec0 filters on integer keys of tenant, namespace and model",
    up=(
        "DROP TABLE vec_memories",
        _VEC_BIT_KEYS,
        "INSERT INTO vec_memories "
        "(memory_id, embedding, tenant_key, namespace_key, model_key, archived) "
        "SELECT e.memory_id, vec_quantize_binary(e.vector), memctl_key(m.tenant), "
        "memctl_key(m.namespace), memctl_key(e.model), m.archived "
        f"FROM embeddings e JOIN ({_OWNERS}) m ON m.id = e.memory_id ORDER BY e.memory_id",
    ),
    rewrites=True,
    down_description="vec0 filters on tenant, namespace and model as text again",
    down=(
        "DROP TABLE vec_memories",
        _VEC_BIT_TEXT,
        "INSERT INTO vec_memories (memory_id, embedding, tenant, namespace, model, archived) "
        "SELECT e.memory_id, vec_quantize_binary(e.vector), m.tenant, m.namespace, e.model, "
        f"m.archived FROM embeddings e JOIN ({_OWNERS}) m ON m.id = e.memory_id "
        "WHERE length(e.vector) = 1536 ORDER BY e.memory_id",  # others stay in embeddings
    ),
    down_rewrites=True,
)

# memctl serve (docs/serve.md): lifecycle events with increasing ids, read after an id by
# the event stream and `memctl events`; API tokens, of which only a hash is kept; and an
# index on each agent's memories for alert:growth.
# AUTOINCREMENT: an event id is never reused, even after prune trims the oldest ones, so
# a client resuming after id N never misses an event nor sees one twice.
M005_EVENTS_AND_TOKENS = Step(
    version=5,
    name="m005_events_and_tokens",
    description="lifecycle events (memctl events, the HTTP event stream) and API tokens",
    up=(
        """CREATE TABLE events (
            id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            tenant TEXT,
            created_at FLOAT NOT NULL,
            count INTEGER DEFAULT '0' NOT NULL,
            data TEXT DEFAULT '{}' NOT NULL
        )""",
        "CREATE INDEX ix_events_tenant ON events (tenant, id)",
        "CREATE INDEX ix_events_created ON events (created_at)",
        # alert:growth counts one agent's memories after each store that adds one
        # (~0.3 ms for 10k of them through this index; a scan of 100k rows was ~15 ms)
        "CREATE INDEX ix_memories_agent ON memories (tenant, agent_id)",
        """CREATE TABLE tokens (
            id INTEGER NOT NULL,
            name TEXT NOT NULL,
            tenant TEXT NOT NULL,
            hash TEXT NOT NULL,
            read_only INTEGER DEFAULT '0' NOT NULL,
            created_at FLOAT NOT NULL,
            PRIMARY KEY (id),
            CONSTRAINT uq_tokens_name UNIQUE (name),
            CONSTRAINT uq_tokens_hash UNIQUE (hash)
        )""",
    ),
    down_description="drops the events and the API tokens",
    down=("DROP TABLE tokens", "DROP TABLE events", "DROP INDEX ix_memories_agent"),
    down_rewrites=True,  # drops tables that may hold rows: snapshot first
    down_drops=(
        ("API tokens", "SELECT count(*) FROM tokens"),
        ("events", "SELECT count(*) FROM events"),
    ),
)

# Append new steps here, never edit one above (docs/migrations.md).
STEPS = (
    M001_INITIAL,
    M002_EMBEDDING_BACKLOG_INDEX,
    M003_BINARY_QUANTIZED_INDEX,
    M004_INTEGER_KEYS_IN_VEC0,
    M005_EVENTS_AND_TOKENS,
)
LATEST = len(STEPS)  # also written out in __init__.py
