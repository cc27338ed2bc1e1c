"""cleanup: TTL expiry per strategy through simulated time, on_expire, filters, tenants."""

from pathlib import Path

import pytest
from lifecycle_support import (
    HOUR,
    T0,
    add_vectors,
    doc,
    invariants,
    open_db,
    packaged,
    policies_from,
    put,
)

from memctl.lifecycle.expiry import cleanup
from memctl.lifecycle.policies import NARROW_OVER
from memctl.store import expiry as sql
from memctl.store import log
from memctl.store.rules import namespaces
from tests.conftest import cli

POLICIES = """
version: 1
defaults: {ttl_seconds: 0, cleanup_strategy: scheduled}
namespaces:
  - {namespace: "coordination/*", ttl_seconds: 3600, cleanup_strategy: lazy}
  - {namespace: "swarm/shared/*", ttl_seconds: 86400, cleanup_strategy: scheduled}
  - {namespace: "knowledge/*", ttl_seconds: 7200, cleanup_strategy: manual}
  - {namespace: "scratch/*", ttl_seconds: 600, on_expire: delete}
"""


@pytest.fixture
def pol_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    monkeypatch.setenv("MEMCTL_POLICIES", str(path))
    return path


def at(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(seconds))


def seed(monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, T0)
    for path in (
        "coordination/swarm-1/plan",
        "swarm/shared/status",
        "knowledge/auth/jwt",
        "scratch/tmp",
        "notes/forever",
    ):
        assert cli("store", path, '"x"').exit_code == 0


