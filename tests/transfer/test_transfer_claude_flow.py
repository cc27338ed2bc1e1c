"""Import of the real claude-flow stores in shared/fixtures/claude-flow, field by field."""

import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from memctl.store import open_database
from memctl.transfer.records import iso_us
from tests.conftest import cli
from tests.transfer.transfer_testkit import CF, T0, doc, ok, read_export

V3_NOW = 1795237100  # 2026-11-21T04:58:20Z: just after the v3 entries were written
V2_NOW = 1795237800

# (namespace, key, value, tags, created ms, expires ms) from v3/memory.db
V3_ROWS = [
    ("coordination", "agent1/status", {"task_id": "task-123", "status": "running"}, [],
     1795237060019, 1795240660019),
    ("coordination", "agent2/status", {"task_id": "task-124", "status": "completed"}, [],
     1795237060772, 1795240660772),
    ("knowledge", "patterns/api-design", "RESTful: stateless, cacheable, uniform interface",
     ["api", "design"], 1795237061252, None),
    ("knowledge", "auth/jwt",
     "Use RS256-signed JWTs with a 15 minute expiry and refresh token rotation",
     ["auth", "security"], 1795237061753, None),
    ("knowledge", "db/migrations",
     "Schema changes go through versioned migrations with a down script", ["db"],
     1795237062263, None),
    ("swarm/shared", "decisions/storage", "Chose SQLite with WAL mode for local persistence",
     ["decision"], 1795237062770, 1795323462770),
    ("session", "sess-42", {"user": "developer", "started_at": 1763700000}, [],
     1795237063302, 1795240663302),
    ("default", "readme/tone", "Keep README examples runnable and short", ["docs"],
     1795237063824, None),
    ("knowledge", "errors/locked-db",
     "database is locked errors fixed by busy_timeout and BEGIN IMMEDIATE",
     ["sqlite", "errors"], 1795237064687, None),
]  # fmt: skip

# (namespace, key, created ms, updated ms) from v3/export.json; values as in V3_ROWS
V3_EXPORT = [
    ("knowledge", "errors/locked-db", 1795237064697, 1795237064697),
    ("default", "readme/tone", 1795237063834, 1795237063834),
    ("session", "sess-42", 1795237063312, 1795237063312),
    ("swarm/shared", "decisions/storage", 1795237062779, 1795237062779),
    ("knowledge", "db/migrations", 1795237062271, 1795237062271),
    ("knowledge", "auth/jwt", 1795237061762, 1795237061762),
    ("knowledge", "patterns/api-design", 1795237061261, 1795237061261),
    ("coordination", "agent2/status", 1795237060781, 1795237060781),
    ("coordination", "agent1/status", 1795237060056, 1795237060056),
]
# policy TTLs of the packaged policies.yaml (the JSON formats carry no expiry)
POLICY_TTL = {"coordination": 3600, "session": 86400, "swarm/shared": 86400}

V2_ROWS = [
    ("coordination", "agent1/status", {"task_id": "task-123", "status": "running"},
     1795237746928),
    ("knowledge", "patterns/api-design", "RESTful: stateless, cacheable, uniform interface",
     1795237747305),
    ("knowledge", "auth/jwt",
     "Use RS256-signed JWTs with a 15 minute expiry and refresh token rotation", 1795237747666),
    ("swarm/shared", "decisions/storage", "Chose SQLite with WAL mode for local persistence",
     1795237748034),
    ("default", "readme/tone", "Keep README examples runnable and short", 1795237748394),
]  # fmt: skip
VALUES = {(ns, key): value for ns, key, value, *_ in V3_ROWS}


def _ms(value: int | None) -> str | None:
    return iso_us(value / 1000) if value is not None else None


def _exported(tmp_path: Path) -> dict[tuple[str, str], dict]:
    ok(cli("export", "-o", str(tmp_path / "out.jsonl"), "--include-expired", "--include-archived"))
    _, records = read_export(tmp_path / "out.jsonl")
    return {(r["namespace"], r["key"]): r for r in records}


@pytest.mark.usefixtures("backend")
def test_v3_memory_db_imports_every_entry_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(V3_NOW))
    report = doc(cli("import", str(CF / "v3" / "memory.db"), "--json"))
    assert report["format"] == "claude-flow-v3"
    assert (report["read"], report["created"], report["invalid"]) == (9, 9, 0)
    assert report["vectors_reused"] == 0 and report["embedding_backlog"] == 9
    got = _exported(tmp_path)
    assert sorted(got) == sorted((ns, key) for ns, key, *_ in V3_ROWS)
    for namespace, key, value, tags, created, expires in V3_ROWS:
        record = got[(namespace, key)]
        assert record["value"] == value, key
        assert record["tags"] == tags, key
        assert record["created_at"] == record["updated_at"] == _ms(created), key
        assert record["expires_at"] == _ms(expires), key
        assert record["type"] == "context" and record["access_count"] == 0
        assert record["embedding_model"] is None and record["archived_at"] is None
        assert record["metadata"]["imported_from"]["format"] == "claude-flow-v3"
        assert record["metadata"]["imported_from"]["type"] == "semantic"
    assert got[("coordination", "agent1/status")]["metadata"]["imported_from"]["id"] == (
        "entry_1795237060019_82b6cd7995bb6a80"
    )
    assert (
        orjson.loads(ok(cli("recall", "coordination/agent1/status")).stdout)
        == (VALUES[("coordination", "agent1/status")])
    )
    hits = ok(cli("search", "busy_timeout", "--mode", "keyword")).stdout
    assert "knowledge/errors/locked-db" in hits  # keyword-indexed while vectors are pending


