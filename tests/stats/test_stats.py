"""``stats`` figures checked against seeded data, daily snapshots (idempotence, history,
tenant scope) and the CLI, over simulated days (MEMCTL_NOW)."""

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from memctl.clock import parse_time
from memctl.lifecycle import memories as lifecycle
from memctl.lifecycle.expiry import expire
from memctl.lifecycle.memories import StoreRequest, store
from memctl.lifecycle.policies import PACKAGED_POLICIES, Policies, load_policies
from memctl.lifecycle.values import pack, serialize
from memctl.models import Memory
from memctl.stats.figures import collect_stats
from memctl.stats.snapshots import history, snapshot, utc_day
from memctl.store import Database, log, open_database
from memctl.store.backend import backend_of
from tests.conftest import cli, python

DAY = 86400.0
T0 = parse_time("2026-05-10T12:00:00Z")
MODEL = "all-MiniLM-L6-v2/384"
BIG = "lorem ipsum dolor " * 200  # 3.6 kB: compressed (threshold 1 kB)


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(db_path, create=True)
    yield database
    database.close()


@pytest.fixture
def policies() -> Policies:
    return load_policies(PACKAGED_POLICIES)


def put(
    db: Database,
    policies: Policies,
    path: str,
    value: Any,
    *,
    at: float,
    importance: float = 5.0,
    type: str = "context",
    agent: str | None = None,
    tenant: str = "default",
) -> Memory:
    namespace, key = policies.split_path(path)
    request = StoreRequest(
        tenant=tenant,
        namespace=namespace,
        key=key,
        value=value,
        importance=importance,
        type=type,
        agent_id=agent,
    )
    return store(db, policies, at, request).memory


def stored_size(policies: Policies, path: str, value: Any) -> tuple[int, int]:
    """(stored bytes, uncompressed bytes) of a value as the store keeps it."""
    data = serialize(value)
    blob, _ = pack(data, policies.for_path(path))
    return len(blob), len(data)


@pytest.fixture
def seeded(db: Database, policies: Policies) -> dict[str, Memory]:
    """default: 3 active, 1 expired (not moved), 1 archived; other tenant: 2 active."""
    out = {
        "big": put(
            db,
            policies,
            "knowledge/big",
            BIG,
            at=T0 - 100 * DAY,
            importance=9.5,
            type="learning",
            agent="a1",
        ),
        "b": put(db, policies, "notes/b", {"n": 1}, at=T0 - 10 * DAY, agent="a1"),
        "c": put(db, policies, "notes/c", "fresh", at=T0 - DAY / 2, importance=1.0, agent="a2"),
        "tmp": put(db, policies, "coordination/tmp", "lock", at=T0 - 2 * 3600, agent="a2"),
        "gone": put(db, policies, "notes/gone", "old", at=T0 - 3 * DAY, importance=7.2),
    }
    lifecycle.delete(db, policies, T0 - 3600, "default", [out["gone"]], hard=False)
    put(db, policies, "notes/b", "theirs", at=T0 - 40 * DAY, tenant="other", type="episode")
    put(db, policies, "other/x", "y" * 50, at=T0 - 40 * DAY, tenant="other", agent="z")
    return out


@pytest.mark.usefixtures("backend")
def test_totals_by_state_namespace_agent_type(db: Database, seeded: dict[str, Memory]) -> None:
    stats = collect_stats(db, T0, "default", Path("x.db"), "p.yaml", MODEL)

    assert stats.states == {"active": 3, "expired": 1, "archived": 1}
    assert stats.count == 5
    ns = {b.name: (b.active, b.expired, b.archived) for b in stats.by_namespace}
    assert ns == {"knowledge": (1, 0, 0), "notes": (2, 0, 1), "coordination": (0, 1, 0)}
    agents = {b.name: (b.active, b.expired, b.archived) for b in stats.by_agent}
    assert agents == {"a1": (2, 0, 0), "a2": (1, 1, 0), None: (0, 0, 1)}
    types = {b.name: (b.active, b.expired, b.archived) for b in stats.by_type}
    assert types == {"learning": (1, 0, 0), "context": (2, 1, 1)}
    assert stats.by_namespace[0].name == "notes"  # largest first


