"""The current relational schema (tables, columns, indexes), declared with SQLAlchemy
Core so that it compiles to any dialect: the starting point of another engine's first
migration (PostgreSQL: ``CreateTable(t).compile(dialect=postgresql.dialect())``, with
BIGINT ids and the partial index's ``postgresql_where``).

Nothing imports it at run time: migrations are frozen SQL (``migrations/sqlite_steps.py``),
and hot-path queries use ``columns.MEMORY_COLUMNS``. It describes what the migrations
produce, never the other way round: tests/store/test_migrations.py keeps it equal, table
by table, to a freshly migrated SQLite database, and ``columns`` equal to it. Change the
schema with a new migration, then here (docs/migrations.md). SQLite's virtual tables
(vec0 and FTS5, in ``schema.sql``) are engine-specific and not described here.
"""

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()


def _memory_columns() -> list[Column[object]]:
    """Every field of a memory (docs/addressing.md); shared by the active and archive tables."""
    return [
        Column("tenant", Text, nullable=False),
        Column("namespace", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("value", LargeBinary, nullable=False),  # serialized JSON, gzip when compressed
        Column("compressed", Integer, nullable=False, server_default="0"),
        Column("size", Integer, nullable=False),  # bytes of the serialized JSON
        Column("type", Text, nullable=False, server_default="context"),
        Column("agent_id", Text),
        Column("session_id", Text),
        Column("tags", Text, nullable=False, server_default="[]"),  # JSON array
        Column("metadata", Text, nullable=False, server_default="{}"),  # JSON object
        Column("importance", Float, nullable=False, server_default="5"),
        Column("reward", Float),
        Column("conflicts", Text),  # JSON array of {value, timestamp, agent_id} (multi_value)
        Column("created_at", Float, nullable=False),
        Column("updated_at", Float, nullable=False),
        Column("accessed_at", Float),
        Column("expires_at", Float),
        Column("last_decay_at", Float),
        Column("promoted_at", Float),
        Column("access_count", Integer, nullable=False, server_default="0"),
        Column("content_hash", Text, nullable=False),  # of the text that is embedded
        Column("embedding_model", Text),  # model of the stored vector; NULL = in the backlog
    ]


memories = Table(
    "memories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_memory_columns(),
    UniqueConstraint("tenant", "namespace", "key", name="uq_memories_path"),
    sqlite_autoincrement=True,  # ids are never reused: an archived id stays unique
)
Index("ix_memories_embedding", memories.c.embedding_model, memories.c.tenant)
Index("ix_memories_expiry", memories.c.tenant, memories.c.expires_at)
Index("ix_memories_updated", memories.c.tenant, memories.c.updated_at)
Index("ix_memories_agent", memories.c.tenant, memories.c.agent_id)  # alert:growth
Index(
    "ix_memories_backlog",
    memories.c.id,
    sqlite_where=memories.c.embedding_model.is_(None),
)

archive = Table(
    "archive",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # the memory's own id
    *_memory_columns(),
    Column("archived_at", Float, nullable=False),
    Column("archive_reason", Text, nullable=False),
)
Index("ix_archive_path", archive.c.tenant, archive.c.namespace, archive.c.key)
Index("ix_archive_time", archive.c.tenant, archive.c.archived_at)

embeddings = Table(  # float32 vectors (re-ranking, export); vec0 holds 1-bit copies
    "embeddings",
    metadata,
    Column("memory_id", Integer, primary_key=True, autoincrement=False),
    Column("model", Text, nullable=False),
    Column("vector", LargeBinary, nullable=False),
)

lifecycle_log = Table(
    "lifecycle_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("tenant", Text),  # NULL = all tenants
    Column("action", Text, nullable=False),  # expired, archived, decayed, pruned, ...
    Column("started_at", Float, nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("count", Integer, nullable=False, server_default="0"),
    Column("outcome", Text, nullable=False, server_default="ok"),  # ok | error
    Column("details", Text, nullable=False, server_default="{}"),  # JSON
    Column("error", Text),
)
Index("ix_lifecycle_log_action", lifecycle_log.c.action, lifecycle_log.c.started_at)

snapshots = Table(
    "snapshots",
    metadata,
    Column("day", Text, nullable=False),  # YYYY-MM-DD (UTC, from the memctl clock)
    Column("tenant", Text, nullable=False),
    Column("namespace", Text, nullable=False),
    Column("agent_id", Text, nullable=False, server_default=""),
    Column("counts_by_type", Text, nullable=False),  # JSON {type: count}
    Column("total", Integer, nullable=False),
    Column("avg_importance", Float, nullable=False),
    Column("accesses", Integer, nullable=False),
    Column("expirations", Integer, nullable=False),
    Column("archives", Integer, nullable=False),
    Column("bytes", Integer, nullable=False),
    UniqueConstraint("day", "tenant", "namespace", "agent_id", name="uq_snapshots"),
)

events = Table(  # lifecycle events (docs/serve.md), read after an id
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),  # memory:stored, memory:expired, alert:growth, ...
    Column("tenant", Text),  # NULL = not one tenant's (an alert about the whole database)
    Column("created_at", Float, nullable=False),
    Column("count", Integer, nullable=False, server_default="0"),  # memories it concerns
    Column("data", Text, nullable=False, server_default="{}"),  # JSON: ids and details
    sqlite_autoincrement=True,  # never reused: a client resuming after an id misses nothing
)
Index("ix_events_tenant", events.c.tenant, events.c.id)
Index("ix_events_created", events.c.created_at)

tokens = Table(  # API tokens of memctl serve: only a hash of each is kept
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("tenant", Text, nullable=False),
    Column("hash", Text, nullable=False),  # sha256 of the token, hex
    Column("read_only", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("name", name="uq_tokens_name"),
    UniqueConstraint("hash", name="uq_tokens_hash"),
)

migrations_table = Table(
    "memctl_migrations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("applied_at", Float, nullable=False),
)
