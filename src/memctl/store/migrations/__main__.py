"""``python -m memctl.store.migrations``: print schema.sql, the schema of a database
migrated from nothing to the latest version (tests/store/test_migrations.py checks the
checked-in copy)."""

import sys
from pathlib import Path

from memctl.store.db import connect
from memctl.store.migrations import LATEST, migrate
from memctl.store.migrations.sqlite import schema_sql

db = connect(Path(":memory:"))
migrate(db, LATEST)
sys.stdout.write(schema_sql(db))
