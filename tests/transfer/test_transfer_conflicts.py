"""--on-conflict skip | overwrite | merge (merge = the path's policy strategy)."""

from pathlib import Path

import orjson
import pytest

from memctl.store import open_database
from memctl.transfer.records import iso_us
from tests.conftest import cli
from tests.transfer.transfer_testkit import T0, doc, ok, store

HEADER = {"format": "memctl-export", "version": 1}


def _write(path: Path, *records: dict) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in (HEADER, *records)))
    return path


def _rec(path: str, value: object, at: float, **extra: object) -> dict:
    namespace, key = path.split("/", 1)
    return {"namespace": namespace, "key": key, "value": value, "updated_at": iso_us(at), **extra}


@pytest.fixture
def existing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    store("knowledge/auth/jwt", "A", "--agent", "a1")  # multi_value
    store("metrics/task/count", "3")  # counter
    store("notes/x", "old")  # lww
    monkeypatch.setenv("MEMCTL_NOW", str(T0 + 100))


@pytest.fixture
def incoming(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "in.jsonl",
        _rec(
            "knowledge/auth/jwt",
            "B",
            T0 + 10,
            agent_id="a2",
            conflicts=[{"value": "C", "timestamp": T0 + 5, "agent_id": "a3"}],
        ),
        _rec("metrics/task/count", 4, T0 + 10),
        _rec("notes/x", "new but older", T0 - 100),
        _rec("notes/y", "fresh", T0 + 10),
    )


def _value(path: str) -> object:
    return orjson.loads(ok(cli("recall", path, "--json")).stdout)


@pytest.mark.usefixtures("backend")
def test_skip_keeps_existing_memories(existing: None, incoming: Path) -> None:
    report = doc(cli("import", str(incoming), "--json"))  # skip is the default
    assert (report["created"], report["skipped"]) == (1, 3)
    assert _value("knowledge/auth/jwt")["value"] == "A"
    assert _value("metrics/task/count")["value"] == 3
    assert _value("notes/x")["value"] == "old"
    assert _value("notes/y")["value"] == "fresh"


@pytest.mark.usefixtures("backend")
def test_overwrite_replaces_them(existing: None, incoming: Path) -> None:
    report = doc(cli("import", str(incoming), "--on-conflict", "overwrite", "--json"))
    assert (report["created"], report["overwritten"]) == (1, 3)
    jwt = _value("knowledge/auth/jwt")
    assert jwt["value"] == "B" and [c["value"] for c in jwt["conflicts"]] == ["C"]
    assert _value("metrics/task/count")["value"] == 4
    assert _value("notes/x")["value"] == "new but older"
    hits = ok(cli("search", "older", "--mode", "keyword")).stdout
    assert "notes/x" in hits  # the keyword row was replaced with the memory


@pytest.mark.usefixtures("backend")
def test_merge_applies_each_paths_strategy_once(existing: None, incoming: Path) -> None:
    report = doc(cli("import", str(incoming), "--on-conflict", "merge", "--json"))
    assert (report["created"], report["merged"], report["unchanged"]) == (1, 2, 1)
    jwt = _value("knowledge/auth/jwt")
    assert jwt["value"] == "B" and jwt["agent_id"] == "a2"  # newest is primary
    assert [(c["value"], c["agent_id"]) for c in jwt["conflicts"]] == [("C", "a3"), ("A", "a1")]
    assert _value("metrics/task/count")["value"] == 7  # counters add up
    assert _value("notes/x")["value"] == "old"  # lww: the imported write is older
    # the same file again changes nothing: each write is applied once
    report = doc(cli("import", str(incoming), "--on-conflict", "merge", "--json"))
    assert (report["merged"], report["unchanged"], report["created"]) == (0, 4, 0)
    assert _value("metrics/task/count")["value"] == 7
    assert len(_value("knowledge/auth/jwt")["conflicts"]) == 2


