"""The engine seam (store/backend.py, docs/storage.md): engine-specific SQL stays in the
modules of its concern, so a second engine replaces those modules, not shared code."""

import re
from pathlib import Path

from memctl.store import backend
from memctl.store.db import Database

STORE = Path(backend.__file__).resolve().parent

# who may name the FTS5 and vec0 tables: the keyword and vector modules, and SQLite's
# own maintenance (upkeep rebuilds vec0, health counts every index)
ENGINE_TABLES = {
    "FTS_TABLE": {"columns.py", "keyword.py", "health.py"},
    "VEC_TABLE": {"columns.py", "vectors.py", "upkeep.py", "health.py"},
    "EMBEDDING_TABLE": {"columns.py", "vectors.py", "health.py"},
}
# SQLite spellings that shared SQL asks ``dialect`` for
DIALECT_SQL = re.compile(r"\bGLOB\b|json_each|json_extract|json_type|json_group_object")
# keyword.py is SQLite's own keyword module (FTS5): it passes candidate ids as a JSON
# array (``json_each``): 12-19 ms for 34-5,000 ids at 100k, 15-25 ms as marks (busy)
DIALECT_FREE = {"dialect.py", "health.py", "claude_flow.py", "db.py", "keyword.py"}


def sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in STORE.glob("*.py")}


def test_engine_tables_are_named_only_by_their_modules() -> None:
    for name, allowed in ENGINE_TABLES.items():
        users = {file for file, text in sources().items() if re.search(rf"\b{name}\b", text)}
        assert users <= allowed, (name, users - allowed)


def test_shared_sql_asks_the_dialect_for_globs_and_json() -> None:
    found = {
        file
        for file, text in sources().items()
        if file not in DIALECT_FREE
        # docstrings may name GLOB; code writes it only through dialect.glob
        and DIALECT_SQL.search(re.sub(r'"""(.|\n)*?"""|#.*', "", text))
    }
    assert found == set()


def test_the_one_place_that_picks_an_engine(db_path: Path) -> None:
    from memctl.store import open_database

    db: Database = open_database(db_path, create=True)
    assert backend.backend_of(db) is backend.sqlite()
    assert backend.sqlite().dialect.NAME == "sqlite"
    db.close()