@pytest.mark.usefixtures("backend")
def test_simulated_day_expires_each_strategy_on_time(
    pol_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(monkeypatch)
    at(monkeypatch, T0 + 300)  # nothing has expired yet
    assert doc(cli("cleanup", "--json"))["count"] == 0

    at(monkeypatch, T0 + 700)  # scratch (10 min) is gone for good: on_expire delete
    report = doc(cli("cleanup", "--json"))
    assert (report["archived"], report["deleted"]) == (0, 1)
    assert report["by_namespace"] == {"scratch": {"archived": 0, "deleted": 1}}

    at(monkeypatch, T0 + 2 * HOUR + 1)  # coordination (1 h, lazy) and knowledge (manual)
    report = doc(cli("cleanup", "--json"))
    assert report["by_namespace"] == {"coordination": {"archived": 1, "deleted": 0}}
    assert report["skipped_manual"] == 1
    forced = doc(cli("cleanup", "--force", "--json"))
    assert forced["by_namespace"] == {"knowledge": {"archived": 1, "deleted": 0}}

    at(monkeypatch, T0 + 25 * HOUR)  # swarm/shared (1 day, scheduled)
    report = doc(cli("cleanup", "--json"))
    assert report["by_namespace"] == {"swarm/shared": {"archived": 1, "deleted": 0}}

    at(monkeypatch, T0 + 400 * 24 * HOUR)  # ttl 0 never expires
    assert doc(cli("cleanup", "--force", "--json"))["count"] == 0
    active = doc(cli("list", "--json"))["memories"]
    assert [m["path"] for m in active] == ["notes/forever"]
    archived = doc(cli("list", "--archived", "--json", "--sort", "path"))["memories"]
    assert [(m["path"], m["archive_reason"]) for m in archived] == [
        ("coordination/swarm-1/plan", "expired"),
        ("knowledge/auth/jwt", "expired"),
        ("swarm/shared/status", "expired"),
    ]


def test_dry_run_reports_and_changes_nothing(
    pol_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(monkeypatch)
    at(monkeypatch, T0 + 3 * HOUR)
    dry = doc(cli("cleanup", "--dry-run", "--json"))
    assert dry["dry_run"] is True
    assert dry["by_namespace"] == {
        "coordination": {"archived": 1, "deleted": 0},
        "scratch": {"archived": 0, "deleted": 1},
    }
    assert doc(cli("list", "--archived", "--json"))["count"] == 0
    assert doc(cli("list", "--expired", "--json"))["count"] == 3
    real = doc(cli("cleanup", "--json"))
    assert real["by_namespace"] == dry["by_namespace"]


@pytest.mark.usefixtures("backend")
def test_namespace_filter_exact_and_glob(pol_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(monkeypatch)
    at(monkeypatch, T0 + 30 * HOUR)
    assert doc(cli("cleanup", "-n", "swarm", "--json"))["count"] == 0  # exact: no such namespace
    assert doc(cli("cleanup", "-n", "swarm*", "--json"))["by_namespace"] == {
        "swarm/shared": {"archived": 1, "deleted": 0}
    }
    assert doc(cli("cleanup", "-n", "coordination", "--json"))["count"] == 1
    assert doc(cli("cleanup", "-n", "swarm[*", "--json"))["count"] == 0  # '[' is literal
    bad = cli("cleanup", "-n", "a\tb*", "--json")
    assert bad.exit_code == 2


def test_human_output_has_table_and_counts(pol_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(monkeypatch)
    at(monkeypatch, T0 + 3 * HOUR)
    result = cli("cleanup")
    assert result.exit_code == 0
    assert "coordination" in result.stdout and "scratch" in result.stdout
    assert "moved 2 memories out (1 archived, 1 deleted)" in result.stdout
    assert "use --force" in result.stderr


@pytest.mark.usefixtures("backend")
def test_tenants_are_isolated(pol_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(monkeypatch)
    assert cli("store", "coordination/x/y", "1", "--tenant", "acme").exit_code == 0
    at(monkeypatch, T0 + 3 * HOUR)
    assert doc(cli("cleanup", "--tenant", "acme", "--json"))["count"] == 1
    assert doc(cli("list", "--expired", "--json"))["count"] == 3  # default tenant untouched
    assert doc(cli("cleanup", "--all-tenants", "--json"))["count"] == 2


def test_logged_with_counts(db_path: Path) -> None:
    policies = policies_from(POLICIES)
    db = open_db(db_path)
    put(db, policies, T0, "coordination/a/b")
    put(db, policies, T0, "scratch/c")
    report = cleanup(db, policies, T0 + 3 * HOUR, "default")
    assert report.count == 2 and report.duration_ms > 0
    entry = log.recent(db, action="expired")[0]
    assert entry["count"] == 2
    assert entry["details"]["by_namespace"]["scratch"] == {"archived": 0, "deleted": 1}
    assert report.to_dict()["by_namespace"] == entry["details"]["by_namespace"]


@pytest.mark.usefixtures("backend")
def test_refreshed_memory_is_not_moved(db_path: Path) -> None:
    """A memory rewritten after cleanup read its candidates stays active."""
    policies = policies_from(POLICIES)
    db = open_db(db_path)
    first = put(db, policies, T0, "coordination/a/b")
    put(db, policies, T0 + 2 * HOUR, "coordination/a/b", value="new")  # lazy-expires + new
    with db.write():
        assert sql.still_expired(db, [first], T0 + 2 * HOUR) == []
    report = cleanup(db, policies, T0 + 2 * HOUR + 60, "default")
    assert report.count == 0


@pytest.mark.usefixtures("backend")
def test_vectors_follow_to_the_archive_and_batches_are_bounded(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMCTL_LIFECYCLE_BATCH", "500")
    policies = packaged()
    db = open_db(db_path)
    for n in range(1200):  # more than two write batches
        put(db, policies, T0, f"coordination/s/{n}")
    for n in range(30):
        put(db, policies, T0, f"notes/{n}")
    add_vectors(db)
    report = cleanup(db, policies, T0 + 2 * HOUR, None)
    assert report.archived == 1200
    counts = invariants(db)
    assert counts == {"active": 30, "archived": 1200, "vectors": 1230}


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    "path",
    [
        "coordination/x",
        "coordination/a/b/c",
        "coordinationx/y",
        "swarm/shared/q",
        "swarm/sharedq",
        "knowledge/auth/jwt",
        "metrics/hits",
        "notes/a*b",
        "Coordination/x",
        "session/ünïcode/キー",
    ],
)
def test_rule_in_sql_equals_policies_for_path(db_path: Path, path: str) -> None:
    policies = packaged()
    db = open_db(db_path)
    put(db, policies, T0, path, value=1, ttl_seconds=1)
    rows = sql.expired_rows(db, "default", T0 + 10, None, policies.patterns())
    assert len(rows) == 1
    rule = rows[0][2]
    expected = policies.for_path(path)
    got = policies.rules[rule] if rule < len(policies.rules) else policies.defaults
    assert got == expected


def test_many_rules_are_narrowed_to_reachable_ones_and_match_the_same(db_path: Path) -> None:
    """Beyond NARROW_OVER rules, rules no stored namespace can reach are left out of the
    SQL; the rule of every row is still the one ``for_path`` picks (first match wins)."""
    rules = [f"team{i}/*" for i in range(200)]
    rules[150:150] = ["*/late", "team1*", "team12/sub/*", "tea*/x"]
    text = "namespaces:\n" + "".join(f"  - namespace: '{p}'\n    ttl_seconds: 1\n" for p in rules)
    policies = policies_from(text)
    assert len(policies.rules) > NARROW_OVER
    db = open_db(db_path)
    paths = ["team12/sub/a", "team12/x", "team199/late", "team7/late", "other/late", "tea/x"]
    for path in paths:
        put(db, policies, T0, path, value=1, ttl_seconds=1)
    with db.read():
        patterns = policies.patterns(lambda: namespaces(db, "default"))
        rows = sql.expired_rows(db, "default", T0 + 10, None, patterns)
    kept = [p for p in patterns if p is not None]
    assert 0 < len(kept) < 20  # team1*, team7/*, team12/*, team199/*, */late, tea*/x ...
    assert len(rows) == len(paths)
    for (_, _, rule), path in zip(sorted(rows), paths, strict=True):
        assert policies.by_index(rule) == policies.for_path(path), path
    report = cleanup(db, policies, T0 + 10, "default")  # the job itself, end to end
    assert report.count == len(paths)
