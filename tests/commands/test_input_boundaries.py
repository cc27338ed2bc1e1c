"""Input boundaries: numbers out of range, glob metacharacters, empty path segments, long
keys and YAML tags are refused with exit 2 and one line (changing nothing), or accepted;
and no accepted write can make a later ``list``/``export``/``recall --full`` of the
tenant fail (the "poison" check). Property tests (Hypothesis) call the CLI in-process
through one prebuilt click command; a few cases run as real processes.
"""

import json
import os
from pathlib import Path
from typing import Any

import click.testing
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memctl.errors import BadInput
from memctl.lifecycle.globs import check_glob, glob_match
from memctl.lifecycle.policies import parse_policies
from memctl.store import dialect as sqlite_dialect
from memctl.store.columns import sqlite_glob
from memctl.store.db import DRIVER, connect
from memctl.store.rules import rule_case
from tests.conftest import COMMAND, run

T0 = 1_800_000_000
_RUNNER = click.testing.CliRunner()

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# the numbers the adversarial run used, and their neighbours at the edges of the ranges
EDGE_NUMBERS = [
    "inf",
    "-inf",
    "nan",
    "NaN",
    "1e309",
    "-1e309",
    "1e20",
    "-1e20",
    "99999999999999999999",
    "99999999999999999999999",
    "-1e12",
    "1e-320",
    "-0",
    "0",
    "1",
    "10",
    "253402300799",
    "253402300800",
    "-1",
]
numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
)


def mem(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Any:
    return _RUNNER.invoke(COMMAND, list(args), env=env, input=input, catch_exceptions=False)


def one_line_error(result: Any, *expected: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def rows(db_path: Path) -> list[tuple[Any, ...]]:
    """Every memory, archived or not, to show that a refused write changed nothing."""
    if not db_path.exists():
        return []
    # memctl's own driver: a second SQLite library in this process (the stdlib's, when
    # memctl uses sqlean) would share the file's POSIX locks and misread the WAL
    db = connect(db_path)
    try:
        return [
            tuple(row)
            for table in ("memories", "archive")
            for row in db.all(f"SELECT * FROM {table} ORDER BY id")
        ]
    finally:
        db.close()


def tenant_still_readable(tmp: Path, *paths: str, tenant: str = "default") -> None:
    """The poison check: list, export, stats and recall --full of the tenant all work
    (recall: of ``paths`` and of the memories written last)."""
    listed = mem("list", "--json", "--limit", "3", "--include-expired", "--tenant", tenant)
    assert listed.exit_code == 0, listed.stderr
    paths += tuple(m["path"] for m in orjson.loads(listed.stdout)["memories"])
    for args in (
        ("list", "--json", "--limit", "0"),
        ("list", "--archived", "--json", "--limit", "0"),
        ("list", "--limit", "0"),
        ("export", "-o", str(tmp / "backup.jsonl"), "--include-archived", "--include-expired"),
        ("stats", "--json"),
    ):
        result = mem(*args, "--tenant", tenant)
        assert result.exit_code == 0, (args, result.stderr)
    for path in paths:
        result = mem("recall", "--full", "--include-expired", "--tenant", tenant, "--", path)
        assert result.exit_code == 0, (path, result.stderr)


# ---------------------------------------------------------------- the reported cases


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--ttl", "inf"), {}),
        (("--ttl", "1e309"), {}),
        (("--ttl", "99999999999999999999"), {}),
        (("--timestamp", "1e20"), {}),
        (("--timestamp", "-1e12"), {}),
        (("--timestamp", "inf"), {}),
        (("--timestamp", "nan"), {}),
        (("--timestamp", "0001-01-01T00:00:00"), {}),
        ((), {"MEMCTL_NOW": "inf"}),
        ((), {"MEMCTL_NOW": "-inf"}),
        ((), {"MEMCTL_NOW": "nan"}),
        ((), {"MEMCTL_NOW": "1e20"}),
    ],
)
def test_out_of_range_times_are_refused_and_nothing_is_stored(
    args: tuple[str, ...], env: dict[str, str], db_path: Path, tmp_path: Path
) -> None:
    assert mem("store", "notes/good", "1").exit_code == 0
    before = rows(db_path)
    result = mem("store", "notes/bad", "1", *args, env=env)
    one_line_error(result, "is out of range (allowed: ")
    assert "1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z" in result.stderr or (
        "0 to 253402300799 seconds" in result.stderr
    )
    assert rows(db_path) == before
    tenant_still_readable(tmp_path, "notes/good")


