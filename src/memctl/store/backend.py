"""The store's seam for a second engine (PostgreSQL next, docs/storage.md).

What differs between engines lives in one module per concern, and everything else in
store/ is shared SQL that asks these modules instead of writing engine SQL itself:

- connection, transactions, errors: ``db.Database`` (``read``, ``write``, ``savepoint``,
  ``execute``/``all``/``one``/``scalar``, errors mapped to ``StorageError``);
- keyword search: a ``KeywordIndex`` (SQLite: ``keyword``, FTS5);
- vectors and the embedding backlog: a ``VectorIndex`` (SQLite: ``vectors``, vec0);
- globs and JSON functions: a ``Dialect`` (SQLite: ``dialect``);
- migrations: ``migrations.backend`` (docs/migrations.md).

``backend_of`` is the one place that picks an engine's modules for a database; mypy
checks that the SQLite modules satisfy the protocols below (``sqlite()``), so a second
engine's modules are held to the same functions.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

from memctl.store.db import Database
from memctl.store.filters import Filters

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

    def drop(self, db: Database, ids: Sequence[int]) -> None: ...

    def mark_archived(self, db: Database, ids: Sequence[int], archived: bool) -> None: ...

    def forget_some(self, db: Database, tenant: str | None, limit: int) -> int: ...


class Dialect(Protocol):
    """SQL fragments that differ between engines (globs, JSON)."""

    NAME: str

    def glob_param(self, pattern: str) -> str: ...

    def glob(self, expression: str, param: str = "?") -> str: ...

    def has_tag(self, tags_column: str, param: str = "?") -> str: ...

    def json_number(
        self, column: str, path: tuple[str, ...], default: str, low: float, high: float
    ) -> str: ...

    def json_text(self, column: str, *path: str) -> str: ...

    def group_object(self, key: str, value: str) -> str: ...


@dataclass(frozen=True)
class Backend:
    """One engine's implementation of each concern."""

    name: str
    keywords: KeywordIndex
    vectors: VectorIndex
    dialect: Dialect


@cache
def sqlite() -> Backend:
    """SQLite's modules (imported on first use: ``store`` needs only the keyword index,
    and every module less is ~1 ms of a whole-process store)."""
    from memctl.store import dialect, keyword, vectors

    return Backend("sqlite", keyword, vectors, dialect)


def backend_of(db: Database) -> Backend:
    """The engine modules for ``db`` (only SQLite so far)."""
    return sqlite()
