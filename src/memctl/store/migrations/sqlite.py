"""SQLite migrations: the frozen steps, and where SQLite keeps the version, the lock and
the snapshot.

Each step is the SQL it ran when it landed, written out here: nothing refers to a module
that may change later (``schema.py``, ``columns.py``, ``vectors.py``), so a database made
today and one upgraded from an old release get the same schema. ``schema.sql`` is that
schema, dumped from a freshly migrated database (``python -m memctl.store.migrations``)
and kept equal to one by tests/store/test_migrations.py. The SQL function ``memctl_key``
used by step 4 is registered by ``db.connect`` (``columns.text_key``): changing it would
need a step that rewrites the vec0 keys.

Version: ``PRAGMA user_version`` (one header read on every open) plus one
``memctl_migrations`` row per applied step. Lock: the migration is one ``BEGIN
IMMEDIATE`` transaction; other processes wait for it (busy timeout) and then read the new
version. Snapshot: ``VACUUM INTO`` from a second connection while the migrating one holds
the write lock, so the copy is exactly the committed state the migration starts from.
"""

import itertools
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from memctl.errors import StorageError
from memctl.store.migrations.runner import Statement, Step

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

# Append new steps here, never edit one above (docs/migrations.md).
STEPS = (
    M001_INITIAL,
    M002_EMBEDDING_BACKLOG_INDEX,
    M003_BINARY_QUANTIZED_INDEX,
    M004_INTEGER_KEYS_IN_VEC0,
)
LATEST = len(STEPS)  # also written out in __init__.py


