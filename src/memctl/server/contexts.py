"""The context of one server call (``api.context.Context``) over the served database,
with connections kept open between calls.

Opening a connection costs ~1.1 ms here (sqlite-vec loaded, pragmas set, the schema
version read), a tenth of a small request; so ``Pool`` keeps up to ``POOL_SIZE`` open
connections and lends one to each call, which uses it on one worker thread at a time
(SQLite connections are made with ``check_same_thread=False`` for that). A connection
that saw any error is closed, not lent again. Schema upgrades happen once, when the
server opens the database at start.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from memctl import clock
from memctl.api.context import Models, PoliciesFile
from memctl.lifecycle.policies import Policies
from memctl.paths import Location
from memctl.store.db import Database
from memctl.store.opening import connect_to

if TYPE_CHECKING:
    from memctl.embeddings import Embedder

POOL_SIZE = 16


class Pool:
    """Open connections to one database, lent to one call at a time."""

    def __init__(self, path: Location, size: int = POOL_SIZE) -> None:
        self.path = path
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[Database] = []
        self._closed = False

    def take(self) -> Database:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return connect_to(self.path, same_thread=False)

    def give(self, db: Database, healthy: bool) -> None:
        with self._lock:
            if healthy and not self._closed and len(self._idle) < self.size:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()


@dataclass
class ServerContext:
    """One call of one tenant: borrows a connection on first use, returns it on
    ``close`` (``failed()`` first when the call went wrong, so it is not reused)."""

    tenant: str
    db_path: Location
    policies_file: PoliciesFile
    models: Models
    pool: Pool
    clock: Callable[[], float] = clock.now
    all_tenants: bool = False  # the warm path's `search --all-tenants` (never over HTTP)
    _db: Database | None = field(default=None, repr=False)
    _healthy: bool = True

    @property
    def scope(self) -> str | None:
        return None if self.all_tenants else self.tenant

    @property
    def policies(self) -> Policies:
        return self.policies_file.load()

    def now(self) -> float:
        return self.clock()

    def database(self, create: bool = False) -> Database:
        if self._db is None:
            self._db = self.pool.take()
        return self._db

    def embedder(self) -> "Embedder | None":
        return self.models.get(self.policies.embedding_model)

    def failed(self) -> None:
        self._healthy = False

    def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            # an operation left a transaction open: never lend it so (SQLite can tell)
            if db.in_transaction or getattr(db.conn, "in_transaction", False):
                self._healthy = False
            self.pool.give(db, self._healthy)


@dataclass
class Served:
    """What every call of a server shares: the database, its connections, the policies
    file (re-read when it changes), the embedding models (loaded once) and the clock."""

    db_path: Location
    policies_path: Path
    models: Models
    clock: Callable[[], float] = clock.now
    pool: Pool = field(init=False)
    policies_file: PoliciesFile = field(init=False)

    def __post_init__(self) -> None:
        self.pool = Pool(self.db_path)
        self.policies_file = PoliciesFile(self.policies_path)

    def context(self, tenant: str) -> ServerContext:
        return ServerContext(
            tenant, self.db_path, self.policies_file, self.models, self.pool, self.clock
        )