@pytest.mark.usefixtures("backend")
def test_bytes_and_compression(db: Database, policies: Policies, seeded: dict[str, Memory]) -> None:
    stats = collect_stats(db, T0, "default", Path("x.db"), "p.yaml", MODEL)

    sizes = {
        name: stored_size(policies, seeded[name].path, seeded[name].value)
        for name in ("big", "b", "c", "tmp", "gone")
    }
    live = stats.storage["memories"]
    assert live.count == 4
    assert live.stored_bytes == sum(sizes[n][0] for n in ("big", "b", "c", "tmp"))
    assert live.uncompressed_bytes == sum(sizes[n][1] for n in ("big", "b", "c", "tmp"))
    assert live.compressed_count == 1
    assert sizes["big"][0] < sizes["big"][1] / 10  # the repetitive value really shrank
    assert live.ratio == pytest.approx(live.uncompressed_bytes / live.stored_bytes)
    archived = stats.storage["archive"]
    assert (archived.count, archived.stored_bytes, archived.compressed_count) == (
        1,
        sizes["gone"][0],
        0,
    )
    assert stats.storage["total"].stored_bytes == live.stored_bytes + archived.stored_bytes
    notes = next(b for b in stats.by_namespace if b.name == "notes")
    assert (notes.bytes, notes.archived_bytes) == (sizes["b"][0] + sizes["c"][0], sizes["gone"][0])
    doc = stats.to_dict()["storage"]["memories"]
    assert doc["saved_bytes"] == live.uncompressed_bytes - live.stored_bytes


@pytest.mark.usefixtures("backend")
def test_importance_and_age_distributions(db: Database, seeded: dict[str, Memory]) -> None:
    stats = collect_stats(db, T0, "default", Path("x.db"), "p.yaml", MODEL)

    importance = dict(stats.importance)
    assert list(importance) == [f"{b}-{b + 1}" for b in range(1, 10)]
    assert importance == {**dict.fromkeys(importance, 0), "9-10": 1, "5-6": 1, "1-2": 1}
    assert dict(stats.age) == {"<1d": 1, "1-7d": 0, "7-30d": 1, "30-90d": 0, ">90d": 1}
    # ten days later every active memory is older; the 10.0 edge goes to the last bucket
    later = collect_stats(db, T0 + 10 * DAY, "default", Path("x.db"), "p.yaml", MODEL)
    assert dict(later.age) == {"<1d": 0, "1-7d": 0, "7-30d": 2, "30-90d": 0, ">90d": 1}


@pytest.mark.usefixtures("backend")
def test_importance_edges(db: Database, policies: Policies) -> None:
    for index, importance in enumerate((1.0, 1.99, 2.0, 9.99, 10.0)):
        put(db, policies, f"notes/{index}", index, at=T0, importance=importance)
    stats = collect_stats(db, T0, "default", Path("x.db"), "p.yaml", MODEL)
    importance = dict(stats.importance)
    assert (importance["1-2"], importance["2-3"], importance["9-10"]) == (2, 1, 2)


@pytest.mark.usefixtures("backend")
def test_expiry_and_embedding_backlogs(db: Database, seeded: dict[str, Memory]) -> None:
    stats = collect_stats(db, T0, "default", Path("x.db"), "p.yaml", MODEL)
    assert stats.expiry_backlog == 1
    assert stats.expiry_backlog_by_namespace == {"coordination": 1}
    assert stats.oldest_expiry == seeded["tmp"].expires_at
    assert stats.embedding_backlog == 4  # nothing embedded yet (expired rows included)

    vector = struct.pack("384f", *([0.05] * 384))
    with db.write():
        for name, model in (("big", MODEL), ("b", "other-model/384")):
            memory = seeded[name]
            digest = db.scalar("SELECT content_hash FROM memories WHERE id = ?", (memory.id,))
            backend_of(db).vectors.put(
                db, [(memory.id, "default", memory.namespace, digest, vector)], model
            )
    stats = collect_stats(db, T0, "default", Path("x.db"), "p.yaml", MODEL)
    assert stats.embedding_backlog == 3  # a vector of another model does not count
    off = collect_stats(db, T0, "default", Path("x.db"), "p.yaml", None)
    assert off.embedding_backlog is None

    # past every TTL: the backlog grows; cleanup (here: lazy expiry) empties it
    later = collect_stats(db, T0 + 2 * DAY, "default", Path("x.db"), "p.yaml", MODEL)
    assert later.expiry_backlog == 1