def test_a_ttl_past_year_9999_expires_at_the_end_of_the_range(tmp_path: Path) -> None:
    result = mem("store", "notes/far", "1", "--ttl", "418000w", "--json")  # ~8000 years
    assert result.exit_code == 0, result.stderr
    assert orjson.loads(result.stdout)["expires_at"] == "9999-12-31T23:59:59.000Z"
    limit = mem("store", "notes/edge", "1", "--ttl", "253402300799", "--json")
    assert orjson.loads(limit.stdout)["expires_at"] == "9999-12-31T23:59:59.000Z"
    tenant_still_readable(tmp_path, "notes/far", "notes/edge")


def test_numbers_of_other_options_name_their_range(db_path: Path) -> None:
    mem("store", "notes/x", "1")
    for args, expected in (
        (("store", "notes/y", "1", "--importance", "nan"), "allowed: 1 to 10"),
        (("store", "notes/y", "1", "--reward", "inf"), "allowed: 0 to 1"),
        (("list", "--limit", "99999999999999999999"), "allowed: whole numbers 0 to"),
        (("search", "x", "--limit", "0"), "allowed: whole numbers 1 to"),
        (("search", "x", "--min-score", "nan"), "allowed: 0 to 1"),
        (("archive", "--older-than", "inf"), "0 to 253402300799 seconds"),
        (("archive", "--below-importance", "nan"), "allowed: 1 to 10"),
        (("restore", "notes/x", "--ttl", "1e400"), "0 to 253402300799 seconds"),
        (("export", "--since", "1e20"), "1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"),
        (("export", "--since", "99999999999w"), "0 to 253402300799 seconds"),
        (("stats", "--days", "0"), "allowed: whole numbers 1 to"),
        (("daemon", "--once", "--interval-hours", "inf"), "a year (8760)"),
        (("reindex", "--limit", "-1"), "allowed: whole numbers 0 to"),
    ):
        one_line_error(mem(*args), expected)


@pytest.mark.parametrize("limit", ["1001", "9223372036854775807", "99999999999999999999"])
def test_search_limit_has_the_one_results_range(db_path: Path, limit: str) -> None:
    # 2**63 - 1 reached SQLite as a LIMIT and ended in exit 3 (OverflowError); the
    # command line and the wire now share limits.RESULTS
    mem("store", "notes/x", "hello")
    for mode in ("keyword", "hybrid"):
        one_line_error(
            mem("search", "hello", "-k", limit, "--mode", mode), "allowed: whole numbers 1 to 1000"
        )
    assert mem("search", "hello", "-k", "1000", "--mode", "keyword").exit_code == 0


@pytest.mark.parametrize("value", ["inf", "nan", "1e20", "abc", "-5", "99999999999999999999"])
def test_numeric_environment_variables_are_checked(value: str) -> None:
    mem("store", "notes/x", "1")
    one_line_error(
        mem("list", env={"MEMCTL_BUSY_TIMEOUT_MS": value}), "MEMCTL_BUSY_TIMEOUT_MS", "a day"
    )
    one_line_error(
        mem("cleanup", env={"MEMCTL_LIFECYCLE_BATCH": value}), "MEMCTL_LIFECYCLE_BATCH", "rows"
    )


def test_counter_overflow_is_refused() -> None:
    assert mem("store", "metrics/big/count", "1e308").exit_code == 0
    one_line_error(mem("store", "metrics/big/count", "1e308"), "overflows a number")
    assert orjson.loads(mem("recall", "metrics/big/count", "--json").stdout)["value"] == 1e308


def test_stats_history_over_a_huge_span_works() -> None:
    mem("store", "notes/x", "1", env={"MEMCTL_NOW": str(T0)})
    mem("stats", "--snapshot", env={"MEMCTL_NOW": str(T0)})
    result = mem(
        "stats", "--history", "--days", "99999999999", "--json", env={"MEMCTL_NOW": str(T0)}
    )
    assert result.exit_code == 0, result.stderr
    assert len(orjson.loads(result.stdout)["history"]) == 1


