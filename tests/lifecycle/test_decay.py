"""decay: the importance formula, run at several frequencies, overrides, rules, dry run."""

from pathlib import Path

import pytest
from lifecycle_support import DAY, HOUR, T0, doc, open_db, packaged, policies_from, put

from memctl.lifecycle.decay import decay, rate_groups
from memctl.lifecycle.memories import recall
from memctl.store import log
from memctl.store import memories as store
from tests.conftest import cli


def cumulative_loss(idle_days: float, r7: float, r30: float) -> float:
    """Importance lost after ``idle_days`` of idleness (an independent closed form)."""
    if idle_days <= 7:
        return 0.0
    if idle_days <= 30:
        return r7 * (idle_days - 7)
    return r7 * 23 + r30 * (idle_days - 30)


def expected(importance: float, idle_from: float, now: float, r7=0.1, r30=0.2, floor=1.0):
    if importance <= floor:
        return importance
    return max(floor, importance - cumulative_loss((now - idle_from) / DAY, r7, r30))


def importance_of(db, memory_id: int) -> float:
    return store.get_many(db, [memory_id])[memory_id].importance


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("step_hours", [1, 6, 24, 24 * 7, 24 * 60])
def test_any_run_frequency_matches_the_formula(db_path: Path, step_hours: float) -> None:
    policies = packaged()
    db = open_db(db_path)
    ids = {
        "fresh": put(db, policies, T0, "notes/fresh", importance=9),
        "mid": put(db, policies, T0 - 10 * DAY, "notes/mid", importance=6),
        "old": put(db, policies, T0 - 40 * DAY, "notes/old", importance=10),
        "low": put(db, policies, T0 - 50 * DAY, "notes/low", importance=1.5),
    }
    created = {"fresh": T0, "mid": T0 - 10 * DAY, "old": T0 - 40 * DAY, "low": T0 - 50 * DAY}
    start = {"fresh": 9, "mid": 6, "old": 10, "low": 1.5}
    now = T0
    end = T0 + 60 * DAY
    while now < end:
        now = min(end, now + step_hours * HOUR)
        decay(db, policies, now, "default")
    for name, memory_id in ids.items():
        assert importance_of(db, memory_id) == pytest.approx(
            expected(start[name], created[name], end), abs=1e-6
        ), name