def test_tenant_isolation(db: Database, seeded: dict[str, Memory]) -> None:
    other = collect_stats(db, T0, "other", Path("x.db"), "p.yaml", MODEL)
    assert other.states == {"active": 2, "expired": 0, "archived": 0}
    assert {b.name for b in other.by_namespace} == {"notes", "other"}
    assert {b.name for b in other.by_agent} == {None, "z"}
    everyone = collect_stats(db, T0, None, Path("x.db"), "p.yaml", MODEL)
    assert everyone.states == {"active": 5, "expired": 1, "archived": 1}
    nobody = collect_stats(db, T0, "nobody", Path("x.db"), "p.yaml", MODEL)
    assert nobody.count == 0 and nobody.by_namespace == [] and nobody.storage["total"].count == 0


@pytest.mark.usefixtures("backend")
def test_last_runs_and_failures(db: Database, seeded: dict[str, Memory]) -> None:
    def entry(action: str, at: float, outcome: str = "ok", tenant: str | None = "default") -> None:
        with db.write():
            log.record(
                db,
                action,
                tenant=tenant,
                started_at=at,
                duration_ms=12.5,
                count=3,
                outcome=outcome,
                error=None if outcome == "ok" else "locked",
            )

    entry("decayed", T0 - 3 * DAY)
    entry("decayed", T0 - 2 * DAY, "error")
    entry("decayed", T0 - DAY, "error")
    entry("pruned", T0 - DAY, tenant=None)  # an all-tenant run: every tenant sees it
    entry("pruned", T0, tenant="other")  # another tenant's run: hidden from default

    stats = collect_stats(db, T0, "default", Path("x.db"), "p.yaml", MODEL)
    jobs = {job.action: job for job in stats.jobs}
    decayed = jobs["decayed"]
    assert (decayed.runs, decayed.failures, decayed.failing_since_ok) == (3, 2, 2)
    assert (decayed.outcome, decayed.error, decayed.last_run_at) == ("error", "locked", T0 - DAY)
    assert decayed.last_ok_at == T0 - 3 * DAY
    assert (decayed.duration_ms, decayed.count) == (12.5, 3)
    assert jobs["pruned"].runs == 1 and jobs["pruned"].tenant is None
    assert jobs["archived"].count == 1  # the delete in the seed
    other = {job.action: job for job in collect_stats(db, T0, "other", Path("x"), "p", MODEL).jobs}
    assert other["pruned"].runs == 2 and "archived" not in other


def test_database_and_policies_in_use(db: Database, db_path: Path, seeded: Any) -> None:
    stats = collect_stats(db, T0, "default", db_path, str(PACKAGED_POLICIES), MODEL)
    doc = stats.to_dict()
    assert doc["database"]["path"] == str(db_path)
    assert doc["database"]["exists"] and doc["database"]["size_bytes"] > 0
    assert doc["policies"] == str(PACKAGED_POLICIES)
    assert doc["embedding_backlog"] == {"count": 4, "model": MODEL, "graph_waiting": 0}
    json.dumps(doc)  # serialisable as is


# ---------------------------------------------------------------- snapshots


def snapshot_table(db: Database) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.all("SELECT * FROM snapshots ORDER BY 1, 2, 3, 4")]


