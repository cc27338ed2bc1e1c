"""Opening memctl's database: a SQLite file or a PostgreSQL URL, the one place that
chooses the engine (``db.py`` holds SQLite's connection, ``postgres/connection.py``
PostgreSQL's; psycopg is imported only when a URL is used)."""

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING

from memctl.errors import StorageError
from memctl.paths import Location, ServerUrl, parse_location
from memctl.store import migrations
from memctl.store.db import Database, connect, open_sqlite

if TYPE_CHECKING:
    from memctl.store.migrations.runner import Status


def open_database(
    location: Location | str,
    *,
    create: bool,
    migrate: bool = True,
    notify: Callable[[str], None] | None = None,
) -> Database:
    """Open memctl's database, bringing its schema up to date (``migrations``).

    ``location``: a SQLite file, or a PostgreSQL database (``ServerUrl``, or a
    ``postgresql://`` string). With ``create=False`` a database that does not exist yet
    (no file; a PostgreSQL database without memctl's tables) is not created: the caller
    gets an empty in-memory stand-in instead (``db.stand_in``), so read-only commands on a
    fresh project change nothing. ``migrate=False`` leaves the schema as it is
    (``memctl migrate``). ``notify`` gets one line when an existing database was upgraded.
    """
    if isinstance(location, str):
        location = parse_location(location)
    if isinstance(location, ServerUrl):
        opened: Database = postgres_connection().open_postgres(
            location, create=create, migrate=migrate, notify=notify
        )
        return opened
    return open_sqlite(location, create=create, migrate=migrate, notify=notify)


def connect_to(location: Location, *, same_thread: bool = True) -> Database:
    """A plain connection to a database that exists and is up to date (no schema check:
    ``memctl serve`` opened it with ``open_database`` first, then keeps connections)."""
    if isinstance(location, ServerUrl):
        connected: Database = postgres_connection().connect_postgres(location)
        return connected
    return connect(location, same_thread=same_thread)


def postgres_connection() -> ModuleType:
    """``postgres.connection``, imported on first use of a PostgreSQL URL; a missing
    driver is one line, exit 3."""
    from memctl.store.postgres.driver import preload_versions

    preload_versions()
    try:
        from memctl.store.postgres import connection
    except ImportError as exc:
        raise StorageError(
            f"a postgresql:// database needs the psycopg package ({exc}): "
            "pip install 'psycopg[binary]'"
        ) from None
    return connection


def schema_status(location: Location) -> "Status":
    """The schema version of the database at ``location``, the versions this memctl
    knows and which are pending, without changing anything (a missing file reads as
    version 0, a newer schema is reported, not refused). For ``memctl migrate status``
    and ``doctor``. A PostgreSQL database is read on its server (connection errors raise
    ``StorageError``, exit 3), against PostgreSQL's own migration steps."""
    db: Database
    if isinstance(location, ServerUrl):
        db = postgres_connection().connect_postgres(location)
    else:
        db = open_database(location, create=False, migrate=False)
    try:
        status = migrations.status(db)
    finally:
        db.close()
    status.location = str(location)
    return status