class SQLiteBackend:
    """The runner's view of one SQLite database (see ``runner.Backend``)."""

    steps: Sequence[Step] = STEPS
    upgrades_on_open = True  # one file, one machine: upgrading memctl upgrades it
    backup_advice = "an in-memory database has no file to copy"

    def __init__(self, db: "Database") -> None:
        self.db = db
        self.location = str(db.path)

    @property
    def in_memory(self) -> bool:
        return self.location == ":memory:"

    def check(self) -> None:
        names = {row[0] for row in self.db.all("SELECT name FROM sqlite_master")}
        names = {name for name in names if not name.startswith("sqlite_")}
        if names and "memctl_migrations" not in names and self.version() == 0:
            raise StorageError(f"{self.location} is a SQLite database but not a memctl database")

    def version(self) -> int:
        return int(self.db.scalar("PRAGMA user_version"))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if not self.in_memory and self.version() == 0:
            # a new database: WAL lets readers work while one process writes (set
            # outside a transaction, once; it is stored in the file)
            self.db.execute("PRAGMA journal_mode = WAL")
        with self.db.write():
            yield

    def execute(self, statement: Statement) -> None:
        if isinstance(statement, str):
            self.db.execute(statement)
        else:
            statement(self.db)

    def count(self, sql: str) -> int:
        return int(self.db.scalar(sql))

    def applied(self) -> dict[int, float]:
        if not self.db.scalar(
            "SELECT count(*) FROM sqlite_master WHERE name = 'memctl_migrations'"
        ):
            return {}
        rows = self.db.all("SELECT id, applied_at FROM memctl_migrations")
        return {int(row[0]): float(row[1]) for row in rows}

    def record(self, step: Step, up: bool) -> None:
        if up:
            self.db.execute(
                "INSERT OR REPLACE INTO memctl_migrations (id, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, time.time()),
            )
        elif step.version > 1:  # step 1's down dropped the table itself
            self.db.execute("DELETE FROM memctl_migrations WHERE id = ?", (step.version,))
        self.db.execute(f"PRAGMA user_version = {step.version if up else step.version - 1}")

    def has_data(self) -> bool:
        """Any row in a plain table (virtual tables hold copies of the plain ones)."""
        for table in plain_tables(self.db):
            if table != "memctl_migrations" and self.db.scalar(
                f'SELECT EXISTS (SELECT 1 FROM "{table}")'
            ):
                return True
        return False

    def snapshot_name(self, version: int) -> str | None:
        if self.in_memory:
            return None
        path = Path(self.location)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = path.with_name(f"{path.name}.schema-{version}.{stamp}.bak")
        serial = 1
        while target.exists():
            serial += 1
            target = path.with_name(f"{path.name}.schema-{version}.{stamp}-{serial}.bak")
        return str(target)

    def snapshot(self, version: int) -> str | None:
        """``VACUUM INTO`` a temporary name (mode 0600), then rename into place."""
        name = self.snapshot_name(version)
        reader = self.db.sibling()  # VACUUM cannot run inside the migration's transaction
        if name is None or reader is None:
            return None
        target = Path(name)
        temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            os.close(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise StorageError(
                f"cannot write a snapshot next to {self.location} ({exc.strerror}): "
                "nothing was migrated"
            ) from None
        try:
            reader.execute("VACUUM INTO ?", (str(temp),))
            fd = os.open(temp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return name

    def discard(self, snapshot: str) -> None:
        Path(snapshot).unlink(missing_ok=True)


def plain_tables(db: "Database") -> list[str]:
    """Tables that are neither virtual, nor a virtual table's shadow, nor SQLite's own."""
    rows = db.all("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    virtual = [row[0] for row in rows if str(row[1]).upper().startswith("CREATE VIRTUAL")]
    return sorted(
        name
        for name, sql in ((row[0], str(row[1])) for row in rows)
        if not name.startswith("sqlite_")
        and not sql.upper().startswith("CREATE VIRTUAL")
        and not any(name.startswith(f"{v}_") for v in virtual)
    )


# ------------------------------------------------------------------ schema.sql


def schema_sql(db: "Database") -> str:
    """The schema of ``db`` as schema.sql holds it: every table, virtual table and
    index in a canonical layout (one column per line, names sorted), without SQLite's
    own tables and the shadow tables of vec0 and FTS5. Two databases with the same
    schema give the same text however their DDL was spaced."""
    rows = db.all(
        "SELECT type, name, tbl_name, sql FROM sqlite_master "
        "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY tbl_name, type DESC, name"
    )
    virtual = [row[1] for row in rows if str(row[3]).upper().startswith("CREATE VIRTUAL")]
    parts = []
    for _, _, table, sql in rows:
        if any(table.startswith(f"{v}_") for v in virtual):
            continue  # vec0 / FTS5 internals: they follow the extension's version
        parts.append(_layout(str(sql)) + ";")
    version = int(db.scalar("PRAGMA user_version"))
    header = [
        f"-- memctl's SQLite schema at version {version}"
        + (f" ({STEPS[version - 1].name})." if 0 < version <= LATEST else "."),
        "-- Generated from a freshly migrated database: never edit by hand; change the",
        "-- schema with a new migration (docs/migrations.md), then regenerate:",
        "--   python -m memctl.store.migrations > src/memctl/store/schema.sql",
        "-- Left out: SQLite's own tables and the shadow tables of vec0 and FTS5.",
    ]
    return (
        "\n".join(header) + "\n\n" + "\n\n".join(parts) + f"\n\nPRAGMA user_version = {version};\n"
    )


def _tokens(sql: str) -> list[str]:
    """Words, quoted names and strings, and the punctuation ( ) , = as tokens."""
    tokens: list[str] = []
    i = 0
    while i < len(sql):
        char = sql[i]
        if char.isspace():
            i += 1
        elif char in "'\"":
            end = i + 1
            while end < len(sql):
                if sql[end] == char:
                    if end + 1 < len(sql) and sql[end + 1] == char:
                        end += 2  # a doubled quote inside the string
                        continue
                    break
                end += 1
            tokens.append(sql[i : end + 1])
            i = end + 1
        elif char in "(),=":
            tokens.append(char)
            i += 1
        else:
            end = i
            while end < len(sql) and not sql[end].isspace() and sql[end] not in "'\"(),=":
                end += 1
            tokens.append(sql[i:end])
            i = end
    return tokens


def _join(tokens: list[str]) -> str:
    text = ""
    for token in tokens:
        if not text or token in (")", ",", "=") or text.endswith(("(", "=")):
            text += token
        else:
            text += " " + token
    return text


def _layout(sql: str) -> str:
    """A CREATE TABLE with one column (or constraint) per line; anything else on one."""
    tokens = _tokens(sql)
    if not (len(tokens) > 2 and tokens[0].upper() == "CREATE" and "(" in tokens):
        return _join(tokens)
    if tokens[1].upper() != "TABLE" and tokens[1:3] != ["VIRTUAL", "TABLE"]:
        return _join(tokens)
    start = tokens.index("(")
    depth, end = 0, len(tokens)
    items: list[list[str]] = []
    current: list[str] = []
    for index in range(start + 1, len(tokens)):
        token = tokens[index]
        if token == "(":
            depth += 1
        elif token == ")":
            if depth == 0:
                end = index
                break
            depth -= 1
        if token == "," and depth == 0:
            items.append(current)
            current = []
        else:
            current.append(token)
    items.append(current)
    head, tail = _join(tokens[:start]), _join(tokens[end + 1 :])
    body = ",\n".join("    " + _join(item) for item in items)
    return f"{head} (\n{body}\n){' ' + tail if tail else ''}"