@pytest.mark.usefixtures("backend")
def test_snapshot_rows_match_the_day(
    db: Database, policies: Policies, seeded: dict[str, Memory]
) -> None:
    # today: one read, one expiry moved to the archive (reason 'expired')
    lifecycle.recall(db, policies, T0, "default", "notes", "b")
    with db.write():
        expire(db, [seeded["tmp"]], policies, T0)

    report = snapshot(db, T0, "default")

    assert report.day == "2026-05-10" and report.count == len(report.rows) == 5
    rows = {(r.namespace, r.agent_id): r for r in report.rows}
    assert set(rows) == {
        ("knowledge", "a1"),
        ("notes", "a1"),
        ("notes", "a2"),
        ("notes", ""),  # the memory archived today (no agent)
        ("coordination", "a2"),  # the expired one
    }
    k = rows[("knowledge", "a1")]
    assert (k.counts_by_type, k.total, k.avg_importance) == ({"learning": 1}, 1, 9.5)
    assert k.bytes == stored_size(policies, "knowledge/big", BIG)[0]
    assert rows[("notes", "a1")].accesses == 1 and k.accesses == 0
    assert rows[("notes", "a2")].avg_importance == 1.0
    gone = rows[("notes", "")]
    assert (gone.total, gone.archives, gone.expirations, gone.counts_by_type) == (0, 1, 0, {})
    expired = rows[("coordination", "a2")]
    assert (expired.total, expired.expirations, expired.archives) == (0, 1, 0)
    stored = db.one("SELECT * FROM snapshots WHERE namespace = 'knowledge'")
    assert orjson.loads(stored["counts_by_type"]) == {"learning": 1}
    assert stored["day"] == "2026-05-10" and stored["tenant"] == "default"
    entry = log.recent(db, 1, action="snapshot")[0]
    assert entry["count"] == 5 and entry["details"] == {"day": "2026-05-10"}


@pytest.mark.usefixtures("backend")
def test_snapshot_is_idempotent_per_day(
    db: Database, policies: Policies, seeded: dict[str, Memory]
) -> None:
    snapshot(db, T0, "default")
    first = snapshot_table(db)
    snapshot(db, T0 + 60, "default")
    assert snapshot_table(db) == first

    # later the same day: figures change, still one row per tenant/namespace/agent
    put(db, policies, "notes/new", "x", at=T0 + 3600, agent="a1", type="learning")
    again = snapshot(db, T0 + 3600, "default")
    assert len(snapshot_table(db)) == len(first)
    notes = next(r for r in again.rows if (r.namespace, r.agent_id) == ("notes", "a1"))
    assert notes.total == 2 and notes.counts_by_type == {"context": 1, "learning": 1}


def test_snapshot_tenant_scope(db: Database, seeded: dict[str, Memory]) -> None:
    snapshot(db, T0, "other")
    snapshot(db, T0, "default")
    snapshot(db, T0, "default")  # replacing default's rows keeps other's
    tenants = [r[0] for r in db.all("SELECT tenant FROM snapshots")]
    assert tenants.count("other") == 2 and tenants.count("default") == 4
    everyone = snapshot(db, T0, None)
    assert everyone.count == 6 and len(snapshot_table(db)) == 6


@pytest.mark.usefixtures("backend")
def test_history_over_simulated_days(
    db: Database, policies: Policies, seeded: dict[str, Memory]
) -> None:
    for day in range(4):
        snapshot(db, T0 + day * DAY, "default")
    snapshot(db, T0, "other")

    last_two = history(db, "default", 2, T0 + 3 * DAY)
    assert sorted({r.day for r in last_two}, reverse=True) == ["2026-05-13", "2026-05-12"]
    assert last_two[0].day == "2026-05-13"  # newest first
    assert {r.tenant for r in last_two} == {"default"}
    assert len(history(db, "default", 30, T0 + 3 * DAY)) == 4 + 3 * 3  # day 0 has 4 rows
    assert {r.day for r in history(db, "default", 1, None)} == {"2026-05-13"}
    assert history(db, "default", 7, T0 - 10 * DAY) == []
    assert {r.tenant for r in history(db, None, 30, T0 + 3 * DAY)} == {"default", "other"}
    assert utc_day(T0) == ("2026-05-10", parse_time("2026-05-10T00:00:00Z"))


# ---------------------------------------------------------------- CLI


