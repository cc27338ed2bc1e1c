"""Promotion rules (docs/policies.md, FR-6): thresholds, types, idempotence, dry run,
conflicts at the target, tenant scope, the lifecycle log, and the CLI over simulated days."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lifecycle_support import keyword_rows

from memctl.clock import parse_time
from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, Policies, load_policies, parse_policies
from memctl.lifecycle.promote import promote
from memctl.models import Memory
from memctl.store import Database, log, open_database
from memctl.store import memories as sql
from memctl.store import promote as promote_sql
from tests.conftest import cli

DAY = 86400.0
T0 = parse_time("2026-03-01T00:00:00Z")
LATER = T0 + 20 * DAY  # old enough for the 14-day rule


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(db_path, create=True)
    yield database
    database.close()


@pytest.fixture
def policies() -> Policies:
    return load_policies(PACKAGED_POLICIES)


def seed(
    db: Database,
    policies: Policies,
    path: str,
    *,
    importance: float = 9.0,
    accesses: int = 5,
    type: str = "learning",
    tenant: str = "default",
    at: float = T0,
    value: Any = "retry with backoff",
) -> Memory:
    namespace, key = policies.split_path(path)
    request = StoreRequest(
        tenant=tenant,
        namespace=namespace,
        key=key,
        value=value,
        importance=importance,
        type=type,
        tags=["t1"],
        metadata={"source": "test"},
        agent_id="agent-7",
        session_id="s-1",
        extra={"access_count": accesses},
    )
    return store(db, policies, at, request).memory


def get(db: Database, policies: Policies, path: str, tenant: str = "default") -> Memory | None:
    namespace, key = policies.split_path(path)
    return sql.get(db, tenant, namespace, key)


def all_rows(db: Database) -> list[tuple[Any, ...]]:
    rows = db.all("SELECT * FROM memories ORDER BY id")
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("field", "below", "at_threshold"),
    [
        ("importance", {"importance": 7.99}, {"importance": 8.0}),
        ("accesses", {"accesses": 4}, {"accesses": 5}),
        ("age", {"at": LATER - 14 * DAY + 1}, {"at": LATER - 14 * DAY}),
    ],
)
def test_each_threshold_just_below_and_at(
    db: Database,
    policies: Policies,
    field: str,
    below: dict[str, Any],
    at_threshold: dict[str, Any],
) -> None:
    seed(db, policies, "learning/below", **below)
    seed(db, policies, "learning/at", **at_threshold)

    report = promote(db, policies, LATER, "default")

    assert [item.path for item in report.items] == ["learning/at"], field
    assert report.count == 1
    assert get(db, policies, "knowledge/promoted/learning/at") is not None
    assert get(db, policies, "knowledge/promoted/learning/below") is None
    original = get(db, policies, "learning/below")
    assert original is not None and original.promoted_at is None


def test_type_filter(db: Database, policies: Policies) -> None:
    for memory_type in ("learning", "error_pattern", "success_pattern", "context", "episode"):
        seed(db, policies, f"notes/{memory_type}", type=memory_type)

    report = promote(db, policies, LATER, "default")

    assert sorted(item.type for item in report.items) == [
        "error_pattern",
        "learning",
        "success_pattern",
    ]
    assert get(db, policies, "knowledge/promoted/notes/context") is None


def test_empty_type_list_means_any_type(db: Database) -> None:
    policies = parse_policies("promotion: {types: []}\n", "inline.yaml")
    seed(db, policies, "notes/a", type="context")
    seed(db, policies, "notes/b", type="observation")
    assert promote(db, policies, LATER, "default").count == 2


@pytest.mark.usefixtures("backend")
def test_copy_keeps_original_and_marks_it(db: Database, policies: Policies) -> None:
    original = seed(db, policies, "learning/jwt", value={"algo": "RS256", "why": "rotation"})

    report = promote(db, policies, LATER, "default")

    assert report.count == 1 and report.items[0].action == "created"
    kept = get(db, policies, "learning/jwt")
    assert kept is not None
    assert kept.id == original.id
    assert kept.promoted_at == LATER
    assert kept.value == original.value and kept.importance == original.importance
    copy = get(db, policies, "knowledge/promoted/learning/jwt")
    assert copy is not None
    assert copy.id == report.items[0].copy_id
    assert copy.path == "knowledge/promoted/learning/jwt"
    assert copy.value == {"algo": "RS256", "why": "rotation"}
    assert (copy.type, copy.importance, copy.tags) == ("learning", 9.0, ["t1"])
    assert (copy.agent_id, copy.session_id) == ("agent-7", "s-1")
    assert copy.metadata["source"] == "test"
    assert copy.metadata["promoted_from"]["id"] == original.id
    assert copy.metadata["promoted_from"]["path"] == "learning/jwt"
    assert copy.created_at == LATER and copy.promoted_at is None
    assert copy.expires_at is None  # knowledge/* policy: never expires
    assert copy.embedding_model is None  # left to the embedding backlog
    assert keyword_rows(db, copy.id) == 1


def test_second_run_promotes_nothing(db: Database, policies: Policies) -> None:
    seed(db, policies, "learning/a")
    seed(db, policies, "learning/b")
    assert promote(db, policies, LATER, "default").count == 2
    before = all_rows(db)

    again = promote(db, policies, LATER + DAY, "default")

    assert again.count == 0 and again.items == []
    assert all_rows(db) == before
    assert db.scalar("SELECT count(*) FROM memories") == 4


@pytest.mark.usefixtures("backend")
def test_copies_under_the_target_are_never_candidates(db: Database, policies: Policies) -> None:
    seed(db, policies, "knowledge/promoted/manual/entry")  # written there by hand
    seed(db, policies, "knowledge/other")  # knowledge, but not under the target
    report = promote(db, policies, LATER, "default")
    assert [item.path for item in report.items] == ["knowledge/other"]


def test_expired_memories_are_not_promoted(db: Database, policies: Policies) -> None:
    seed(db, policies, "session/s1/insight", at=LATER - 15 * DAY)  # 1-day TTL: expired
    assert promote(db, policies, LATER, "default").count == 0


def test_dry_run_lists_candidates_and_changes_nothing(db: Database, policies: Policies) -> None:
    seed(db, policies, "learning/a")
    seed(db, policies, "learning/b", importance=3)
    before = all_rows(db)
    log_rows = db.scalar("SELECT count(*) FROM lifecycle_log")

    report = promote(db, policies, LATER, "default", dry_run=True)

    assert report.dry_run and report.count == 1
    assert report.items[0].path == "learning/a"
    assert report.items[0].target == "knowledge/promoted/learning/a"
    assert report.items[0].action is None
    assert all_rows(db) == before
    assert db.scalar("SELECT count(*) FROM lifecycle_log") == log_rows


def test_existing_target_path_follows_its_policy(db: Database, policies: Policies) -> None:
    """knowledge/* is multi_value: a value already at the copy's path is kept as a
    conflict value, not overwritten."""
    seed(db, policies, "knowledge/promoted/learning/jwt", value="older note", at=T0)
    seed(db, policies, "learning/jwt", value="use RS256", at=T0)

    report = promote(db, policies, LATER, "default")

    assert report.items[0].action == "merged"
    copy = get(db, policies, "knowledge/promoted/learning/jwt")
    assert copy is not None
    assert copy.value == "use RS256"
    assert [c["value"] for c in copy.conflicts] == ["older note"]


def test_refused_copy_is_skipped_and_not_marked(db: Database) -> None:
    policies = parse_policies(
        "namespaces:\n  - namespace: 'tally/*'\n    conflict_strategy: counter\n"
        "promotion: {target_namespace: tally}\n",
        "inline.yaml",
    )
    seed(db, policies, "notes/text", value="not a number")
    seed(db, policies, "notes/number", value=3)

    report = promote(db, policies, LATER, "default")

    assert [item.path for item in report.items] == ["notes/number"]
    assert [skip["path"] for skip in report.skipped] == ["notes/text"]
    text = get(db, policies, "notes/text")
    assert text is not None and text.promoted_at is None
    assert get(db, policies, "tally/notes/text") is None


def test_tenant_scope(db: Database, policies: Policies) -> None:
    seed(db, policies, "learning/a", tenant="acme")
    seed(db, policies, "learning/a", tenant="globex")

    report = promote(db, policies, LATER, "acme")

    assert [item.tenant for item in report.items] == ["acme"]
    assert get(db, policies, "knowledge/promoted/learning/a", "acme") is not None
    assert get(db, policies, "knowledge/promoted/learning/a", "globex") is None
    everyone = promote(db, policies, LATER, None)
    assert [item.tenant for item in everyone.items] == ["globex"]
    assert get(db, policies, "knowledge/promoted/learning/a", "globex") is not None


def test_run_is_recorded_in_the_lifecycle_log(db: Database, policies: Policies) -> None:
    seed(db, policies, "learning/a")
    report = promote(db, policies, LATER, "default")
    entry = log.recent(db, 1, action="promoted")[0]
    assert entry["count"] == 1 and entry["outcome"] == "ok"
    assert entry["tenant"] == "default" and entry["started_at"] == LATER
    assert entry["duration_ms"] == pytest.approx(report.duration_ms, abs=0.01)
    assert entry["details"]["target_namespace"] == "knowledge/promoted"


def test_failed_run_is_logged_as_error(
    db: Database, policies: Policies, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db, policies, "learning/a")

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("memctl.store.promote.mark_promoted", broken)
    with pytest.raises(RuntimeError):
        promote(db, policies, LATER, "default")
    entry = log.recent(db, 1, action="promoted")[0]
    assert entry["outcome"] == "error" and "disk on fire" in entry["error"]
    # the batch rolled back: no copy, no mark
    assert get(db, policies, "knowledge/promoted/learning/a") is None
    original = get(db, policies, "learning/a")
    assert original is not None and original.promoted_at is None


def test_cli_over_simulated_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", "2026-03-01T00:00:00Z")
    assert cli("store", "errors/oom", "raise the pod limit", "--type", "error_pattern",
               "--importance", "9").exit_code == 0  # fmt: skip
    for _ in range(5):
        assert cli("recall", "errors/oom").exit_code == 0  # 5 accesses

    monkeypatch.setenv("MEMCTL_NOW", "2026-03-14T23:00:00Z")  # 13.96 days: too young
    result = cli("promote", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["count"] == 0

    monkeypatch.setenv("MEMCTL_NOW", "2026-03-15T00:00:00Z")
    dry = cli("promote", "--dry-run", "--json")
    assert dry.exit_code == 0
    planned = json.loads(dry.stdout)
    assert planned["dry_run"] is True and planned["count"] == 1
    assert planned["promoted"][0]["target"] == "knowledge/promoted/errors/oom"
    assert cli("recall", "knowledge/promoted/errors/oom").exit_code == 1  # nothing written

    human = cli("promote")
    assert human.exit_code == 0
    assert "promoted 1 memory into knowledge/promoted/" in human.stdout
    copy = cli("recall", "knowledge/promoted/errors/oom")
    assert copy.exit_code == 0 and copy.stdout == "raise the pod limit\n"
    original = json.loads(cli("recall", "errors/oom", "--full", "--json").stdout)
    assert original["promoted_at"] == "2026-03-15T00:00:00.000Z"

    again = cli("promote", "--json")
    assert json.loads(again.stdout)["count"] == 0


@pytest.mark.usefixtures("backend")
def test_many_candidates_span_several_batches(db: Database, policies: Policies) -> None:
    with db.write():
        for n in range(230):
            seed(db, policies, f"learning/item-{n}")
    report = promote(db, policies, LATER, "default")
    assert report.count == 230
    copies = db.scalar("SELECT count(*) FROM memories WHERE key LIKE 'promoted/learning/%'")
    unmarked = db.scalar("SELECT count(*) FROM memories WHERE namespace = 'learning' "
                         "AND promoted_at IS NULL")  # fmt: skip
    assert (copies, unmarked) == (230, 0)


@pytest.mark.usefixtures("backend")
def test_candidates_are_rechecked_inside_the_write(
    db: Database, policies: Policies, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process promoting (or changing) a memory after the candidate query must
    not lead to a second copy."""
    seed(db, policies, "learning/a")
    seed(db, policies, "learning/b")
    original = promote_sql.candidates

    def racing(*args: Any) -> list[Any]:
        rows = original(*args)
        with db.write():  # "another process" promotes learning/a meanwhile
            db.execute("UPDATE memories SET promoted_at = 1 WHERE key = 'a'")
        return rows

    monkeypatch.setattr(promote_sql, "candidates", racing)
    report = promote(db, policies, LATER, "default")
    assert [item.path for item in report.items] == ["learning/b"]
    assert get(db, policies, "knowledge/promoted/learning/a") is None