@pytest.mark.usefixtures("backend")
def test_expired_memories_on_either_side(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    store("coordination/a/status", "stale", "--ttl", "60")
    store("notes/live", "live")
    monkeypatch.setenv("MEMCTL_NOW", str(T0 + 1000))
    path = _write(
        tmp_path / "in.jsonl",
        _rec("coordination/a/status", "current", T0 + 900, expires_at=iso_us(T0 + 4500)),
        _rec("notes/live", "dead", T0, expires_at=iso_us(T0 + 10)),
    )
    report = doc(cli("import", str(path), "--on-conflict", "overwrite", "--json"))
    assert (report["created"], report["replaced_expired"]) == (1, 1)
    assert report["skipped_expired"] == 1  # an expired record never replaces a live one
    assert _value("coordination/a/status")["value"] == "current"
    assert _value("notes/live")["value"] == "live"
    archived = doc(cli("list", "--archived", "--json"))["memories"]
    assert [(m["path"], m["archive_reason"]) for m in archived] == [
        ("coordination/a/status", "expired")
    ]
    db = open_database(db_path, create=False)
    rows = db.all("SELECT count, details FROM lifecycle_log WHERE action = 'imported'")
    assert len(rows) == 1 and rows[0]["count"] == 1
    assert orjson.loads(rows[0]["details"])["on_conflict"] == "overwrite"
    db.close()


@pytest.mark.usefixtures("backend")
def test_archived_records_are_not_duplicated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    store("notes/gone", "bye")
    ok(cli("delete", "notes/gone"))
    out = tmp_path / "a.jsonl"
    ok(cli("export", "--include-archived", "-o", str(out)))
    report = doc(cli("import", str(out), "--json"))
    assert (report["archived"], report["skipped"]) == (0, 1)
    report = doc(cli("import", str(out), "--on-conflict", "overwrite", "--json"))
    assert report["overwritten"] == 1
    assert doc(cli("list", "--archived", "--json"))["total"] == 1


def test_conflict_times_print_as_iso_and_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """conflicts[].timestamp is ISO 8601 in every output, like every other time; the
    database keeps epoch seconds; exports re-import to the same conflicts."""
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    store("knowledge/db/choice", '"postgres"', "--agent", "a1")
    monkeypatch.setenv("MEMCTL_NOW", str(T0 + 1.25))
    stored = doc(cli("store", "knowledge/db/choice", '"sqlite"', "--json"))
    expected = [{"value": "postgres", "timestamp": "2027-01-15T08:00:00.000Z", "agent_id": "a1"}]
    assert stored["conflicts"] == expected
    assert _value("knowledge/db/choice")["conflicts"] == expected
    db = open_database(Path("memctl.db"), create=False)
    raw = db.one("SELECT conflicts FROM memories")
    db.close()
    assert orjson.loads(raw["conflicts"])[0]["timestamp"] == T0  # storage unchanged
    ok(cli("export", "-o", str(tmp_path / "out.jsonl")))
    exported = orjson.loads((tmp_path / "out.jsonl").read_bytes().splitlines()[1])
    assert exported["conflicts"][0]["timestamp"] == "2027-01-15T08:00:00.000000Z"
    fresh = tmp_path / "fresh.db"
    ok(cli("import", str(tmp_path / "out.jsonl"), "--db", str(fresh)))
    again = orjson.loads(
        ok(cli("recall", "knowledge/db/choice", "--db", str(fresh), "--json")).stdout
    )
    assert again["conflicts"] == expected
    # an export written before (epoch seconds) still imports
    old = _write(
        tmp_path / "old.jsonl",
        _rec("knowledge/x", "B", T0 + 10, conflicts=[{"value": "A", "timestamp": T0}]),
    )
    ok(cli("import", str(old), "--db", str(fresh)))
    got = orjson.loads(ok(cli("recall", "knowledge/x", "--db", str(fresh), "--json")).stdout)
    assert got["conflicts"] == [
        {"value": "A", "timestamp": "2027-01-15T08:00:00.000Z", "agent_id": None}
    ]
