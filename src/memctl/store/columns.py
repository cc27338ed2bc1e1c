"""Column names used by hot-path SQL (kept equal to ``schema.py`` by a test)."""

import zlib

MEMORY_FIELDS = (
    "tenant",
    "namespace",
    "key",
    "value",
    "compressed",
    "size",
    "type",
    "agent_id",
    "session_id",
    "tags",
    "metadata",
    "importance",
    "reward",
    "conflicts",
    "created_at",
    "updated_at",
    "accessed_at",
    "expires_at",
    "last_decay_at",
    "promoted_at",
    "access_count",
    "content_hash",
    "embedding_model",
)
MEMORY_COLUMNS = ("id", *MEMORY_FIELDS)
ARCHIVE_COLUMNS = (*MEMORY_COLUMNS, "archived_at", "archive_reason")

VEC_TABLE = "vec_memories"  # vec0: bit-quantized vectors for the KNN candidates
EMBEDDING_TABLE = "embeddings"  # the float32 vectors, for re-ranking and export
FTS_TABLE = "memories_fts"
EMBEDDING_DIM = 384


def text_key(text: str | None) -> int:
    """A small integer standing for a tenant, namespace or model id in vec0's metadata
    columns: vec0 keeps text over 12 bytes out of line, and filtering a KNN on such a
    column took 115 ms instead of 29 ms at 100k rows. Collisions are harmless: results
    are re-checked against the memories table. Registered in SQL as ``memctl_key``."""
    return 0 if text is None else zlib.crc32(text.encode("utf-8"))


def sqlite_glob(pattern: str) -> str:
    """A memctl glob (only ``*`` is special) as the right-hand side of SQLite's ``GLOB``,
    where ``?`` and ``[`` are special too: each becomes a one-character class (``[?]``,
    ``[[]``), which matches it literally. ``]`` outside a class is already literal."""
    return pattern.replace("[", "[[]").replace("?", "[?]")