def test_partial_windows_across_day_7_and_day_30(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    memory_id = put(db, policies, T0, "notes/a", importance=10)
    for days in (6.5, 7.5, 29.25, 30.75, 31):
        decay(db, policies, T0 + days * DAY, "default")
        assert importance_of(db, memory_id) == pytest.approx(expected(10, T0, T0 + days * DAY))
    memory = store.get_many(db, [memory_id])[memory_id]
    assert memory.last_decay_at == T0 + 31 * DAY


def test_access_resets_the_idle_clock_and_boosts(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    memory_id = put(db, policies, T0, "notes/a", importance=5)
    decay(db, policies, T0 + 20 * DAY, "default")
    assert importance_of(db, memory_id) == pytest.approx(5 - 1.3)
    recall(db, policies, T0 + 20 * DAY, "default", "notes", "a")  # +0.1, idle from now
    assert importance_of(db, memory_id) == pytest.approx(3.8)
    decay(db, policies, T0 + 26 * DAY, "default")  # 6 idle days: nothing
    assert importance_of(db, memory_id) == pytest.approx(3.8)
    decay(db, policies, T0 + 30 * DAY, "default")  # 10 idle days: 3 of them decay
    assert importance_of(db, memory_id) == pytest.approx(3.8 - 0.3)


@pytest.mark.parametrize("step_hours", [1, 24, 24 * 7, 24 * 90])
def test_accesses_between_runs_do_not_change_the_result(db_path: Path, step_hours: float) -> None:
    """recall settles the decay accrued so far before resetting the idle clock."""
    policies = packaged()
    db = open_db(db_path)
    memory_id = put(db, policies, T0, "notes/a", importance=9)
    accesses = [T0 + 15.5 * DAY, T0 + 50.25 * DAY]
    end = T0 + 80 * DAY
    runs = [T0 + n * step_hours * HOUR for n in range(1, int(80 * 24 / step_hours) + 1)]
    for when, kind in sorted(
        [(t, "run") for t in [*runs, end]] + [(t, "access") for t in accesses]
    ):
        if kind == "run":
            decay(db, policies, when, "default")
        else:
            recall(db, policies, when, "default", "notes", "a")
    value, idle_from = 9.0, T0
    for when in accesses:
        value = min(10.0, expected(value, idle_from, when) + 0.1)
        idle_from = when
    assert importance_of(db, memory_id) == pytest.approx(expected(value, idle_from, end), abs=1e-6)


@pytest.mark.usefixtures("backend")
def test_per_memory_override_in_metadata(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    slow = put(
        db,
        policies,
        T0,
        "notes/slow",
        importance=9,
        metadata={"decay": {"idle_7d_per_day": 0.01, "idle_30d_per_day": 0.02}},
    )
    floored = put(db, policies, T0, "notes/floored", importance=9, metadata={"decay": {"floor": 7}})
    junk = put(
        db, policies, T0, "notes/junk", importance=9, metadata={"decay": {"idle_7d_per_day": "x"}}
    )
    other = put(db, policies, T0, "notes/other", importance=9, metadata={"note": "decay"})
    now = T0 + 40 * DAY
    decay(db, policies, now, "default")
    assert importance_of(db, slow) == pytest.approx(expected(9, T0, now, 0.01, 0.02))
    assert importance_of(db, floored) == pytest.approx(7)
    assert importance_of(db, junk) == pytest.approx(expected(9, T0, now))  # ignored: not a number
    assert importance_of(db, other) == pytest.approx(expected(9, T0, now))


RULES = """
version: 1
defaults:
  decay: {idle_7d_per_day: 0.1, idle_30d_per_day: 0.2, floor: 1}
namespaces:
  - namespace: "fast/*"
    decay: {idle_7d_per_day: 0.5, idle_30d_per_day: 1.0, floor: 2}
  - namespace: "notes/keep*"
    decay: {idle_7d_per_day: 0, idle_30d_per_day: 0}
  - namespace: "same/*"
"""


@pytest.mark.usefixtures("backend")
def test_rates_per_rule_including_key_patterns(db_path: Path) -> None:
    policies = policies_from(RULES)
    assert len(rate_groups(policies)) == 3  # same/* shares the defaults' rates
    db = open_db(db_path)
    fast = put(db, policies, T0, "fast/a", importance=10)
    keep = put(db, policies, T0, "notes/keep-this", importance=10)
    plain = put(db, policies, T0, "notes/other", importance=10)
    same = put(db, policies, T0, "same/b", importance=10)
    for day in range(1, 21):
        decay(db, policies, T0 + day * DAY, None)
    now = T0 + 20 * DAY
    assert importance_of(db, fast) == pytest.approx(expected(10, T0, now, 0.5, 1.0, 2))
    assert importance_of(db, keep) == 10
    assert importance_of(db, plain) == pytest.approx(expected(10, T0, now))
    assert importance_of(db, same) == pytest.approx(expected(10, T0, now))


def test_tenant_scope(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    mine = put(db, policies, T0, "notes/a", importance=5)
    theirs = put(db, policies, T0, "notes/a", importance=5, tenant="acme")
    decay(db, policies, T0 + 20 * DAY, "acme")
    assert importance_of(db, mine) == 5
    assert importance_of(db, theirs) < 5
    decay(db, policies, T0 + 20 * DAY, None)
    assert importance_of(db, mine) == importance_of(db, theirs)


@pytest.mark.usefixtures("backend")
def test_cli_dry_run_distribution_then_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMCTL_NOW", str(T0))
    for n, importance in enumerate((9, 9, 5, 1)):
        assert cli("store", f"notes/n{n}", "1", "--importance", str(importance)).exit_code == 0
    monkeypatch.setenv("MEMCTL_NOW", str(T0 + 12 * DAY))  # 5 idle days of 0.1
    dry = doc(cli("decay", "--dry-run", "--json"))
    assert dry["count"] == 3 and dry["buckets"] == {"0.5-1": 3}
    assert dry["total_drop"] == pytest.approx(1.5)
    assert dry["reach_floor"] == 0
    assert [m["importance"] for m in doc(cli("list", "--json", "--sort", "path"))["memories"]] == [
        9,
        9,
        5,
        1,
    ]
    human = cli("decay", "--dry-run")
    assert "0.5-1" in human.stdout and "would decay 3 memories" in human.stdout
    real = doc(cli("decay", "--json"))
    assert real["count"] == 3
    listed = doc(cli("list", "--json", "--sort", "path"))["memories"]
    assert [m["importance"] for m in listed] == [8.5, 8.5, 4.5, 1]
    assert listed[0]["last_decay_at"] is not None and listed[3]["last_decay_at"] is None
    assert doc(cli("decay", "--json"))["count"] == 0  # same instant again: nothing left


def test_logged(db_path: Path) -> None:
    policies = packaged()
    db = open_db(db_path)
    put(db, policies, T0, "notes/a")
    report = decay(db, policies, T0 + 10 * DAY, "default")
    entry = log.recent(db, action="decayed")[0]
    assert entry["count"] == report.count == 1