def test_v3_expired_entries_stay_expired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(1795240700))  # 1 h later: the 1 h TTLs have run out
    report = doc(cli("import", str(CF / "v3" / "memory.db"), "--json"))
    assert report["created"] == 9 and report["expired_on_arrival"] == 3
    assert cli("recall", "coordination/agent1/status").exit_code == 1
    listed = doc(cli("list", "--json", "--limit", "0"))
    assert listed["total"] == 6
    assert _exported(tmp_path)[("session", "sess-42")]["expires_at"] == _ms(1795240663302)


def test_v3_archived_and_deleted_rows(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(V3_NOW))
    copy = tmp_path / "memory.db"
    shutil.copy(CF / "v3" / "memory.db", copy)
    con = sqlite3.connect(copy)
    con.execute("UPDATE memory_entries SET status = 'archived' WHERE key = 'db/migrations'")
    con.execute("UPDATE memory_entries SET status = 'deleted' WHERE key = 'readme/tone'")
    con.execute("UPDATE memory_entries SET owner_id = 'coder-1', access_count = 4 "
                "WHERE key = 'auth/jwt'")  # fmt: skip
    con.commit()
    con.close()
    report = doc(cli("import", str(copy), "--json"))
    assert (report["created"], report["archived"]) == (7, 1)
    assert report["left_out"] == {"deleted_in_source": 1}
    db = open_database(db_path, create=False)
    details = orjson.loads(db.scalar("SELECT details FROM lifecycle_log WHERE action = 'imported'"))
    db.close()
    assert details["left_out"] == {"deleted_in_source": 1} and details["archived"] == 1
    got = _exported(tmp_path)
    assert ("default", "readme/tone") not in got
    archived = got[("knowledge", "db/migrations")]
    assert archived["archive_reason"] == "archived in claude-flow"
    assert archived["archived_at"] == _ms(1795237062263)
    jwt = got[("knowledge", "auth/jwt")]
    assert jwt["agent_id"] == "coder-1" and jwt["access_count"] == 4


def test_v3_json_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(V3_NOW))
    report = doc(cli("import", str(CF / "v3" / "export.json"), "--json"))
    assert report["format"] == "claude-flow-v3-json"
    assert (report["read"], report["created"]) == (9, 9)
    got = _exported(tmp_path)
    assert sorted(got) == sorted((ns, key) for ns, key, *_ in V3_EXPORT)
    for namespace, key, created, updated in V3_EXPORT:
        record = got[(namespace, key)]
        assert record["value"] == VALUES[(namespace, key)], key
        assert record["tags"] == []
        assert record["created_at"] == _ms(created) and record["updated_at"] == _ms(updated)
        ttl = POLICY_TTL.get(namespace)
        assert record["expires_at"] == (_ms(updated + ttl * 1000) if ttl else None), key
        assert record["metadata"] == {"imported_from": {"format": "claude-flow-v3-json"}}


def test_v2_memory_store_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(V2_NOW))
    report = doc(cli("import", str(CF / "v2" / "memory-store.json"), "--json"))
    assert report["format"] == "claude-flow-v2" and report["created"] == 5
    got = _exported(tmp_path)
    assert sorted(got) == sorted((ns, key) for ns, key, *_ in V2_ROWS)
    for namespace, key, value, stamp in V2_ROWS:
        record = got[(namespace, key)]
        assert record["value"] == value
        assert record["created_at"] == record["updated_at"] == _ms(stamp)
        ttl = POLICY_TTL.get(namespace)
        assert record["expires_at"] == (_ms(stamp + ttl * 1000) if ttl else None), key
        assert record["tags"] == []
    # v2 export.json (only the default namespace): the same entry, so nothing changes
    report = doc(cli("import", str(CF / "v2" / "export.json"), "--json"))
    assert (report["read"], report["skipped"], report["created"]) == (1, 1, 0)
    fresh = tmp_path / "fresh.db"
    report = doc(cli("import", "--db", str(fresh), str(CF / "v2" / "export.json"), "--json"))
    assert report["created"] == 1
    assert ok(cli("recall", "--db", str(fresh), "default/readme/tone")).stdout == (
        "Keep README examples runnable and short\n"
    )


def test_from_forces_and_checks_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    result = cli("import", str(CF / "v3" / "export.json"), "--from", "claude-flow-v3")
    assert result.exit_code == 2 and "not a SQLite database" in result.stderr
    result = cli("import", str(CF / "v3" / "memory.db"), "--from", "memctl")
    assert result.exit_code == 2 and "is a SQLite database" in result.stderr
    result = cli("import", str(CF / "v2" / "export.json"), "--from", "nope")
    assert result.exit_code == 2 and "--from must be one of" in result.stderr
    report = doc(
        cli("import", str(CF / "v2" / "export.json"), "--from", "claude-flow-v2", "--json")
    )
    assert report["created"] == 1


def test_dry_run_reports_and_changes_nothing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(V3_NOW))
    report = doc(cli("import", str(CF / "v3" / "memory.db"), "--dry-run", "--json"))
    assert report["dry_run"] is True and report["created"] == 9
    assert not db_path.exists()  # a dry run does not even create the database
    ok(cli("import", str(CF / "v2" / "memory-store.json")))
    before = orjson.loads(ok(cli("export")).stdout.splitlines()[1])
    report = doc(
        cli("import", str(CF / "v3" / "memory.db"), "--dry-run", "--on-conflict", "overwrite",
            "--json")
    )  # fmt: skip
    assert (report["created"], report["overwritten"]) == (4, 5)
    assert orjson.loads(ok(cli("export")).stdout.splitlines()[1]) == before
    assert doc(cli("list", "--json"))["total"] == 5
