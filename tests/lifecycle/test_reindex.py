"""reindex --all: one tenant's command re-embeds only that tenant's active memories;
archived memories keep their vectors; "marked embedded" always means "has a vector"."""

from pathlib import Path

import orjson
import pytest
from lifecycle_support import MODEL, T0, add_vectors, invariants, open_db, packaged, put

from memctl.lifecycle.archive import archive
from memctl.search.backlog import forget
from memctl.store import memories as store
from memctl.store.backend import backend_of
from memctl.store.db import Database
from tests.conftest import cli


def _model_of(db: Database, memory_id: int, table: str = "memories") -> object:
    return db.scalar(f"SELECT embedding_model FROM {table} WHERE id = ?", (memory_id,))


@pytest.mark.usefixtures("backend")
def test_forget_touches_only_the_tenants_active_memories(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    a1 = put(db, policies, T0, "notes/a1", "first", tenant="alpha")
    a2 = put(db, policies, T0, "notes/a2", "second", tenant="alpha")
    b1 = put(db, policies, T0, "notes/b1", "other tenant", tenant="beta")
    add_vectors(db)
    archive(db, policies, T0 + 1, "alpha", [store.get_many(db, [a2])[a2]])
    invariants(db)

    assert forget(db, "alpha") == 1
    invariants(db)
    assert _model_of(db, a1) is None  # back in the backlog, its vector gone
    assert backend_of(db).vectors.pending_count(db, MODEL, "alpha") == 1
    assert _model_of(db, b1) == MODEL  # another tenant: untouched
    assert backend_of(db).vectors.pending_count(db, MODEL, "beta") == 0
    assert _model_of(db, a2, "archive") == MODEL  # archived: keeps its vector
    assert backend_of(db).vectors.load(db, [a2, b1]).keys() == {a2, b1}

    assert forget(db, None) == 1  # every tenant: beta's active memory too
    assert _model_of(db, b1) is None
    assert _model_of(db, a2, "archive") == MODEL
    invariants(db)


@pytest.mark.usefixtures("backend")
@pytest.mark.model
def test_reindex_all_for_one_tenant_keeps_other_tenants_and_the_archive(db_path: Path) -> None:
    """The adversarial run's scenario, through the CLI with the real model."""
    for path, text, tenant in (
        ("notes/oom", "pods crash after running out of memory", "alpha"),
        ("notes/pasta", "boil spaghetti nine minutes", "alpha"),
        ("notes/ci", "cache wheels between pipeline runs", "beta"),
    ):
        assert cli("store", path, text, "--tenant", tenant).exit_code == 0
    assert orjson.loads(cli("reindex", "--all-tenants", "--json").stdout)["embedded"] == 3
    assert cli("delete", "notes/pasta", "--tenant", "alpha").exit_code == 0

    done = orjson.loads(cli("reindex", "--all", "--tenant", "alpha", "--json").stdout)
    assert done["embedded"] == 1 and done["pending"] == 0
    db = open_db(db_path)
    invariants(db)
    beta = db.one("SELECT embedding_model FROM memories WHERE tenant = 'beta'")
    assert beta[0] == done["model"]
    db.close()

    assert cli("restore", "notes/pasta", "--tenant", "alpha").exit_code == 0
    result = orjson.loads(
        cli("search", "cooking noodles", "--mode", "semantic", "--tenant", "alpha", "--json").stdout
    )
    assert result["pending_embeddings"] == 0
    assert result["hits"][0]["path"] == "notes/pasta"
