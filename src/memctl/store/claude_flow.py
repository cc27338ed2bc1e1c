"""SQL over a claude-flow v3 ``.swarm/memory.db`` (read-only): its ``memory_entries`` table.

The file is opened read-only (``mode=ro``; ``immutable=1`` when its folder cannot hold a
journal) and never written. Column names come from the constant lists below, never from
the file.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memctl.errors import BadInput
from memctl.store.db import DRIVER

TABLE = "memory_entries"
REQUIRED = ("id", "key", "namespace", "content", "created_at")
OPTIONAL = (
    "type",
    "tags",
    "metadata",
    "owner_id",
    "updated_at",
    "expires_at",
    "last_accessed_at",
    "access_count",
    "status",
    "embedding_model",
)
BATCH = 500


class ClaudeFlowDb:
    """A read-only connection to a claude-flow v3 memory database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = _open_readonly(path)
        try:
            tables = {
                str(row[0])
                for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        except DRIVER.Error as exc:
            self.conn.close()
            raise BadInput(f"{path}: not a readable SQLite database ({exc})") from None
        if TABLE not in tables:
            self.conn.close()
            if "memctl_migrations" in tables:  # memctl's own database
                raise BadInput(
                    f"{path}: a memctl database, not a claude-flow v3 memory.db; to move "
                    f"it, export it (`memctl export --db {path} --all-tenants "
                    "--include-archived --include-expired --include-embeddings -o "
                    "store.jsonl.gz`) and import that file"
                )
            raise BadInput(
                f"{path}: a SQLite database without a {TABLE} table, not a claude-flow v3 memory.db"
            )
        present = {str(row[1]) for row in self.conn.execute(f"PRAGMA table_info({TABLE})")}
        missing = [name for name in REQUIRED if name not in present]
        if missing:
            self.conn.close()
            raise BadInput(
                f"{path}: table {TABLE} lacks column(s) {', '.join(missing)}; "
                "not a claude-flow v3 memory.db"
            )
        self.columns = [*REQUIRED, *(name for name in OPTIONAL if name in present)]

    def count(self) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every entry in rowid order, ``BATCH`` rows per query."""
        sql = (
            f"SELECT rowid AS _rowid, {', '.join(self.columns)} FROM {TABLE} "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        last = -(2**63)
        while True:
            try:
                batch = self.conn.execute(sql, (last, BATCH)).fetchall()
            except DRIVER.Error as exc:
                raise BadInput(f"{self.path}: cannot read {TABLE}: {exc}") from None
            if not batch:
                return
            last = batch[-1][0]
            for row in batch:
                yield dict(zip(["_rowid", *self.columns], row, strict=True))

    def close(self) -> None:
        self.conn.close()


def _open_readonly(path: Path) -> Any:
    uri = path.resolve().as_uri()
    last_error: Exception | None = None
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        try:
            conn = DRIVER.connect(f"{uri}?{flags}", uri=True, isolation_level=None)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except DRIVER.Error as exc:
            last_error = exc
    raise BadInput(f"{path}: not a readable SQLite database ({last_error})")