def test_rows_written_by_older_versions_with_bad_times_still_list_and_export(
    db_path: Path, tmp_path: Path
) -> None:
    """Refused on input now, but a database may already hold such rows: they must not
    stop a backup (times show clamped to the range)."""
    assert mem("store", "notes/old", "1").exit_code == 0
    db = connect(db_path)
    db.execute("UPDATE memories SET expires_at = 1e20, created_at = -1e12, accessed_at = 1e300")
    db.close()
    tenant_still_readable(tmp_path, "notes/old")
    shown = orjson.loads(mem("recall", "notes/old", "--json").stdout)
    assert shown["created_at"] == "1970-01-01T00:00:00.000Z"
    assert shown["expires_at"] == "9999-12-31T23:59:59.000Z"


BAD_POLICIES = "version: 1\ndefaults:\n  ttl_seconds: 60\n  conflict_strategy: newest\n"


@pytest.mark.parametrize(
    "args",
    [
        ("store", "notes/a", "1"),
        ("recall", "notes/a"),
        ("list",),
        ("list", "--archived"),
        ("delete", "notes/a"),
        ("search", "anything"),
        ("reindex",),
        ("cleanup",),
        ("decay",),
        ("prune",),
        ("archive", "notes/a"),
        ("restore", "notes/a"),
        ("compact",),
        ("compact", "--force"),
        ("promote",),
        ("stats",),
        ("stats", "--history"),
        ("export", "-o", "out.jsonl"),
        ("import", "in.jsonl"),
        ("daemon", "--once"),
        ("policies", "show"),
        ("policies", "explain", "notes/a"),
        ("hooks", "install", "--print"),
        ("model", "prepare"),
    ],
)
def test_every_command_refuses_a_bad_policies_file_the_same_way(
    args: tuple[str, ...], tmp_path: Path, db_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_POLICIES)
    (tmp_path / "in.jsonl").write_text('{"format": "memctl-export", "version": 1}\n')
    result = mem(*args, "--policies", str(bad))
    one_line_error(result, f"{bad}:4: defaults.conflict_strategy: 'newest' is not one of")
    assert not db_path.exists() and not (tmp_path / "out.jsonl").exists()


def test_glob_metacharacters_other_than_star_are_literal(tmp_path: Path) -> None:
    for path in ("g/[x]", "g/x", "g/?", "g/a", "g/[ab]c", "g/{a,b}"):
        assert mem("store", path, "1").exit_code == 0
    found = {
        pattern: sorted(
            m["path"] for m in orjson.loads(mem("list", pattern, "--json").stdout)["memories"]
        )
        for pattern in ("g/[x]", "g/?", "g/[ab]*", "g/{a,b}", "g/[*", "g/?*")
    }
    assert found == {
        "g/[x]": ["g/[x]"],
        "g/?": ["g/?"],
        "g/[ab]*": ["g/[ab]c"],
        "g/{a,b}": ["g/{a,b}"],
        "g/[*": ["g/[ab]c", "g/[x]"],
        "g/?*": ["g/?"],
    }
    assert orjson.loads(mem("delete", "g/[*", "--json").stdout)["count"] == 2
    assert orjson.loads(mem("restore", "g/[*", "--json").stdout)["count"] == 2
    assert mem("recall", "g/[x]").exit_code == 0
    tenant_still_readable(tmp_path, "g/[x]", "g/?")


def test_policy_rules_with_brackets_match_the_same_in_python_and_sql(tmp_path: Path) -> None:
    policies = tmp_path / "p.yaml"
    policies.write_text(
        "namespaces:\n"
        "  - namespace: 'tmp/[x]*'\n    ttl_seconds: 60\n    cleanup_strategy: scheduled\n"
        "  - namespace: 'tmp/?'\n    ttl_seconds: 60\n    on_expire: delete\n"
    )
    env = {"MEMCTL_NOW": str(T0), "MEMCTL_POLICIES": str(policies)}
    for path in ("tmp/[x]1", "tmp/x1", "tmp/?", "tmp/a"):
        assert mem("store", path, "1", env=env).exit_code == 0
    later = {**env, "MEMCTL_NOW": str(T0 + 120)}
    report = orjson.loads(mem("cleanup", "--json", env=later).stdout)
    assert (report["archived"], report["deleted"]) == (1, 1)
    left = orjson.loads(mem("list", "--json", "--include-expired", env=later).stdout)
    assert sorted(m["path"] for m in left["memories"]) == ["tmp/a", "tmp/x1"]


# ---------------------------------------------------------------- properties


