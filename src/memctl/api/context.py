"""What an operation works with: a database, the policies, a tenant and the clock,
resolved by the transport before the call (docs/api.md).

``Context`` is the interface every operation reads. The command line's ``Settings``
provides it from its options; long-lived servers (``memctl mcp``, later ``memctl
serve``) build one :class:`LocalContext` per call from a :class:`Contexts` factory,
which keeps what is worth keeping between calls: the policies (re-read when the file
changes) and the embedding model (loaded on the first search, then kept).
"""

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from memctl import clock
from memctl.lifecycle.policies import Policies, load_policies
from memctl.paths import Location
from memctl.store import Database, open_database

if TYPE_CHECKING:
    from memctl.embeddings import Embedder


class Context(Protocol):
    """The resolved call: whose memories, which database and policies, what time."""

    @property
    def tenant(self) -> str:
        """The tenant an operation reads and writes (writes always have one)."""
        ...

    @property
    def scope(self) -> str | None:
        """The tenant filter of reads: None means every tenant (the command line's
        ``--all-tenants``; servers never offer it)."""
        ...

    @property
    def policies(self) -> Policies: ...

    @property
    def db_path(self) -> Location: ...

    def now(self) -> float:
        """The one clock (docs/expiry.md: ``MEMCTL_NOW``)."""
        ...

    def database(self, create: bool = False) -> Database:
        """The database, opened once per context. A missing file is created only with
        ``create`` (a store); otherwise the transport's rule for a project without a
        database applies (the command line's, docs/addressing.md)."""
        ...

    def embedder(self) -> "Embedder | None":
        """The policies' embedding model (None when embeddings are off); called only by
        operations that need vectors, so nothing else loads the model."""
        ...


class PoliciesFile:
    """A policies file kept loaded across calls and re-read when it changes (its mtime,
    size or inode), so an edit applies to the next call of a long-lived server and a
    bad edit is refused there, as every command refuses it (docs/policies.md)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._policies: Policies | None = None

    def load(self) -> Policies:
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None  # load_policies says what is wrong with it
        with self._lock:
            if self._policies is None or stamp is None or stamp != self._stamp:
                self._policies = load_policies(self.path)
                self._stamp = stamp
            return self._policies


class Models:
    """Embedding models loaded once per process, on first use (a cold ONNX load is
    ~0.35 s, docs/embeddings.md); safe to share between threads."""

    def __init__(self, announce: Callable[[str], None] | None = None) -> None:
        self.announce = announce
        self._lock = threading.Lock()
        self._loaded: dict[str, Embedder | None] = {}

    def get(self, model: str) -> "Embedder | None":
        with self._lock:
            if model not in self._loaded:
                from memctl.embeddings import get_embedder

                self._loaded[model] = get_embedder(model, self.announce)
            return self._loaded[model]

    def loaded(self) -> list[str]:
        """The models loaded so far (tests and diagnostics)."""
        with self._lock:
            return sorted(self._loaded)


def _stderr_line(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


@dataclass
class LocalContext:
    """One call of a long-lived server on one database: a :class:`Context` whose
    database connection lives as long as the call (``close`` it)."""

    tenant: str
    db_path: Location
    policies_file: PoliciesFile
    models: Models
    clock: Callable[[], float] = clock.now
    notify: Callable[[str], None] = _stderr_line
    _db: Database | None = field(default=None, repr=False)

    @property
    def scope(self) -> str | None:
        return self.tenant

    @property
    def policies(self) -> Policies:
        return self.policies_file.load()

    def now(self) -> float:
        return self.clock()

    def database(self, create: bool = False) -> Database:
        if self._db is None:
            self._db = open_database(self.db_path, create=create, notify=self.notify)
        return self._db

    def embedder(self) -> "Embedder | None":
        return self.models.get(self.policies.embedding_model)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class Contexts:
    """Builds the context of each call for a server over one database and tenant:
    ``memctl mcp`` uses one for its whole life. ``memctl serve`` keeps one per tenant
    and picks it by the request's bearer token (docs/api.md)."""

    tenant: str
    db_path: Location
    policies_path: Path
    models: Models = field(default_factory=lambda: Models(_stderr_line))
    clock: Callable[[], float] = clock.now

    def __post_init__(self) -> None:
        self.policies_file = PoliciesFile(self.policies_path)

    def __call__(self) -> LocalContext:
        return LocalContext(self.tenant, self.db_path, self.policies_file, self.models, self.clock)
