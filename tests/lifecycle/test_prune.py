"""prune: archive retention (important archives kept) and the active-memory rules."""

from pathlib import Path

import pytest
from lifecycle_support import DAY, T0, add_vectors, doc, invariants, open_db, policies_from, put

from memctl.lifecycle.archive import archive, select
from memctl.lifecycle.prune import prune
from memctl.store import log
from memctl.store import memories as store
from tests.conftest import cli

POLICIES = """
version: 1
defaults: {archive_retention_days: 90, keep_archived_importance: 8}
namespaces:
  - {namespace: "short/*", archive_retention_days: 7}
  - {namespace: "episodes/*", min_reward: 0.3}
  - {namespace: "recent/*", max_age_days: 30}
  - {namespace: "capped/*", max_entries: 3}
"""


def archive_path(db, policies, now: float, path: str) -> None:
    memories = select(db, now, "default", path)
    assert archive(db, policies, now, "default", memories).count == 1


@pytest.mark.usefixtures("backend")
def test_retention_purges_old_archives_but_keeps_important(db_path: Path) -> None:
    policies = policies_from(POLICIES)
    db = open_db(db_path)
    put(db, policies, T0, "notes/dull", importance=3)
    put(db, policies, T0, "notes/vital", importance=8)
    put(db, policies, T0, "short/tmp", importance=5)
    put(db, policies, T0, "notes/recent", importance=2)
    add_vectors(db)
    for path in ("notes/dull", "notes/vital", "short/tmp"):
        archive_path(db, policies, T0, path)
    archive_path(db, policies, T0 + 60 * DAY, "notes/recent")

    week = prune(db, policies, T0 + 8 * DAY, "default")  # short/* keeps 7 days only
    assert (week.purged, week.by_namespace) == (1, {"short": {"archived": 0, "purged": 1}})

    assert prune(db, policies, T0 + 89 * DAY, "default").purged == 0
    later = prune(db, policies, T0 + 91 * DAY, "default")
    assert later.purged == 1 and later.kept_important == 1
    left = {m.path for m in store.select(db, store.Filters(tenant="default", archived=True))}
    assert left == {"notes/vital", "notes/recent"}
    invariants(db)

    for year in range(1, 4):  # important archives are never purged
        assert prune(db, policies, T0 + year * 365 * DAY, "default").purged == (
            1 if year == 1 else 0
        )
    left = {m.path for m in store.select(db, store.Filters(tenant="default", archived=True))}
    assert left == {"notes/vital"}
    invariants(db)


@pytest.mark.usefixtures("backend")
def test_active_rules_archive_low_value_memories(db_path: Path) -> None:
    policies = policies_from(POLICIES)
    db = open_db(db_path)
    put(db, policies, T0, "episodes/bad", reward=0.1, type="episode")
    put(db, policies, T0, "episodes/good", reward=0.9, type="episode")
    put(db, policies, T0, "episodes/unrated")
    put(db, policies, T0 - 40 * DAY, "recent/old")
    put(db, policies, T0 - 10 * DAY, "recent/young")
    put(db, policies, T0 - 40 * DAY, "notes/old")  # no max_age in the defaults
    for n, importance in enumerate((5, 9, 2, 7, 2)):
        put(db, policies, T0 - n, f"capped/{n}", importance=importance)
    report = prune(db, policies, T0, "default")
    assert report.by_rule == {"min_reward": 1, "max_age_days": 1, "max_entries": 2}
    reasons = {
        m.path: m.archive_reason
        for m in store.select(db, store.Filters(tenant="default", archived=True))
    }
    # capped/2 and capped/4 have the lowest importance (2): 5 entries, a cap of 3, both go
    assert reasons == {
        "episodes/bad": "pruned",
        "recent/old": "pruned",
        "capped/2": "pruned",
        "capped/4": "pruned",
    }
    assert prune(db, policies, T0, "default").count == 0  # idempotent


@pytest.mark.usefixtures("backend")
def test_max_entries_is_per_tenant_and_namespace(db_path: Path) -> None:
    policies = policies_from(POLICIES)
    db = open_db(db_path)
    for tenant in ("default", "acme"):
        for n in range(5):
            put(db, policies, T0, f"capped/{n}", tenant=tenant, importance=n + 1)
    assert prune(db, policies, T0, "acme").archived == 2
    assert prune(db, policies, T0, None).archived == 2
    kept = store.select(db, store.Filters(tenant=None), sort="path")
    assert sorted((m.tenant, m.key) for m in kept) == sorted(
        (t, str(n)) for t in ("default", "acme") for n in (2, 3, 4)
    )


def test_cli_dry_run_then_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pol = tmp_path / "p.yaml"
    pol.write_text(POLICIES)
    monkeypatch.setenv("MEMCTL_POLICIES", str(pol))
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    assert cli("store", "notes/a", "1", "--importance", "2").exit_code == 0
    assert cli("store", "notes/b", "1", "--importance", "9").exit_code == 0
    assert doc(cli("archive", "notes/*", "--json"))["count"] == 2
    monkeypatch.setenv("MEMCTL_NOW", str(T0 + 100 * DAY))
    dry = doc(cli("prune", "--dry-run", "--json"))
    assert (dry["purged"], dry["kept_important"], dry["dry_run"]) == (1, 1, True)
    assert doc(cli("list", "--archived", "--json"))["count"] == 2
    human = cli("prune")
    assert "purged 1 archived" in human.stdout and "1 kept" in human.stdout
    assert [m["path"] for m in doc(cli("list", "--archived", "--json"))["memories"]] == ["notes/b"]


def test_logged(db_path: Path) -> None:
    policies = policies_from(POLICIES)
    db = open_db(db_path)
    put(db, policies, T0, "short/x")
    archive_path(db, policies, T0, "short/x")
    prune(db, policies, T0 + 30 * DAY, "default")
    entry = log.recent(db, action="pruned")[0]
    assert entry["count"] == 1 and entry["details"]["purged"] == 1
