"""pgvector itself: whether a database has it, recent enough (0.8: iterative index
scans), and the one line that says it does not."""

import re
from typing import TYPE_CHECKING

from memctl.errors import StorageError
from memctl.paths import ServerUrl

if TYPE_CHECKING:
    from memctl.store.db import Database

PGVECTOR_MIN = (0, 8)  # iterative index scans (hnsw.iterative_scan) came with 0.8.0


def missing_pgvector(url: ServerUrl, detail: str = "") -> StorageError:
    why = f" ({detail})" if detail else ""
    return StorageError(
        f"database {url.masked} lacks the pgvector extension (>= 0.8){why}: run "
        "`CREATE EXTENSION vector;` in it as a user allowed to (the server needs pgvector "
        "installed)"
    )


def check_pgvector(db: "Database") -> str:
    """pgvector's version in ``db``, refusing a missing or too old one (exit 3)."""
    assert isinstance(db.location, ServerUrl)
    version = db.scalar("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    if version is None:
        raise missing_pgvector(db.location)
    parts = tuple(int(p) for p in re.findall(r"\d+", str(version))[:2])
    if parts < PGVECTOR_MIN:
        raise StorageError(
            f"database {db.location.masked} has pgvector {version}; memctl needs >= "
            f"{'.'.join(map(str, PGVECTOR_MIN))} (`ALTER EXTENSION vector UPDATE;`)"
        )
    return str(version)
