-- memctl's SQLite schema at version 5 (m005_events_and_tokens).
-- Generated from a freshly migrated database: never edit by hand; change the
-- schema with a new migration (docs/migrations.md), then regenerate:
--   python -m memctl.store.migrations > src/memctl/store/schema.sql
-- Left out: SQLite's own tables and the shadow tables of vec0 and FTS5.

CREATE TABLE archive (
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
);

CREATE INDEX ix_archive_path ON archive (tenant, namespace, "key");

CREATE INDEX ix_archive_time ON archive (tenant, archived_at);

CREATE TABLE embeddings (
    memory_id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);

CREATE TABLE events (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    tenant TEXT,
    created_at FLOAT NOT NULL,
    count INTEGER DEFAULT '0' NOT NULL,
    data TEXT DEFAULT '{}' NOT NULL
);

CREATE INDEX ix_events_created ON events (created_at);

CREATE INDEX ix_events_tenant ON events (tenant, id);

CREATE TABLE lifecycle_log (
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
);

CREATE INDEX ix_lifecycle_log_action ON lifecycle_log (action, started_at);

CREATE TABLE memctl_migrations (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at FLOAT NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (name)
);

CREATE TABLE memories (
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
);

CREATE INDEX ix_memories_agent ON memories (tenant, agent_id);

CREATE INDEX ix_memories_backlog ON memories (id) WHERE embedding_model IS NULL;

CREATE INDEX ix_memories_embedding ON memories (embedding_model, tenant);

CREATE INDEX ix_memories_expiry ON memories (tenant, expires_at);

CREATE INDEX ix_memories_updated ON memories (tenant, updated_at);

CREATE VIRTUAL TABLE memories_fts USING fts5 (
    text,
    tokenize='porter unicode61'
);

CREATE TABLE snapshots (
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
);

CREATE TABLE tokens (
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    tenant TEXT NOT NULL,
    hash TEXT NOT NULL,
    read_only INTEGER DEFAULT '0' NOT NULL,
    created_at FLOAT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_tokens_name UNIQUE (name),
    CONSTRAINT uq_tokens_hash UNIQUE (hash)
);

CREATE VIRTUAL TABLE vec_memories USING vec0 (
    memory_id INTEGER PRIMARY KEY,
    embedding bit[384],
    tenant_key INTEGER,
    namespace_key INTEGER,
    model_key INTEGER,
    archived INTEGER
);

PRAGMA user_version = 5;
