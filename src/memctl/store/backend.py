"""The store's seam between engines: SQLite and PostgreSQL (docs/storage.md).

What differs between engines lives in one module per concern, and everything else in
store/ is shared SQL that asks these modules instead of writing engine SQL itself:

- connection, transactions, errors: ``db.Database`` (SQLite) and
  ``postgres/connection.PostgresDatabase`` (``read``, ``write``, ``savepoint``,
  ``insert_rows``, ``execute``/``all``/``one``/``scalar``, errors mapped to
  ``StorageError``); ``opening.open_database`` picks the connection by the location;
- keyword search: a ``KeywordIndex`` (``keyword``: FTS5; ``postgres/keyword``: tsvector);
- vectors and the embedding backlog: a ``VectorIndex`` (``vectors``: vec0;
  ``postgres/vectors``: pgvector HNSW);
- SQL fragments (globs, JSON functions, two-argument max/min, planner hints, row locks):
  a ``Dialect`` (``dialect``; ``postgres/dialect``);
- ids, bulk settings, index statistics, compaction, snapshots: an ``Upkeep``
  (``upkeep``; ``postgres/upkeep``);
- migrations: ``migrations.backend`` (docs/migrations.md).

``backend_of`` is the one place that gives a database's engine modules: the connection
carries them (``Database.backend``; None means SQLite's). mypy checks that the modules
satisfy the protocols below (``sqlite()`` here, ``POSTGRES`` in ``postgres/backend``).
"""

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from memctl.store.db import Database
from memctl.store.filters import Filters
from memctl.store.index_stats import IndexStats

if TYPE_CHECKING:
    from memctl.store.vectors import Pending


class KeywordIndex(Protocol):
    """Full-text search over the memories' search text (docs/search.md)."""

    def add(self, db: Database, items: Sequence[tuple[int, str]]) -> None: ...

    def replace(self, db: Database, memory_id: int, text: str) -> None: ...

    def drop(self, db: Database, ids: Sequence[int]) -> None: ...

    def keyword_search(
        self, db: Database, match: str, filters: Filters, limit: int
    ) -> list[tuple[int, float]]: ...

    def filter_ids(self, db: Database, ids: list[int], filters: Filters) -> set[int]: ...

    def indexed_count(self, db: Database) -> int: ...


class VectorIndex(Protocol):
    """Stored vectors, nearest-neighbour search over them, and the embedding backlog."""

    MAX_K: int

    def pending(
        self, db: Database, model_id: str, limit: int, tenant: str | None = None
    ) -> "list[Pending]": ...

    def pending_count(self, db: Database, model_id: str, tenant: str | None = None) -> int: ...

    def pending_ids(self, db: Database, ids: list[int], model_id: str) -> set[int]: ...

    def put(
        self, db: Database, items: list[tuple[int, str, str, str, bytes]], model_id: str
    ) -> int: ...

    def knn(
        self,
        db: Database,
        vector: bytes,
        k: int,
        model_id: str,
        tenant: str | None,
        namespace: str | None = None,
        archived: bool = False,
        oversample: int = 4,
    ) -> list[tuple[int, float]]: ...

    def load(self, db: Database, ids: list[int]) -> dict[int, tuple[str, bytes]]: ...

    def insert_many(
        self, db: Database, items: list[tuple[int, bytes, str, str, str, int]]
    ) -> None: ...

    def waiting_count(self, db: Database) -> int: ...

    def unscanned_count(
        self, db: Database, tenant: str | None, namespace: str | None, archived: bool
    ) -> int: ...

    def graph_some(self, db: Database, limit: int) -> int: ...

    def drop(self, db: Database, ids: Sequence[int]) -> None: ...

    def mark_archived(self, db: Database, ids: Sequence[int], archived: bool) -> None: ...

    def forget_some(self, db: Database, tenant: str | None, limit: int) -> int: ...


class Dialect(Protocol):
    """SQL fragments that differ between engines (globs, JSON, max/min of two values,
    planner hints, row locks)."""

    NAME: str
    FOR_UPDATE: str  # after a SELECT inside a write: lock the rows read ("" on SQLite)
    SKIP_LOCKED: str  # a lifecycle batch's re-check: the rows nobody else holds
    NOT_INDEXED: str  # after a table name: scan it rather than walk an index
    EVENTS_IN_ORDER: str  # run before inserting an event ("" on SQLite): ids commit in order

    def plain(self, column: str) -> str: ...

    def greatest(self, a: str, b: str) -> str: ...

    def least(self, a: str, b: str) -> str: ...

    def to_int(self, expression: str) -> str: ...

    def in_ids(self, column: str, ids: Sequence[int]) -> tuple[str, list[object]]: ...

    def glob_param(self, pattern: str) -> str: ...

    def glob(self, expression: str, param: str = "?") -> str: ...

    def has_tag(self, tags_column: str, param: str = "?") -> str: ...

    def json_number(
        self, column: str, path: tuple[str, ...], default: str, low: float, high: float
    ) -> str: ...

    def json_text(self, column: str, *path: str) -> str: ...

    def group_object(self, key: str, value: str) -> str: ...


class Upkeep(Protocol):
    """What long jobs, import and compaction need from the engine."""

    def bulk_session(self, db: Database) -> None: ...

    def commit_watcher(self, db: Database) -> Callable[[], bool]: ...

    def import_cache(self, db: Database) -> AbstractContextManager[None]: ...

    def new_ids(self, db: Database, count: int) -> list[int]: ...

    def archive_rows(self, db: Database, ids: Sequence[int], reason: str, now: float) -> int: ...

    def restore_rows(self, db: Database, expiry: dict[int, float | None]) -> int: ...

    def index_stats(self, db: Database) -> IndexStats: ...

    def rebuild_index(self, db: Database) -> int: ...

    def vacuum(self, db: Database) -> bool: ...

    def snapshot(self, db: Database, target: Path) -> None: ...


@dataclass(frozen=True)
class Backend:
    """One engine's implementation of each concern."""

    name: str
    keywords: KeywordIndex
    vectors: VectorIndex
    dialect: Dialect
    upkeep: Upkeep


@cache
def sqlite() -> Backend:
    """SQLite's modules (imported on first use: ``store`` needs only the keyword index,
    and every module less is ~1 ms of a whole-process store)."""
    from memctl.store import dialect, keyword, upkeep, vectors

    return Backend("sqlite", keyword, vectors, dialect, upkeep)


def backend_of(db: Database) -> Backend:
    """The engine modules for ``db``: the ones its connection carries, SQLite's unless
    it is a PostgreSQL connection (``postgres/backend.POSTGRES``)."""
    return db.backend or sqlite()
