"""PostgreSQL's modules for each concern of ``store.backend`` (what a PostgreSQL
connection carries: ``connection.PostgresDatabase.backend``)."""

from memctl.store.backend import Backend
from memctl.store.postgres import dialect, keyword, upkeep, vectors

POSTGRES = Backend("postgresql", keyword, vectors, dialect, upkeep)