def test_cli_stats_json_and_human(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", "2026-05-10T12:00:00Z")
    cli("store", "notes/a", "one", "--agent", "a1", "--importance", "9")
    cli("store", "coordination/lock", "held", "--agent", "a2")
    cli("store", "notes/b", "theirs", "--tenant", "acme")
    monkeypatch.setenv("MEMCTL_NOW", "2026-05-10T14:00:00Z")  # the lock has expired

    result = cli("stats", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["states"] == {"active": 1, "expired": 1, "archived": 0}
    assert doc["expiry_backlog"]["count"] == 1
    assert doc["embedding_backlog"] == {"count": 2, "model": MODEL, "graph_waiting": 0}
    assert doc["importance_distribution"]["9-10"] == 1
    assert doc["tenant"] == "default"
    everyone = json.loads(cli("stats", "--json", "--all-tenants").stdout)
    assert everyone["tenant"] is None and everyone["count"] == 3

    database = open_database(Path(os.environ["MEMCTL_DB"]), create=False)
    with database.write():
        for _ in range(2):
            log.record(database, "decayed", tenant=None, started_at=T0, duration_ms=1.0,
                       count=0, outcome="error", error="database is locked")  # fmt: skip
    database.close()
    human = cli("stats")
    assert human.exit_code == 0
    assert "decayed failed (2 in a row): database is locked" in human.stdout
    for text in (
        "by namespace",
        "importance",
        "age since creation",
        "expiry backlog",
        "embedding backlog",
        "memctl.db",
        "policies.yaml",
        "█",
    ):
        assert text in human.stdout, text


def test_cli_snapshot_and_history(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", "2026-05-10T12:00:00Z")
    cli("store", "notes/a", "one", "--type", "learning")
    made = cli("stats", "--snapshot", "--json")
    assert made.exit_code == 0
    assert json.loads(made.stdout)["snapshot"]["count"] == 1
    monkeypatch.setenv("MEMCTL_NOW", "2026-05-11T12:00:00Z")
    cli("store", "notes/b", "two")
    assert "recorded 1 snapshot row(s) for 2026-05-11" in cli("stats", "--snapshot").stdout

    shown = json.loads(cli("stats", "--history", "--days", "7", "--json").stdout)["history"]
    assert [(r["day"], r["total"]) for r in shown] == [("2026-05-11", 2), ("2026-05-10", 1)]
    assert shown[0]["counts_by_type"] == {"context": 1, "learning": 1}
    human = cli("stats", "--history")
    assert human.exit_code == 0 and "2026-05-11" in human.stdout and "daily totals" in human.stdout
    assert (
        len(json.loads(cli("stats", "--history", "--days", "1", "--json").stdout)["history"]) == 1
    )
    bad = cli("stats", "--history", "--days", "0")
    assert bad.exit_code == 2


def test_cli_stats_on_a_missing_database_says_so_and_creates_nothing(db_path: Path) -> None:
    result = cli("stats")
    assert result.exit_code == 1
    assert result.stderr == (
        f"memctl stats: error: no memctl database at {db_path} (from MEMCTL_DB); "
        "run `memctl init` to set this project up, or pass --db\n"
    )
    assert not db_path.exists()


def test_stats_process_does_not_load_the_embedding_stack(memctl_env: Path) -> None:
    """stats reports the embedding backlog without importing onnxruntime or numpy."""
    assert cli("store", "a/b", "1").exit_code == 0
    code = (
        "import sys\n"
        "from memctl.cli import main\n"
        "sys.argv = ['memctl', 'stats', '--json']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        "heavy = [m for m in ('onnxruntime', 'numpy', 'tokenizers', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = python("-c", code, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["embedding_backlog"]["model"] == MODEL


@pytest.mark.usefixtures("backend")
def test_daemon_runs_are_listed_per_job(db: Database) -> None:
    def daemon_run(job: str, at: float, outcome: str) -> None:
        with db.write():
            log.record(db, "daemon", tenant=None, started_at=at, duration_ms=5.0, count=2,
                       details={"job": job, "trigger": "schedule"}, outcome=outcome,
                       error=None if outcome == "ok" else "boom")  # fmt: skip

    daemon_run("promote", T0, "ok")
    daemon_run("cleanup", T0, "error")
    daemon_run("cleanup", T0 + 60, "error")
    daemon_run("promote", T0 + 60, "ok")

    jobs = {j.action: j for j in collect_stats(db, T0, "default", Path("x"), "p", MODEL).jobs}
    assert set(jobs) == {"daemon:cleanup", "daemon:promote"}
    cleanup = jobs["daemon:cleanup"]
    assert (cleanup.runs, cleanup.failures, cleanup.failing_since_ok) == (2, 2, 2)
    assert cleanup.last_ok_at is None and cleanup.error == "boom"
    promoted = jobs["daemon:promote"]
    assert (promoted.runs, promoted.failing_since_ok, promoted.last_run_at) == (2, 0, T0 + 60)