@PROPERTY
@given(
    option=st.sampled_from(["--ttl", "--timestamp", "--importance", "--reward"]),
    value=numbers,
)
def test_store_numbers_are_refused_or_harmless(
    option: str, value: str, db_path: Path, tmp_path: Path
) -> None:
    before = rows(db_path)
    result = mem("store", "notes/n", "1", f"{option}={value}", env={"MEMCTL_NOW": str(T0)})
    if result.exit_code == 0:
        tenant_still_readable(tmp_path, "notes/n")
    else:
        one_line_error(result)
        assert rows(db_path) == before


@PROPERTY
@given(
    now=st.one_of(
        numbers,
        st.sampled_from(["0001-01-01", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z"]),
    ),
    command=st.sampled_from(
        [
            ("store", "notes/t", "1"),
            ("recall", "notes/t"),
            ("list",),
            ("cleanup",),
            ("decay",),
            ("prune",),
            ("promote",),
            ("archive", "notes/*"),
            ("restore", "notes/*"),
            ("stats", "--snapshot"),
            ("stats", "--history"),
            ("export", "-o", "x.jsonl"),
        ]
    ),
)
def test_the_clock_is_refused_or_harmless(
    now: str, command: tuple[str, ...], db_path: Path, tmp_path: Path
) -> None:
    result = mem(*command, env={"MEMCTL_NOW": now})
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr)
    if result.exit_code == 2:
        one_line_error(result)
    mem("store", "notes/t", "1")  # a write at the real time, then the poison check
    tenant_still_readable(tmp_path, "notes/t")


path_text = st.one_of(
    st.text(alphabet="ab/[]?{}-._ \\", min_size=0, max_size=12),
    st.integers(min_value=1015, max_value=1030).map(lambda n: "k/" + "x" * n),
)


@settings(PROPERTY, max_examples=30)
@given(path=path_text)
def test_paths_are_kept_as_given_or_refused(path: str, db_path: Path, tmp_path: Path) -> None:
    before = rows(db_path)
    result = mem("store", "--json", "--", path, "1")
    if result.exit_code != 0:
        one_line_error(result)
        assert rows(db_path) == before
        return
    stored = orjson.loads(result.stdout)["path"]
    assert stored == (path if "/" in path else f"default/{path}")  # never another path
    assert orjson.loads(mem("recall", "--json", "--", path).stdout)["value"] == 1
    assert orjson.loads(mem("list", "--json", "--", stored).stdout)["count"] == 1
    tenant_still_readable(tmp_path, path)


glob_text = st.text(alphabet="ab/[]?*", min_size=1, max_size=8)


@settings(max_examples=300, deadline=None, database=None)
@given(pattern=glob_text, text=st.text(alphabet="ab/[]?*", max_size=8))
def test_sqlite_glob_means_what_a_memctl_glob_means(pattern: str, text: str) -> None:
    if check_glob(pattern):  # refused before any query (control characters)
        return
    conn = DRIVER.connect(":memory:")
    in_sql = bool(conn.execute("SELECT ? GLOB ?", (text, sqlite_glob(pattern))).fetchone()[0])
    assert in_sql == glob_match(pattern, text)


@settings(max_examples=100, deadline=None, database=None)
@given(
    patterns=st.lists(
        st.text(alphabet="ab[]?*", min_size=1, max_size=4).map(lambda p: f"n/{p}"),
        min_size=1,
        max_size=4,
    ),
    key=st.text(alphabet="ab[]?", max_size=5),
)
def test_policy_rules_agree_in_python_and_sql(patterns: list[str], key: str) -> None:
    text = "namespaces:\n" + "".join(f"  - namespace: '{p}'\n" for p in patterns)
    policies = parse_policies(text, "p.yaml")
    case, params = rule_case([rule.pattern or "" for rule in policies.rules], sqlite_dialect)
    conn = DRIVER.connect(":memory:")
    in_sql = conn.execute(
        f"SELECT {case} FROM (SELECT 'n' AS namespace, :key AS key)", {**params, "key": key}
    ).fetchone()[0]
    rule = policies.for_path(f"n/{key}")
    assert in_sql == (len(patterns) if rule.rule_index is None else rule.rule_index)


POLICY_FIELDS = [
    ("defaults", "ttl_seconds"),
    ("defaults", "archive_retention_days"),
    ("defaults", "keep_archived_importance"),
    ("defaults", "max_age_days"),
    ("defaults", "min_reward"),
    ("defaults", "max_entries"),
    ("defaults", "compression_threshold_bytes"),
    ("decay", "floor"),
    ("decay", "idle_7d_per_day"),
    ("decay", "access_boost"),
    ("promotion", "min_importance"),
    ("promotion", "min_access_count"),
    ("promotion", "min_age_days"),
    ("version", ""),
]
yaml_values = st.one_of(
    st.sampled_from(
        [
            ".inf",
            "-.inf",
            ".nan",
            "1e400",
            "99999999999999999999999",
            "-1",
            "0",
            "1e20",
            "!!python/object/apply:os.system ['echo poisoned > poisoned']",
            "!!python/name:os.system",
            "!!int nope",
            "!!float 1e999",
            "!custom 3",
            "[1, 2]",
            "{a: 1}",
        ]
    ),
    numbers,
)


def _policy_text(section: str, field: str, value: str) -> str:
    if section == "version":
        return f"version: {value}\n"
    if section == "decay":
        return f"defaults:\n  decay:\n    {field}: {value}\n"
    return f"{section}:\n  {field}: {value}\n"


@PROPERTY
@given(place=st.sampled_from(POLICY_FIELDS), value=yaml_values)
def test_policy_numbers_and_tags_are_refused_by_line_or_harmless(
    place: tuple[str, str], value: str, tmp_path: Path
) -> None:
    text = _policy_text(*place, value)
    policy_file = tmp_path / "policies.yaml"
    policy_file.write_text(text)
    try:
        parse_policies(text, str(policy_file))
    except BadInput as exc:
        assert str(exc).startswith(f"{policy_file}:"), exc
        assert "\n" not in str(exc)
        one_line_error(mem("list", "--policies", str(policy_file)), f"{policy_file}:")
        return
    finally:
        assert not (tmp_path / "poisoned").exists()
    env = {"MEMCTL_POLICIES": str(policy_file), "MEMCTL_NOW": str(T0)}
    assert mem("store", "notes/p", "1", env=env).exit_code == 0
    for job in ("cleanup", "decay", "prune", "promote"):
        assert mem(job, env={**env, "MEMCTL_NOW": str(T0 + 86400 * 400)}).exit_code == 0
    tenant_still_readable(tmp_path)


IMPORT_FIELDS = [
    "created_at",
    "updated_at",
    "accessed_at",
    "expires_at",
    "last_decay_at",
    "promoted_at",
    "importance",
    "reward",
    "access_count",
]
json_numbers = st.one_of(
    st.sampled_from([1e20, -1e12, 1e308, -1e308, 2**63, 2**64, -1, 0, 253402300800, 1e-300]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-07-20T20:17:00Z"]),
)


@PROPERTY
@given(field=st.sampled_from(IMPORT_FIELDS), value=json_numbers)
def test_import_numbers_are_refused_or_harmless(
    field: str, value: Any, db_path: Path, tmp_path: Path
) -> None:
    record = {"namespace": "notes", "key": "imported", "value": 1, field: value}
    source = tmp_path / "in.jsonl"
    # the standard json module writes integers of any size (orjson stops at 64 bits)
    source.write_text(json.dumps({"format": "memctl-export", "version": 1}) + "\n")
    with source.open("a") as out:
        out.write(json.dumps(record) + "\n")
    before = rows(db_path)
    result = mem("import", str(source), "--on-conflict", "overwrite", env={"MEMCTL_NOW": str(T0)})
    if result.exit_code != 0:
        one_line_error(result)
        assert rows(db_path) == before
        return
    tenant_still_readable(tmp_path)


# ---------------------------------------------------------------- real processes


def test_real_processes_refuse_bad_numbers_and_keep_the_tenant_readable(
    tmp_path: Path,
) -> None:
    assert run("store", "notes/good", "1").returncode == 0
    for args, env in (
        (("store", "notes/bad", "1", "--ttl", "inf"), {}),
        (("store", "notes/bad", "1", "--timestamp", "nan"), {}),
        (("store", "a/", "1"), {}),
        (("list",), {"MEMCTL_NOW": "nan"}),
        (("list",), {"MEMCTL_BUSY_TIMEOUT_MS": "inf"}),  # was a traceback at import
    ):
        proc = run(*args, env={**os.environ, **env})
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "internal error" not in proc.stderr
    assert run("store", "g/[x]", "1").returncode == 0
    listed = run("list", "g/[x]", "--json")
    assert listed.returncode == 0 and orjson.loads(listed.stdout)["count"] == 1
    assert run("export", "-o", str(tmp_path / "b.jsonl")).returncode == 0
