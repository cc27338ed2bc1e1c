"""Versioned migrations: an ordered list of small functions applied when the database is
opened, each in its own transaction, recorded in ``memctl_migrations``.

``PRAGMA user_version`` holds how many have run, so the common case (up to date) costs
one pragma read and never imports SQLAlchemy.
"""

import time
from collections.abc import Callable

from memctl.errors import StorageError
from memctl.store import vectors
from memctl.store.columns import EMBEDDING_DIM, EMBEDDING_TABLE, FTS_TABLE, VEC_TABLE
from memctl.store.db import Database

Migration = Callable[[Database], None]
VEC_TABLE_SQL = (
    f"CREATE VIRTUAL TABLE {VEC_TABLE} USING vec0("
    "memory_id INTEGER PRIMARY KEY, "
    f"embedding bit[{EMBEDDING_DIM}], "
    "tenant TEXT, namespace TEXT, model TEXT, archived INTEGER)"
)
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next migration. Never reorder or edit a landed one."""
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_initial(db: Database) -> None:
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateIndex, CreateTable

    from memctl.store import schema

    dialect = sqlite.dialect()
    for table in schema.metadata.sorted_tables:
        db.execute(str(CreateTable(table).compile(dialect=dialect)))
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            db.execute(str(CreateIndex(index).compile(dialect=dialect)))
    db.execute(
        f"CREATE VIRTUAL TABLE {VEC_TABLE} USING vec0("
        "memory_id INTEGER PRIMARY KEY, "
        f"embedding float[{EMBEDDING_DIM}] distance_metric=cosine, "
        "tenant TEXT, namespace TEXT, model TEXT, archived INTEGER)"
    )
    db.execute(f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(text, tokenize='porter unicode61')")


@migration
def m002_embedding_backlog_index(db: Database) -> None:
    """The backlog is 'no vector, or a vector of another model': an index on the model
    lets both halves be index range scans instead of a table scan on every search."""
    db.execute("CREATE INDEX ix_memories_embedding ON memories (embedding_model, tenant)")


@migration
def m003_binary_quantized_index(db: Database) -> None:
    """Float vectors move to a plain table; vec0 keeps 1-bit quantized copies.

    A float KNN in vec0 took ~100 ms at 100k memories (no SIMD in the PyPI build); a
    Hamming KNN over bit vectors takes ~25 ms, and re-ranking its candidates by exact
    cosine from the plain table ~1 ms (docs/budgets.md: search <= 50 ms).
    """
    db.execute(
        f"CREATE TABLE {EMBEDDING_TABLE} (memory_id INTEGER PRIMARY KEY, "
        "model TEXT NOT NULL, vector BLOB NOT NULL)"
    )
    db.execute(
        f"INSERT INTO {EMBEDDING_TABLE} (memory_id, model, vector) "
        f"SELECT memory_id, model, embedding FROM {VEC_TABLE}"
    )
    db.execute(f"DROP TABLE {VEC_TABLE}")
    db.execute(VEC_TABLE_SQL)
    db.execute(
        f"INSERT INTO {VEC_TABLE} (memory_id, embedding, tenant, namespace, model, archived) "
        "SELECT e.memory_id, vec_quantize_binary(e.vector), m.tenant, m.namespace, e.model, "
        f"m.archived FROM {EMBEDDING_TABLE} e JOIN ("
        "SELECT id, tenant, namespace, 0 AS archived FROM memories UNION ALL "
        "SELECT id, tenant, namespace, 1 FROM archive) m ON m.id = e.memory_id"
    )


@migration
def m004_integer_keys_in_vec0(db: Database) -> None:
    """vec0 filters on integer keys of tenant, namespace and model (see
    ``columns.text_key``): a text filter longer than 12 bytes made the KNN 4x slower."""
    db.execute(f"DROP TABLE {VEC_TABLE}")
    db.execute(
        f"CREATE VIRTUAL TABLE {VEC_TABLE} USING vec0("
        "memory_id INTEGER PRIMARY KEY, "
        f"embedding bit[{EMBEDDING_DIM}], "
        "tenant_key INTEGER, namespace_key INTEGER, model_key INTEGER, archived INTEGER)"
    )
    vectors.refill_index(db)


def schema_version() -> int:
    return len(MIGRATIONS)


def _is_memctl(db: Database) -> bool:
    tables = {row[0] for row in db.all("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return not tables or "memctl_migrations" in tables


def migrate(db: Database) -> None:
    """Bring the database up to the current schema; refuse foreign or newer files."""
    version = db.scalar("PRAGMA user_version")
    target = schema_version()
    if version == target and version > 0:
        return
    if version > target:
        raise StorageError(
            f"database {db.path} has schema {version}, newer than this memctl ({target})"
        )
    if not _is_memctl(db):
        raise StorageError(f"{db.path} is a SQLite database but not a memctl database")
    if version == 0 and str(db.path) != ":memory:":
        db.execute("PRAGMA journal_mode = WAL")
    with db.write():
        version = db.scalar("PRAGMA user_version")  # another process may have migrated
        for index in range(version, target):
            step = MIGRATIONS[index]
            step(db)
            db.execute(
                "INSERT INTO memctl_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                (index + 1, step.__name__, time.time()),
            )
        db.execute(f"PRAGMA user_version = {target}")
